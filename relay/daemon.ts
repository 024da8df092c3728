/**
 * The relay daemon: wires the IO-free RelayEngine to one UDP socket and, as an exit, to a
 * TUN with forwarding and NAT. `start()` resolves once the socket is bound and the exit
 * network is up; `stop()` releases everything (TUN, nft table, ip_forward) and is idempotent.
 */
import type { Logger } from 'pino';
import { type MetricsServer, startMetricsServer } from '../common/metrics-server.js';
import { type Clock, SystemClock } from '../common/clock.js';
import type { Tun } from '../tun/tun.js';
import { cidrHost, type Endpoint, formatCidr, formatEndpoint } from './addr.js';
import type { RelayConfig } from './config.js';
import { RelayEngine } from './engine.js';
import { buildExitPolicy } from './exit-config.js';
import { type ExitNetwork, setUpExitNetwork } from './exit-net.js';
import { type RelayKeyPair, toHex } from './keys.js';
import type { CommandRunner } from './system.js';
import { createRelayMetrics, type RelayMetrics } from './metrics.js';
import { ObservingRegistry } from './observing-registry.js';
import type { UdpTransport } from './udp.js';
import { openBindTransport } from '../conn/index.js';
import { openWsListener, type WsListener } from './ws-listener.js';
import { readFileSync } from 'node:fs';
import { RelayPayments } from './payments/service.js';
import { receiptsFileFor } from './payments/receipt-store.js';
import { readKeyFile as readChainKeyFile } from '../chain/node/keys.js';
import { RelayDiscovery, type RelayDiscoveryInfo } from '../discovery/relay-service.js';

export interface RelayDaemonDeps {
  log: Logger;
  clock?: Clock;
  openTun(opts: { name: string; mtu: number }): Tun;
  run?: CommandRunner;
  /** Called after the daemon stopped itself because of a fatal error (e.g. the exit TUN vanished). */
  onFatal?(err: Error): void;
}

export interface RelayListening {
  event: 'listening';
  listen: string;
  publicKey: string;
  exit: boolean;
  tun?: string;
  pool?: string;
  address?: string;
  mtu?: number;
  dns?: string;
  recvBufferBytes: number;
  sendBufferBytes: number;
  /** Prometheus scrape URL, with --metrics. */
  metrics?: string;
  /** WebSocket listener URL, with --ws-listen. */
  ws?: string;
  /** Paid relaying (--chain-rpc): the address claims are paid to, the chain, the price (base units per GiB). */
  payments?: { address: string; chainId: string; pricePerGiB: string };
  /** Discovery (--p2p-listen): the libp2p peer id and the multiaddrs others bootstrap from. */
  discovery?: RelayDiscoveryInfo & { country: string; udp: string };
  pid: number;
}

export class DiscoveryConfigError extends Error {
  override readonly name = 'ConfigError';
}

export class RelayDaemon {
  private engine: RelayEngine | undefined;
  private udp: UdpTransport | undefined;
  private ws: WsListener | undefined;
  private exitNet: ExitNetwork | undefined;
  private stopping: Promise<void> | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private tunWriteDrops = 0;
  private metrics: RelayMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  private payments: RelayPayments | undefined;
  private discovery: RelayDiscovery | undefined;
  private discoveryInfo: RelayListening['discovery'];

  constructor(
    private readonly cfg: RelayConfig,
    private readonly key: RelayKeyPair,
    private readonly deps: RelayDaemonDeps,
  ) {}

