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
  pid: number;
}

export class RelayDaemon {
  private engine: RelayEngine | undefined;
  private udp: UdpTransport | undefined;
  private exitNet: ExitNetwork | undefined;
  private stopping: Promise<void> | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private tunWriteDrops = 0;
  private metrics: RelayMetrics | undefined;
  private metricsServer: MetricsServer | undefined;

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
      });
      const udp = this.udp;
      if (this.cfg.exit) {
        this.exitNet = setUpExitNetwork(this.cfg.exit, { openTun: this.deps.openTun, log, ...(this.deps.run ? { run: this.deps.run } : {}) });
      }
      const exitNet = this.exitNet;
      const exitCfg = this.cfg.exit;
      this.engine = new RelayEngine({
        clock,
        log,
        identity: { staticSecret: this.key.secretKey, staticPublic: this.key.publicKey },
        send: (to: Endpoint, packet: Buffer) => udp.send(to, packet),
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
        const registry = new ObservingRegistry(() => this.metrics?.observeEngine(engine.stats()));
        this.metrics = createRelayMetrics(registry, { exit: this.cfg.exit !== undefined, ...(this.cfg.region ? { region: this.cfg.region } : {}) });
        this.metricsServer = await startMetricsServer({ host: this.cfg.metrics.host, port: this.cfg.metrics.port, registry });
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
    return { engine: this.engine?.stats(), udp: this.udp?.stats(), tunWriteDrops: this.tunWriteDrops };
  }

  /** Stops the engine, closes the socket, tears the exit network down. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.statsTimer) clearInterval(this.statsTimer);
      try {
        this.engine?.stop();
      } catch (err) {
        this.deps.log.error({ err: (err as Error).message }, 'engine stop failed');
      }
      this.exitNet?.teardown();
      await this.udp?.close();
      await this.metricsServer?.close();
    })();
    return this.stopping;
  }

  /** Synchronous best-effort release for process 'exit' / fatal-error paths. */
  emergencyTeardown(): void {
    this.exitNet?.teardown();
  }
}