  async start(): Promise<RelayListening> {
    const log = this.deps.log;
    const clock = this.deps.clock ?? new SystemClock();
    let engineRef: RelayEngine | undefined;
    // Configuration problems first, before any side effect.
    const policy = this.cfg.exit ? buildExitPolicy(this.cfg.exit, [cidrHost(this.cfg.exit.pool, 1)]) : undefined;
    try {
      this.udp = await openBindTransport({
        host: this.cfg.listen.host,
        port: this.cfg.listen.port,
        log,
        onDatagram: (packet: Buffer, from: Endpoint) => engineRef?.onDatagram(packet, from),
        // One engine call (and one exit TUN write) per socket wake-up; TOPVPN_UDP_BATCH=0 (diagnostics) goes packet by packet.
        ...(process.env['TOPVPN_UDP_BATCH'] === '0' ? {} : { onBatch: (packets: Buffer[], from: Endpoint[]) => engineRef?.onDatagrams(packets, from) }),
      });
      const udp = this.udp;
      if (this.cfg.ws) {
        const w = this.cfg.ws;
        this.ws = await openWsListener({
          host: w.listen.host,
          port: w.listen.port,
          ...(w.certFile && w.keyFile ? { cert: readFileSync(w.certFile), key: readFileSync(w.keyFile) } : {}),
          log,
          onPacket: (packet, from) => engineRef?.onDatagram(packet, from),
        });
      }
      const ws = this.ws;
      if (this.cfg.exit) {
        this.exitNet = setUpExitNetwork(this.cfg.exit, { openTun: this.deps.openTun, log, ...(this.deps.run ? { run: this.deps.run } : {}) });
      }
      const exitNet = this.exitNet;
      const exitCfg = this.cfg.exit;
      if (this.cfg.payments) {
        const p = this.cfg.payments;
        const nodeKey = readChainKeyFile(p.nodeKeyFile);
        this.payments = await RelayPayments.start({
          rpcUrl: p.rpcUrl,
          relaySeed: Buffer.from(nodeKey.seedHex, 'hex'),
          pricePerGiB: p.pricePerGiB,
          receiptsFile: receiptsFileFor(p.nodeKeyFile),
          ...(p.claimFee !== undefined ? { fee: p.claimFee } : {}),
          log,
          clock,
          onClaims: (r) => this.metrics?.observeClaimTick(r),
        });
      }
      const payments = this.payments;
      this.engine = new RelayEngine({
        ...(payments ? { hooks: payments.hooks } : {}),
        onHandshakeTiming: (kind, seconds) => this.metrics?.handshakeSeconds.observe({ kind }, seconds),
        clock,
        log,
        identity: { staticSecret: this.key.secretKey, staticPublic: this.key.publicKey },
        // WebSocket peers (clients) get their packets over their socket; everyone else over UDP.
        send: (to: Endpoint, packet: Buffer) => {
          if (ws?.send(to, packet)) return;
          udp.send(to, packet);
        },
        ...(exitNet && exitCfg && policy
          ? {
              exit: {
                write: (packets: Buffer[]) => {
                  this.tunWriteDrops += packets.length - exitNet.tun.write(packets);
                },
                policy,
                pool: formatCidr(exitCfg.pool),
                ...(exitCfg.dns ? { dns: exitCfg.dns } : {}),
              },
            }
          : {}),
      });
      engineRef = this.engine;
      const engine = this.engine;
      payments?.hooks.attach(engine);
      if (exitNet) {
        exitNet.tun.onError((err) => {
          log.error({ err: err.message }, 'exit tun failed; stopping');
          this.metrics?.error('tun');
          void this.stop().then(() => this.deps.onFatal?.(err));
        });
        exitNet.tun.onPackets((packets) => engine.onTunPackets(packets));
      }
      engine.start();
      if (this.cfg.metrics) {
        // Counters follow the engine's cumulative stats, synced on every scrape.
        const registry = new ObservingRegistry(() => {
          this.metrics?.observeEngine(engine.stats());
          const resume = engine.resumeStats();
          if (resume) this.metrics?.observeResume(resume);
          this.metrics?.peers.set(this.discovery?.peers() ?? 0);
          if (payments) {
            this.metrics?.observeEarnings(payments.earnings());
            this.metrics?.observeReceiptOutcomes(payments.hooks.stats().receipts);
          }
        });
        this.metrics = createRelayMetrics(registry, { exit: this.cfg.exit !== undefined, ...(this.cfg.region ? { region: this.cfg.region } : {}) });
        this.metricsServer = await startMetricsServer({ host: this.cfg.metrics.host, port: this.cfg.metrics.port, registry });
      }
      if (this.cfg.discovery && this.cfg.payments) {
        const dc = this.cfg.discovery;
        const bound = this.udp.local;
        const udpEp = dc.advertise ?? bound;
        if (udpEp.host === '0.0.0.0') throw new DiscoveryConfigError('--p2p-listen with --listen 0.0.0.0:PORT needs --advertise HOST:PORT (the address clients dial)');
        const udpText = formatEndpoint(udpEp);
        const started = await RelayDiscovery.start({
          chainRpc: this.cfg.payments.rpcUrl,
          nodeKey: readChainKeyFile(this.cfg.payments.nodeKeyFile),
          onionKey: toHex(this.key.publicKey),
          udp: udpText,
          ...(this.ws && !this.ws.url.includes('://0.0.0.0') ? { ws: this.ws.url } : {}),
          pricePerGiB: this.cfg.payments.pricePerGiB,
          country: dc.country,
          bandwidthBps: dc.bandwidthBps,
          exitPolicy: policy ? policy.toLines() : [],
          ...(dc.operator !== undefined ? { operator: dc.operator } : {}),
          family: dc.family,
          listen: dc.listen,
          ...(dc.announce ? { announce: dc.announce } : {}),
          bootstrap: dc.bootstrap,
          ...(dc.peerKeyFile !== undefined ? { peerKeyFile: dc.peerKeyFile } : {}),
          lifetimeMs: dc.lifetimeMs,
          refreshMs: dc.refreshMs,
          log,
        });
        this.discovery = started.discovery;
        this.discoveryInfo = { ...started.info, country: dc.country, udp: udpText };
      }
      if (this.cfg.statsIntervalSec > 0) {
        this.statsTimer = setInterval(() => log.info(this.stats(), 'relay stats'), this.cfg.statsIntervalSec * 1000);
        this.statsTimer.unref();
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    const out: RelayListening = {
      event: 'listening',
      listen: formatEndpoint(this.udp.local),
      publicKey: toHex(this.key.publicKey),
      exit: this.exitNet !== undefined,
      recvBufferBytes: this.udp.recvBufferBytes,
      sendBufferBytes: this.udp.sendBufferBytes,
      pid: process.pid,
    };
    if (this.metricsServer) out.metrics = this.metricsServer.url;
    if (this.ws) out.ws = this.ws.url;
    if (this.discoveryInfo) out.discovery = this.discoveryInfo;
    if (this.payments && this.cfg.payments) out.payments = { address: this.payments.address, chainId: this.payments.port.o.chainId, pricePerGiB: this.cfg.payments.pricePerGiB.toString() };
    if (this.exitNet && this.cfg.exit) {
      out.tun = this.exitNet.tun.name;
      out.pool = formatCidr(this.cfg.exit.pool);
      out.address = this.exitNet.address;
      out.mtu = this.exitNet.mtu;
      if (this.cfg.exit.dns) out.dns = this.cfg.exit.dns;
    }
    log.info({ ...out, event: undefined }, 'relay listening');
    return out;
  }

  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = { engine: this.engine?.stats(), udp: this.udp?.stats(), tunWriteDrops: this.tunWriteDrops };
    if (this.ws) out.ws = this.ws.stats();
    if (this.payments) out.payments = paymentSummary(this.payments);
    if (this.discovery) out.discovery = { peers: this.discovery.peers(), knownRelays: this.discovery.knownRelays(), published: this.discovery.published() };
    return out;
  }

  /** Stops the engine, closes the socket, tears the exit network down. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.statsTimer) clearInterval(this.statsTimer);
      await this.discovery?.stop();
      try {
        this.engine?.stop();
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message }, 'engine stop failed');
      }
      this.exitNet?.teardown();
      await this.udp?.close();
      await this.ws?.close();
      if (this.payments) {
        // Shutdown claims: every receipt worth claiming goes on chain before the process ends.
        try {
          await this.payments.stop();
          this.deps.log.info(paymentSummary(this.payments), 'payments stopped');
        } catch (err) {
          this.deps.log.error({ err: (err as Error).message }, 'payments stop failed');
        }
      }
      await this.metricsServer?.close();
    })();
    return this.stopping;
  }

  /** The payment service of a paid relay (control socket: claim, earnings); undefined when unpaid or stopped. */
  get paymentService(): RelayPayments | undefined {
    return this.payments;
  }

  /** Synchronous best-effort release for process 'exit' / fatal-error paths. */
  emergencyTeardown(): void {
    this.exitNet?.teardown();
  }
}

/** Earnings and claim figures of a paid relay for logs (amounts as decimal strings). */
export function paymentSummary(p: RelayPayments): Record<string, unknown> {
  const e = p.earnings();
  const st = p.stats();
  return {
    address: p.address,
    receipts: st.hooks.receipts,
    bound: st.hooks.bound,
    claimsConfirmed: st.claims.confirmed,
    servedBytes: e.totalBytes.served.toString(),
    receiptedBytes: e.totalBytes.receipted.toString(),
    claimedBytes: e.totalBytes.claimed.toString(),
    receiptedAmount: e.total.receipted.toString(),
    claimedAmount: e.total.claimed.toString(),
    burned: e.total.burned.toString(),
    fees: e.total.fees.toString(),
    net: e.total.net.toString(),
  };
}
