/**
 * The client daemon: TUN + one UDP socket + Circuit, then routes and DNS, then the control
 * socket for `status` / `disconnect`.
 *
 * Contracts:
 * - `connect()` resolves with the "up" event once traffic flows; on failure it has already
 *   undone everything it did (routes, DNS, TUN, socket) and rejects.
 * - `disconnect()` restores routes and DNS, closes the circuit, TUN and socket; idempotent;
 *   `done` resolves after it (and the control socket is closed).
 * - `emergencyCleanup()` is synchronous (for process 'exit' and fatal-error handlers).
 * - A kill switch is removed only by an asked-for disconnect; when the tunnel fails on its
 *   own or the process dies, it stays (fail closed) until `resetClientState` / next connect.
 *   On paid circuits it admits TCP to the chain RPC endpoint (and nothing else of that host),
 *   so channels can be closed, and opened for a re-path, while the tunnel is down.
 * - Paid --reconnect: a dead middle is swapped for a spare with a standby channel (no chain
 *   round trip); any other dead hop gets a RelaySource candidate and a channel opened on the
 *   spot (`replacePaid`); the replaced hop's channel is closed once the circuit is back.
 * - A previous run killed with -9 left state under `stateDir`: connect() undoes it first.
 */
import type { Logger } from 'pino';
import { type MetricsServer, startMetricsServer } from '../common/metrics-server.js';
import { type Clock, SystemClock } from '../common/clock.js';
import type { Tun } from '../tun/tun.js';
import { type Endpoint, formatEndpoint } from '../relay/addr.js';
import { innerMtu } from '../relay/exit-net.js';
import { toHex } from '../relay/keys.js';
import { ObservingRegistry } from '../relay/observing-registry.js';
import { type CommandRunner, runCommand } from '../relay/system.js';
import type { UdpTransport } from '../relay/udp.js';
import { openBindTransport } from '../conn/index.js';
import { Circuit, CircuitBuildError, DEFAULT_LIVENESS } from './circuit.js';
import { DeadRelays, hopRole, relayKey, repairPath, repath, type RelaySource } from './circuit-repath.js';
import type { ResumeToken } from './circuit.js';
import { openWsTransport, WS_INNER_MTU } from './ws-transport.js';
import { type ClientMetrics, createClientMetrics } from './metrics.js';
import { ControlError, ControlServer, probe } from './control.js';
import { checkSafeTarget, DnsManager } from './dns.js';
import { applyKillSwitch, removeKillSwitch } from './killswitch.js';
import { ListRelaySource, type RelaySpec } from './relay-list.js';
import { RouteManager } from './routes.js';
import type { ClientPayments } from './payments/client-payments.js';
import type { HopQuote } from './payments/channels.js';
import type { HopChannel, OverclaimReport, PaymentSession } from './payments/session.js';
import { standbyQuotes, StandbyChannels } from './payments/standby.js';
import { rpcEndpoint } from './payments/rpc-endpoint.js';

export class ConnectAbortedError extends Error {
  override readonly name = 'ConnectAbortedError';
}

export interface ClientDaemonOptions {
  path: RelaySpec[];
  tunName: string;
  controlPath: string;
  stateDir: string;
  /** 'auto': the exit's announced resolver (if any); 'off': leave DNS alone; else these servers. */
  dns: 'auto' | 'off' | string[];
  resolvConf: string;
  /** The resolv.conf path was named explicitly (--resolv-conf): skip the host-resolver guard. */
  resolvConfExplicit: boolean;
  /** Drop all traffic outside the tunnel while connected, and after a crash (fail closed). */
  killSwitch?: boolean;
  /** Rebuild the circuit when it goes down instead of exiting (routes and DNS stay; traffic is dropped meanwhile). */
  reconnect?: boolean;
  /** Reach the entry over this WebSocket (client/ws-transport.ts) instead of UDP; the inner MTU drops to WS_INNER_MTU. */
  ws?: { url: string; ca?: Buffer };
  /** With `reconnect`: relays that may replace a hop that stopped answering (client/circuit-repath.ts). */
  spares?: RelaySpec[];
  /**
   * With `reconnect`: where replacements for a dead entry, middle or exit come from (paid: only
   * candidates with a chain address and price are used); default: the path and `spares` as a
   * ListRelaySource; discovery passes a DiscoveryRelaySource. A dead relay is avoided for
   * `deadRelayCooldownMs` (default DEAD_RELAY_COOLDOWN_MS).
   */
  relaySource?: RelaySource;
  deadRelayCooldownMs?: number;
  /** With `killSwitch`: LAN networks (CIDRs) still reachable outside the tunnel, ARP included. */
  lan?: string[];
  /** Serve Prometheus metrics (client/metrics.ts) at http://HOST:PORT/metrics. */
  metrics?: Endpoint;
  /**
   * Paid circuits: channels are opened (or reused) per hop before the build, a PaymentSession
   * binds them after it, IP flows through the session, and disconnect signs the last receipts
   * and closes the channels (`quotes`: each path relay's chain address and price, entry first).
   */
  payments?: { pay: ClientPayments; quotes: HopQuote[] };
  log: Logger;
  clock?: Clock;
  openTun(opts: { name: string; mtu: number }): Tun;
  run?: CommandRunner;
  onEvent?(e: ClientEvent): void;
}

export type ClientEvent =
  | ({ event: 'progress' } & Record<string, unknown>)
  | UpEvent
  | { event: 'reconnecting'; reason: string; attempt: number; deadHop?: number; path?: string[]; replaced?: { hop: number; role: string; from: string; to: string } }
  | { event: 'reconnected'; address: string; buildMs: number; reconnects: number; resumed: boolean; entry: string }
  | { event: 'down'; reason: string; killSwitchKept: boolean }
  | { event: 'channels'; hops: Array<{ channelId: string; relay: string; deposit: string }> }
  | { event: 'settled'; closeTxs: string[]; channels: SettledChannel[]; replaced?: Array<{ channelId: string; relay: string; promised: string }>; error?: string };

/** A paid hop at disconnect: what we promised in the last receipt and what we measured. */
export interface SettledChannel {
  channelId: string;
  relay: string;
  deposit: string;
  promised: string;
  measuredBytes: string;
  signed: number;
}

export interface UpEvent {
  event: 'up';
  address: string;
  prefixLen: number;
  hops: number;
  buildMs: number;
  mtu: number;
  tun: string;
  dns: string[];
  killSwitch: boolean;
  /** 'def1': 0/1 + 128/1 via the TUN; 'exclude-entry': the 32-prefix complement of the entry. */
  routes: 'def1' | 'exclude-entry';
  entry: string;
  control: string;
  /** Prometheus scrape URL, with --metrics. */
  metrics?: string;
}

export interface ClientStatus {
  state: 'building' | 'up' | 'reconnecting' | 'closing' | 'down';
  reconnects: number;
  path: Array<{ endpoint: string; publicKey: string }>;
  hops: number;
  tun: string;
  mtu: number;
  address?: string;
  dns: string[];
  buildMs?: number;
  uptimeMs: number;
  /** From the tunnel into the TUN (downloaded) and from the TUN into the tunnel (uploaded). */
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Bytes per second over the last few seconds. */
  rateInBps: number;
  rateOutBps: number;
  drops: { tunWrite: number; udpSend: number };
  udp: { datagramsIn: number; datagramsOut: number; bytesIn: number; bytesOut: number };
  circuit?: unknown;
  /** Paid circuits: the PaymentSession's stats (amounts and byte counts as decimal strings). */
  payments?: unknown;
}

interface Sample {
  t: number;
  bytesIn: number;
  bytesOut: number;
}

const RATE_WINDOW_SAMPLES = 5;
/** How long disconnect waits for the hops to acknowledge the last receipts. */
const SETTLE_WAIT_MS = 2_000;

/** A copy of `v` with every bigint as a decimal string (for JSON). */
function jsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
}

export class ClientDaemon {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly run: CommandRunner;
  private readonly routes: RouteManager;
  private readonly dnsMgr: DnsManager;
  private readonly control: ControlServer;
  private readonly mtu: number;
  private tun: Tun | undefined;
  private udp: UdpTransport | undefined;
  private circuit: Circuit | undefined;
  private session: PaymentSession | undefined;
  private payHops: HopChannel[] | undefined;
  /** Per channel of `paySeenFor`: receipts signed and amount promised already counted in metrics. */
  private paySeen = new Map<string, { signed: number; amount: bigint }>();
  private paySeenFor: PaymentSession | undefined;
  private state: ClientStatus['state'] = 'building';
  private up: UpEvent | undefined;
  private upAt = 0;
  private counters = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, tunWriteDrops: 0 };
  private samples: Sample[] = [];
  private sampler: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private dnsServers: string[] = [];
  private killSwitchOn = false;
  private routeMode: 'def1' | 'exclude-entry' | undefined;
  private reconnects = 0;
  /** Paid --reconnect: channels opened with spares at connect (client/payments/standby.ts). */
  private standby: StandbyChannels | undefined;
  /** The current circuit's relays (a dead middle may be swapped on reconnect). */
  private path: RelaySpec[];
  private readonly deadRelays = new Set<string>();
  /** Unpaid --reconnect: relays that stopped answering, avoided for a cool-down. */
  private readonly avoid: DeadRelays;
  private readonly source: RelaySource;
  /** The latest resumption token of the current exit (client/circuit.ts ResumeToken). */
  private resume: { exit: string; token: ResumeToken } | undefined;
  private address: string | undefined;
  private prefixLen = 32;
  private retryTimer: NodeJS.Timeout | undefined;
  private metrics: ClientMetrics | undefined;
  private metricsServer: MetricsServer | undefined;
  /** Paid: the chain RPC endpoint the kill switch admits, and how it was reached before the tunnel (for a direct route while it is down). */
  private rpc: { endpoint: Endpoint; arpPeers: string[]; route?: { gateway?: string; dev?: string; type?: string } } | undefined;
  /** Paid: channels of hops replaced by a re-path (closed once the circuit is back, and at disconnect). */
  private retired: HopChannel[] = [];
  private retiredPending = false;
  /** Set when the tunnel went down on its own (not asked to): the CLI exits 1. */
  failure: string | undefined;

  constructor(private readonly opts: ClientDaemonOptions) {
    this.log = opts.log;
    this.clock = opts.clock ?? new SystemClock();
    this.run = opts.run ?? runCommand;
    this.mtu = opts.ws ? Math.min(WS_INNER_MTU, innerMtu(opts.path.length)) : innerMtu(opts.path.length);
    this.path = [...opts.path];
    this.avoid = new DeadRelays(opts.deadRelayCooldownMs);
    // List order with the exit last (ListRelaySource counts the last relay as an exit).
    this.source = opts.relaySource ?? new ListRelaySource([...opts.path.slice(0, -1), ...(opts.spares ?? []), opts.path[opts.path.length - 1]!]);
    this.routes = new RouteManager({ stateDir: opts.stateDir, log: opts.log, run: this.run });
    this.dnsMgr = new DnsManager({ resolvConf: opts.resolvConf, stateDir: opts.stateDir, log: opts.log });
    this.control = new ControlServer(opts.controlPath, { status: () => this.status(), disconnect: () => this.disconnect('control') }, opts.log);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Inner MTU of this circuit: 1500 − 28 − LAYER_OVERHEAD × hops. */
  get tunMtu(): number {
    return this.mtu;
  }

  async connect(): Promise<UpEvent> {
    const { opts, log } = this;
    const entry = opts.path[0]!;
    const emit = (e: ClientEvent): void => opts.onEvent?.(e);
    try {
      // Explicit --dns: refuse up front if the resolver file is the host's. 'auto': checked
      // only if the exit announces a resolver (then skipped with a warning, not fatal).
      if (Array.isArray(opts.dns)) checkSafeTarget(opts.resolvConf, opts.resolvConfExplicit);
      // Fails if a live client owns this control socket (and so this state directory).
      await this.control.listen();
    } catch (err) {
      // Nothing was set up (and the state directory may be another client's): touch nothing.
      this.state = 'down';
      this.closing = Promise.resolve();
      this.resolveDone();
      throw err;
    }
    try {
      this.checkAborted();
      // Undo what a crashed run left behind, before touching anything.
      this.dnsMgr.recoverStale();
      this.routes.recoverStale();
      if (!opts.killSwitch && removeStaleKillSwitch(this.run)) log.warn('removed a kill switch left by an earlier run');
      if (opts.metrics) {
        // Circuit counters are synced from Circuit.stats() on every scrape.
        const registry = new ObservingRegistry(() => {
          if (this.circuit) this.metrics?.observeCircuit(this.circuit.stats());
          if (this.session) this.observePayments(this.session);
        });
        this.metrics = createClientMetrics(registry);
        this.metricsServer = await startMetricsServer({ host: opts.metrics.host, port: opts.metrics.port, registry });
        this.checkAborted();
      }
      const tun = opts.openTun({ name: opts.tunName, mtu: this.mtu });
      this.tun = tun;
      this.udp = opts.ws
        ? await openWsTransport({ url: opts.ws.url, entry: entry.endpoint, ...(opts.ws.ca ? { ca: opts.ws.ca } : {}), log, onDatagram: (p, from) => this.circuit?.onDatagram(p, from) })
        : await openBindTransport({
        host: '0.0.0.0',
        port: 0,
        log,
        onDatagram: (p, from) => this.circuit?.onDatagram(p, from),
        // One circuit call (and one TUN write) per socket wake-up; TOPVPN_UDP_BATCH=0 (diagnostics) goes packet by packet.
        ...(process.env['TOPVPN_UDP_BATCH'] === '0' ? {} : { onBatch: (ps: Buffer[], from: Endpoint[]) => this.circuit?.onDatagrams(ps, from) }),
      });
      const udp = this.udp;
      this.checkAborted();
      this.routes.checkEntry(entry.endpoint.host, tun.name);
      if (opts.payments && (opts.killSwitch || opts.reconnect)) await this.resolveRpc(opts.payments.pay.chain.o.url);
      if (opts.payments) {
        emit({ event: 'progress', step: 'channels', hops: opts.payments.quotes.length });
        // With --reconnect, standby channels with spares too (client/payments/standby.ts).
        const spareQuotes = opts.reconnect ? standbyQuotes(opts.spares ?? []) : [];
        const prepared = await opts.payments.pay.prepare([...opts.payments.quotes, ...spareQuotes]);
        this.payHops = prepared.slice(0, opts.payments.quotes.length);
        if (spareQuotes.length > 0) this.standby = new StandbyChannels(prepared.slice(opts.payments.quotes.length));
        emit({ event: 'channels', hops: this.payHops.map((h) => ({ channelId: h.channelId, relay: h.relay ?? '', deposit: h.deposit.toString() })) });
        this.checkAborted();
      }
      const circuit = new Circuit(
        { clock: this.clock, log, send: (to, packet) => udp.send(to, packet), options: { liveness: DEFAULT_LIVENESS } },
        opts.path.map((r) => ({ endpoint: r.endpoint, staticPublic: r.publicKey })),
      );
      this.circuit = circuit;
      emit({ event: 'progress', step: 'building', hops: opts.path.length, entry: formatEndpoint(entry.endpoint) });
      const built = await circuit.build((p: unknown) => emit({ event: 'progress', ...(typeof p === 'object' && p !== null ? (p as Record<string, unknown>) : { detail: p }) }));
      this.checkAborted();
      if (opts.payments && this.payHops) {
        this.session = opts.payments.pay.session(circuit, this.payHops, { clock: this.clock, log, onOverclaim: (r) => this.overclaimed(r) });
        await this.session.bind();
        emit({ event: 'progress', step: 'paid', hops: this.payHops.length });
        this.checkAborted();
      }
      this.metrics?.circuitBuilt(built.buildMs / 1000);
      // Configure the TUN with the exit's assignment.
      this.run(['ip', 'addr', 'add', `${built.ipv4}/${built.prefixLen}`, 'dev', tun.name]);
      try {
        this.run(['sysctl', '-q', '-w', `net.ipv6.conf.${tun.name}.disable_ipv6=1`]);
      } catch {
        /* IPv6 disabled system-wide: nothing to do */
      }
      this.run(['ip', 'link', 'set', 'dev', tun.name, 'mtu', String(this.mtu), 'up']);
      if (opts.killSwitch) {
        this.applyKillSwitchFor(entry);
        this.killSwitchOn = true;
      }
      this.routeMode = this.routes.routeAllVia(tun.name, entry.endpoint.host);
      this.dnsServers = opts.dns === 'off' ? [] : opts.dns === 'auto' ? (built.dns && built.dns !== '0.0.0.0' ? [built.dns] : []) : opts.dns;
      if (opts.dns === 'auto' && this.dnsServers.length > 0) {
        try {
          checkSafeTarget(opts.resolvConf, opts.resolvConfExplicit);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'not changing the resolver');
          this.dnsServers = [];
        }
      }
      if (this.dnsServers.length > 0) this.dnsMgr.apply(this.dnsServers);
      else if (opts.dns === 'auto' && !(built.dns && built.dns !== '0.0.0.0')) log.warn('the exit announced no DNS resolver; the system resolver is unchanged (its queries go through the tunnel if it is not on-link)');
      // Data path.
      tun.onError((err) => {
        log.error({ err: err.message }, 'tun failed; disconnecting');
        this.metrics?.error('tun');
        this.failure = `tun error: ${err.message}`;
        void this.disconnect(this.failure);
      });
      tun.onPackets((packets) => {
        this.counters.packetsOut += packets.length;
        for (const p of packets) this.counters.bytesOut += p.length;
        // While reconnecting there is no circuit: drop (the inner TCP retransmits).
        if (this.state === 'up') (this.session ?? this.circuit)?.sendIp(packets);
      });
      this.wireCircuit(circuit);
      this.address = built.ipv4;
      this.prefixLen = built.prefixLen;
      this.state = 'up';
      this.upAt = this.clock.now();
      this.sampler = setInterval(() => this.sample(), 1_000);
      this.sampler.unref();
      this.up = {
        event: 'up',
        address: built.ipv4,
        prefixLen: built.prefixLen,
        hops: opts.path.length,
        buildMs: Math.round(built.buildMs * 10) / 10,
        mtu: this.mtu,
        tun: tun.name,
        dns: this.dnsServers,
        killSwitch: this.killSwitchOn,
        routes: this.routeMode!,
        entry: formatEndpoint(entry.endpoint),
        control: opts.controlPath,
      };
      if (this.metricsServer) this.up.metrics = this.metricsServer.url;
      log.info({ ...this.up, event: undefined }, 'tunnel up');
      emit(this.up);
      return this.up;
    } catch (err) {
      if (err instanceof CircuitBuildError) this.metrics?.circuitFailed(err.reason);
      await this.disconnect(err instanceof ConnectAbortedError ? err.message : 'connect failed');
      await this.udp?.close(); // opened after an early disconnect, if that is how we got here
      throw err;
    }
  }

  private wireCircuit(circuit: Circuit): void {
    circuit.onDown((reason, info) => {
      if (this.closing || circuit !== this.circuit) return;
      if (this.opts.reconnect) {
        this.log.warn({ reason }, 'circuit went down; rebuilding it');
        this.state = 'reconnecting';
        void this.rebuild(reason, 1, info.hop);
        return;
      }
      this.log.error({ reason }, 'circuit went down; restoring routes and DNS');
      this.failure = `circuit down: ${reason}`;
      void this.disconnect(this.failure);
    });
    // A paid circuit's session owns circuit.onIp and hands the IP on.
    const source: { onIp(h: (packets: Buffer[]) => void): void } = this.session ?? circuit;
    source.onIp((packets) => {
      if (!this.tun || circuit !== this.circuit) return;
      const n = this.tun.write(packets);
      this.counters.packetsIn += packets.length;
      for (const p of packets) this.counters.bytesIn += p.length;
      this.counters.tunWriteDrops += packets.length - n;
    });
  }

  /** One reconnect attempt; on failure the next one is scheduled with exponential backoff (1 s … 30 s). */
  /**
   * With `--dns auto`, follows the resolver the (possibly new) exit announces: an exit's
   * resolver usually lives at its own inner gateway, unreachable through another exit. A user
   * choice (`--dns A,B`) or `off` is never changed; an exit announcing none keeps the old one.
   */
  private adoptExitDns(announced: string | undefined): void {
    if (this.opts.dns !== 'auto' || !this.dnsMgr.isActive) return;
    if (!announced || announced === '0.0.0.0' || (this.dnsServers.length === 1 && this.dnsServers[0] === announced)) return;
    try {
      if (this.dnsMgr.update([announced])) this.dnsServers = [announced];
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not point the resolver at the new exit');
    }
  }

  private async rebuild(reason: string, attempt: number, deadHop?: number, done?: Extract<ClientEvent, { event: 'reconnecting' }>['replaced']): Promise<void> {
    if (this.closing || !this.udp || !this.tun) return;
    const udp = this.udp;
    this.keepResumeToken();
    let replaced: Extract<ClientEvent, { event: 'reconnecting' }>['replaced'] = done;
    if (deadHop !== undefined && !this.opts.payments) replaced = await this.replaceDead(deadHop);
    if (this.closing) return;
    // Paid circuits: a middle that stopped answering is swapped for a spare with a standby channel.
    let swapped = false;
    if (deadHop !== undefined && deadHop > 0 && deadHop < this.path.length - 1 && this.opts.payments && this.standby && this.payHops) {
      this.deadRelays.add(relayKey(this.path[deadHop]!));
      const r = repairPath(this.path, this.standby.usable(this.opts.spares ?? []), deadHop, this.deadRelays);
      const hop = r.replaced ? this.standby.take(r.replaced.to.address!) : undefined;
      if (r.replaced && hop) {
        this.retire(deadHop, hop);
        this.log.warn({ hop: deadHop, from: formatEndpoint(r.replaced.from.endpoint), to: formatEndpoint(r.replaced.to.endpoint) }, 'replacing a dead relay (standby channel)');
        replaced = { hop: deadHop, role: r.replaced.role, from: formatEndpoint(r.replaced.from.endpoint), to: formatEndpoint(r.replaced.to.endpoint) };
        this.path = r.path;
        swapped = true;
      }
    }
    // Paid, any other dead hop: a candidate of the relay source, paid through a channel opened now.
    if (deadHop !== undefined && this.opts.payments && !swapped) replaced = await this.replacePaid(deadHop);
    if (this.closing) return;
    const path = this.path;
    this.opts.onEvent?.({ event: 'reconnecting', reason, attempt, ...(deadHop !== undefined ? { deadHop } : {}), path: path.map((r) => formatEndpoint(r.endpoint)), ...(replaced ? { replaced } : {}) });
    // Same exit: present its resumption token to get the same inner address (open TCP connections survive).
    const exitKey = relayKey(path[path.length - 1]!);
    const resume = this.resume !== undefined && this.resume.exit === exitKey && this.resume.token.validUntil > this.clock.now() ? this.resume.token.token : undefined;
    const circuit = new Circuit(
      { clock: this.clock, log: this.log, send: (to, packet) => udp.send(to, packet), options: { liveness: DEFAULT_LIVENESS, ...(resume ? { resume } : {}) } },
      path.map((r) => ({ endpoint: r.endpoint, staticPublic: r.publicKey })),
    );
    if (this.metrics && this.circuit) {
      this.metrics.observeCircuit(this.circuit.stats()); // the old circuit's last figures
      this.metrics.circuitReplaced();
    }
    const prev = this.circuit;
    this.circuit = circuit;
    // A circuit still up (a relay left the directory) is torn down; a dead one is already closed.
    if (prev && prev !== circuit) prev.close();
    try {
      const built = await circuit.build();
      if (this.closing) return;
      if (this.opts.payments && this.payHops) {
        // Same channels, resumed from the last receipts ClientPayments remembers (no chain
        // round trip: while reconnecting, routes still lead into the dead tunnel).
        const pay = this.opts.payments.pay;
        this.session?.finish();
        this.session = undefined;
        const known = pay.channels();
        this.payHops = this.payHops.map((h) => {
          const k = known.find((c) => c.channelId === h.channelId);
          return k?.lastReceipt ? { ...h, resume: k.lastReceipt } : h;
        });
        this.session = pay.session(circuit, this.payHops, { clock: this.clock, log: this.log, onOverclaim: (r) => this.overclaimed(r) });
        await this.session.bind();
        if (this.closing) return;
      }
      this.metrics?.circuitBuilt(built.buildMs / 1000);
      this.metrics?.reconnects.inc();
      const resumed = resume !== undefined && built.ipv4 === this.address;
      if (built.ipv4 !== this.address || built.prefixLen !== this.prefixLen) {
        // New address first, then the old one goes: with promote_secondaries the device never
        // lacks an address (which would flush its routes); ensure() re-adds them regardless.
        const dev = this.tun.name;
        try {
          this.run(['sysctl', '-q', '-w', `net.ipv4.conf.${dev}.promote_secondaries=1`]);
        } catch {
          /* not fatal: ensure() below restores the routes */
        }
        this.run(['ip', 'addr', 'add', `${built.ipv4}/${built.prefixLen}`, 'dev', dev]);
        if (this.address) this.run(['ip', 'addr', 'del', `${this.address}/${this.prefixLen}`, 'dev', dev]);
        this.routes.ensure();
        this.address = built.ipv4;
        this.prefixLen = built.prefixLen;
      }
      this.adoptExitDns(built.dns);
      this.wireCircuit(circuit);
      this.reconnects++;
      this.state = 'up';
      if (this.up) this.up.address = built.ipv4;
      this.log.info({ address: built.ipv4, buildMs: built.buildMs, reconnects: this.reconnects }, 'circuit rebuilt');
      this.opts.onEvent?.({ event: 'reconnected', address: built.ipv4, buildMs: Math.round(built.buildMs * 10) / 10, reconnects: this.reconnects, resumed, entry: formatEndpoint(path[0]!.endpoint) });
      if (this.retiredPending) void this.closeRetired();
    } catch (err) {
      circuit.close();
      if (err instanceof CircuitBuildError) this.metrics?.circuitFailed(err.reason);
      if (this.closing) return;
      const delay = Math.min(30_000, 1_000 * 2 ** (attempt - 1));
      this.log.warn({ err: (err as Error).message, attempt, retryInMs: delay }, 'reconnect failed');
      // The hop that failed the build is treated as dead (replaced on the next attempt).
      const failedHop = err instanceof CircuitBuildError && err.reason !== 'closed' ? err.hop : undefined;
      this.retryTimer = setTimeout(() => void this.rebuild(reason, attempt + 1, failedHop), delay);
    }
  }

  /**
   * Kill switch for `entry`: its flow (UDP, or TCP to the WebSocket port), TCP to the chain RPC
   * endpoint (paid), and ARP only for their next hops (and --lan).
   */
  private applyKillSwitchFor(entry: RelaySpec): void {
    const { opts } = this;
    const wsEntry = opts.ws ? new URL(opts.ws.url) : undefined;
    const ksEntry = wsEntry ? { host: entry.endpoint.host, port: Number(wsEntry.port || (wsEntry.protocol === 'wss:' ? 443 : 80)) } : entry.endpoint;
    const arpPeers = [...new Set([...this.nextHopOf(entry.endpoint.host), ...(this.rpc?.arpPeers ?? [])])];
    applyKillSwitch(
      { tun: this.opts.tunName, entry: ksEntry, proto: wsEntry ? 'tcp' : 'udp', arpPeers, ...(opts.lan ? { lan: opts.lan } : {}), ...(this.rpc ? { allowTcp: [this.rpc.endpoint] } : {}) },
      this.run,
    );
  }

  /**
   * Paid: the chain RPC's endpoint and, before any tunnel route exists, its next hop (ARP) and
   * route; a failure leaves the RPC outside the kill switch (logged), as before.
   */
  private async resolveRpc(url: string): Promise<void> {
    try {
      const endpoint = await rpcEndpoint(url);
      let route: { gateway?: string; dev?: string; type?: string } | undefined;
      try {
        route = this.routes.lookup(endpoint.host);
      } catch {
        route = undefined;
      }
      this.rpc = { endpoint, arpPeers: this.nextHopOf(endpoint.host), ...(route ? { route } : {}) };
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'chain RPC endpoint unknown: the kill switch will not admit it');
    }
  }

  /**
   * Runs `fn` (chain RPC calls) with the RPC host reached directly: if the tunnel's routes
   * capture it, a /32 route through the way it was reached at connect is added for the call.
   */
  private async withDirectRpc<T>(fn: () => Promise<T>): Promise<T> {
    const rpc = this.rpc;
    let remove: (() => void) | undefined;
    // While the circuit is up the tunnel carries the calls; the detour is for when it is down.
    if (this.state !== 'up' && rpc?.route?.dev && rpc.route.type !== 'local' && rpc.route.dev !== 'lo' && rpc.route.dev !== this.opts.tunName) {
      try {
        if (this.routes.lookup(rpc.endpoint.host).dev === this.opts.tunName) {
          // Recorded in the route state: a kill -9 during the call leaves no host route behind.
          remove = this.routes.addTemporary([`${rpc.endpoint.host}/32`, ...(rpc.route.gateway ? ['via', rpc.route.gateway] : []), 'dev', rpc.route.dev]);
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'no direct route to the chain RPC');
      }
    }
    try {
      return await fn();
    } finally {
      remove?.();
    }
  }

  /**
   * Candidates of the relay source that can be paid (chain address and price known), in its
   * order except that spares holding a standby channel come last: that channel stays for a
   * dead middle as long as another relay can be paid.
   */
  private async payableCandidates(role: ReturnType<typeof hopRole>, exclude: ReadonlySet<string>): Promise<RelaySpec[]> {
    const c = (await this.source.candidates(role, exclude, this.path)).filter((r) => r.address !== undefined && r.pricePerGiB !== undefined);
    const standing = this.standby?.relays() ?? new Set<string>();
    return [...c.filter((r) => !standing.has(r.address!)), ...c.filter((r) => standing.has(r.address!))];
  }

  /**
   * Paid: marks the relay at `deadHop` dead (cool-down), takes the first payable candidate of
   * the relay source, opens (or reuses) a channel with it through the chain RPC (directly: the
   * tunnel is down), and puts both in place; the old hop's channel is retired (closed once the
   * circuit is back). No candidate, or the chain unreachable: the path is unchanged.
   */
  private async replacePaid(deadHop: number): Promise<Extract<ClientEvent, { event: 'reconnecting' }>['replaced']> {
    const pay = this.opts.payments?.pay;
    const dead = this.path[deadHop];
    if (!pay || !this.payHops || dead === undefined || (deadHop === 0 && this.opts.ws)) return undefined;
    const now = this.clock.now();
    this.avoid.mark(relayKey(dead), now);
    let r;
    try {
      r = await repath(this.path, { candidates: (role, ex) => this.payableCandidates(role, ex) }, deadHop, this.avoid.active(now));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'relay source failed; retrying the same path');
      return undefined;
    }
    if (!r.replaced || this.closing) return undefined;
    const { from, to, role } = r.replaced;
    let hop: HopChannel | undefined;
    try {
      [hop] = await this.withDirectRpc(() => pay.prepare([{ relay: to.address!, pricePerGiB: to.pricePerGiB! }]));
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      this.log.warn({ err: (err as Error).message, cause: cause?.code ?? cause?.message, relay: to.address!.slice(0, 16) }, 'cannot open a channel with the replacement; retrying the same path');
      return undefined;
    }
    if (!hop || this.closing) return undefined;
    // A spare's standby channel now pays a hop: it is no longer standing by.
    this.standby?.take(to.address!);
    this.log.warn({ hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint), channel: hop.channelId.slice(0, 12) }, 'replacing a dead relay (new channel)');
    this.opts.onEvent?.({ event: 'channels', hops: [...this.payHops.map((h, i) => (i === deadHop ? hop : h))].map((h) => ({ channelId: h.channelId, relay: h.relay ?? '', deposit: h.deposit.toString() })) });
    this.retire(deadHop, hop);
    if (deadHop === 0) this.moveEntry(to);
    this.path = r.path;
    return { hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint) };
  }

  /** Puts `hop` in place of the channel of hop `i`; the old one is released and closed later. */
  private retire(i: number, hop: HopChannel): void {
    const old = this.payHops![i]!;
    this.opts.payments!.pay.release([old]);
    this.retired.push(old);
    this.retiredPending = true;
    this.payHops = this.payHops!.map((h, j) => (j === i ? hop : h));
  }

  /** Closes the channels of replaced hops (standby channels stay); retried at disconnect if it fails. */
  private async closeRetired(): Promise<void> {
    const pay = this.opts.payments?.pay;
    if (!pay) return;
    this.retiredPending = false;
    try {
      const txs = await this.withDirectRpc(() => pay.cleanup(this.standby?.relays()));
      this.log.info({ closeTxs: txs.length }, 'channels of replaced relays closed');
    } catch (err) {
      this.retiredPending = true;
      this.log.warn({ err: (err as Error).message }, 'closing the channels of replaced relays failed; retried at disconnect');
    }
  }

  /** The onion key (hex) of the current path's relay with chain address `address`, if it is on the path. */
  pathKeyOf(address: string): string | undefined {
    const r = this.path.find((x) => x.address === address);
    return r ? relayKey(r) : undefined;
  }

  /**
   * Discovery: the relay with onion key `publicKeyHex` left the directory (unregistered, jailed).
   * With --reconnect and a candidate to replace it, the circuit is rebuilt around it (as for a
   * dead hop) and true is returned; false otherwise (the caller disconnects).
   */
  async replaceLeft(publicKeyHex: string, reason: string): Promise<boolean> {
    // While a rebuild is under way its path may change: the caller stops instead.
    if (!this.opts.reconnect || this.closing || this.state !== 'up' || !this.udp || !this.tun) return false;
    const hop = this.path.findIndex((r) => relayKey(r) === publicKeyHex);
    if (hop < 0 || (hop === 0 && this.opts.ws)) return false;
    const now = this.clock.now();
    const exclude = new Set([...this.avoid.active(now), ...this.path.map(relayKey)]);
    const role = hopRole(hop, this.path.length);
    let found: readonly RelaySpec[];
    try {
      found = this.opts.payments ? await this.payableCandidates(role, exclude) : await this.source.candidates(role, exclude, this.path);
    } catch {
      found = [];
    }
    const standbyMiddle = this.opts.payments && role === 'middle' && this.standby !== undefined && this.standby.usable(this.opts.spares ?? []).some((s) => !exclude.has(relayKey(s)));
    if (found.length === 0 && !standbyMiddle) return false;
    if (this.closing) return false;
    this.log.warn({ hop, role, reason }, 'a relay of the circuit left the directory; rebuilding around it');
    const why = `relay left the directory (${reason})`;
    if (this.opts.payments && !standbyMiddle) {
      // Paid: the replacement's channel is opened first, through the circuit that still works.
      const done = await this.replacePaid(hop);
      if (!done || this.closing || this.state !== 'up') return false;
      this.state = 'reconnecting';
      void this.rebuild(why, 1, undefined, done);
      return true;
    }
    this.state = 'reconnecting';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    void this.rebuild(why, 1, hop);
    return true;
  }

  /** The address ARP must resolve to reach `host`: its gateway, or itself when on-link; none when local. */
  private nextHopOf(host: string): string[] {
    try {
      const r = this.routes.lookup(host);
      if (r.type === 'local' || r.dev === 'lo') return [];
      return [r.gateway ?? host];
    } catch {
      return [host];
    }
  }

  /** Saves the current circuit's resumption token (kept across failed attempts, for the same exit). */
  private keepResumeToken(): void {
    const t = this.circuit?.resumeToken;
    if (t !== undefined) this.resume = { exit: relayKey(this.path[this.path.length - 1]!), token: t };
  }

  /**
   * Unpaid: marks the relay at `deadHop` dead (cool-down) and puts a candidate of the relay
   * source in its place. A new entry gets the kill switch (and routes, if they did not leave
   * it outside the tunnel) moved to it before the build. Over WebSocket the entry is the URL's
   * host and stays. Without a candidate the path is unchanged (the same relay is retried).
   */
  private async replaceDead(deadHop: number): Promise<Extract<ClientEvent, { event: 'reconnecting' }>['replaced']> {
    const dead = this.path[deadHop];
    if (dead === undefined || (deadHop === 0 && this.opts.ws)) return undefined;
    const now = this.clock.now();
    this.avoid.mark(relayKey(dead), now);
    let r;
    try {
      r = await repath(this.path, this.source, deadHop, this.avoid.active(now));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'relay source failed; retrying the same path');
      return undefined;
    }
    if (!r.replaced || this.closing) return undefined;
    const { from, to, role } = r.replaced;
    this.log.warn({ hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint) }, 'replacing a dead relay');
    if (deadHop === 0) this.moveEntry(to);
    this.path = r.path;
    return { hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint) };
  }

  /** Points the kill switch and, if needed, the routes at a new entry relay. */
  private moveEntry(to: RelaySpec): void {
    const tun = this.opts.tunName;
    if (this.killSwitchOn) this.applyKillSwitchFor(to);
    // 'def1' routes leave any entry reached by a more specific route alone; the complement
    // of the old entry would send the new one into the tunnel: re-made around it.
    if (this.routes.lookup(to.endpoint.host).dev === tun) {
      this.routes.restore();
      this.routeMode = this.routes.routeAllVia(tun, to.endpoint.host);
      if (this.up) this.up.routes = this.routeMode;
    }
    if (this.up) this.up.entry = formatEndpoint(to.endpoint);
  }

  /** A relay reported more than it can have carried: the session closed the circuit and pays it no more; disconnect (channels closed). */
  private overclaimed(r: OverclaimReport): void {
    this.log.error({ hop: r.hop, relay: r.relay?.slice(0, 16), err: r.error.message }, 'relay overclaimed; it gets no more receipts; disconnecting');
    this.failure = `relay overclaimed (hop ${r.hop})`;
    void this.disconnect(this.failure);
  }

  /** Throws if disconnect() ran while connect() awaited: nothing more may be set up. */

  /**
   * Receipts signed and value promised since the last scrape, from the session's cumulative
   * per-hop figures (a resumed channel's earlier receipts are not counted again). Figures of
   * a replaced session after its last scrape are not counted.
   */
  private observePayments(session: PaymentSession): void {
    const m = this.metrics;
    if (!m) return;
    if (this.paySeenFor !== session) {
      this.paySeenFor = session;
      this.paySeen = new Map();
    }
    for (const h of session.stats().hops) {
      const resume = this.payHops?.find((p) => p.channelId === h.channelId)?.resume?.cumulativeAmount ?? 0n;
      // Before its first receipt a hop's promised amount is where it resumes: nothing spent yet.
      const seen = this.paySeen.get(h.channelId) ?? { signed: 0, amount: h.signed === 0 ? h.promisedAmount : resume };
      if (h.signed > seen.signed) m.receiptsSigned.inc(h.signed - seen.signed);
      if (h.promisedAmount > seen.amount) m.spentValue.inc(Number(h.promisedAmount - seen.amount));
      this.paySeen.set(h.channelId, { signed: Math.max(seen.signed, h.signed), amount: h.promisedAmount > seen.amount ? h.promisedAmount : seen.amount });
    }
  }
  private checkAborted(): void {
    if (this.closing) throw new ConnectAbortedError('disconnected while connecting');
  }

  status(): ClientStatus {
    const now = this.clock.now();
    const [first] = this.samples;
    const last = this.samples[this.samples.length - 1];
    const dt = first && last ? (last.t - first.t) / 1000 : 0;
    const u = this.udp?.stats();
    const s: ClientStatus = {
      state: this.state,
      path: this.path.map((r) => ({ endpoint: formatEndpoint(r.endpoint), publicKey: toHex(r.publicKey) })),
      reconnects: this.reconnects,
      hops: this.opts.path.length,
      tun: this.opts.tunName,
      mtu: this.mtu,
      dns: this.dnsServers,
      uptimeMs: this.state === 'up' || this.state === 'reconnecting' ? Math.round(now - this.upAt) : 0,
      bytesIn: this.counters.bytesIn,
      bytesOut: this.counters.bytesOut,
      packetsIn: this.counters.packetsIn,
      packetsOut: this.counters.packetsOut,
      rateInBps: dt > 0 ? Math.round((last!.bytesIn - first!.bytesIn) / dt) : 0,
      rateOutBps: dt > 0 ? Math.round((last!.bytesOut - first!.bytesOut) / dt) : 0,
      drops: { tunWrite: this.counters.tunWriteDrops, udpSend: u?.sendErrors ?? 0 },
      udp: { datagramsIn: u?.datagramsIn ?? 0, datagramsOut: u?.datagramsOut ?? 0, bytesIn: u?.bytesIn ?? 0, bytesOut: u?.bytesOut ?? 0 },
    };
    if (this.up) {
      s.address = this.up.address;
      s.buildMs = this.up.buildMs;
    }
    if (this.circuit) s.circuit = this.circuit.stats();
    if (this.session) s.payments = jsonSafe(this.session.stats());
    return s;
  }

  /** Restores routes and DNS and releases everything. Idempotent; resolves when done. */
  disconnect(reason: string): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closing';
      this.log.info({ reason }, 'disconnecting');
      if (this.sampler) clearInterval(this.sampler);
      if (this.retryTimer) clearTimeout(this.retryTimer);
      // A kill switch stays when the tunnel failed on its own (fail closed, as after kill -9);
      // only an asked-for disconnect (control, signal) removes it.
      const keep = this.failure !== undefined && this.killSwitchOn;
      if (this.session) await this.finishSession();
      this.releaseSync(keep);
      await this.udp?.close();
      await this.metricsServer?.close();
      if (this.opts.payments) await this.closeChannels();
      this.state = 'down';
      if (keep) this.log.warn('kill switch left active: all traffic is blocked until `topvpn reset` or the next connect');
      this.opts.onEvent?.({ event: 'down', reason, killSwitchKept: keep });
      // Let the control reply (if this came over the socket) go out before closing it.
      setImmediate(() => {
        void this.control.close().then(() => this.resolveDone());
      });
    })();
    return this.closing;
  }

  /**
   * Signs the last receipt of every hop and waits (at most SETTLE_WAIT_MS) until every hop
   * acknowledged its latest receipt, so the relays can claim all they carried.
   */
  private async finishSession(): Promise<void> {
    const session = this.session!;
    session.finish();
    const acked = (): boolean =>
      session.stats().hops.every((h, i) => {
        const last = session.signer(i)?.lastReceipt;
        return last === null || last === undefined || h.bestAckedSeq >= last.receipt.seq;
      });
    const end = Date.now() + SETTLE_WAIT_MS;
    while (!acked() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (!acked()) this.log.warn('not every hop acknowledged the last receipt');
  }

  /** Closes the channels of this run (the relays claim inside the challenge window; the rest is refunded on finalize). */
  private async closeChannels(): Promise<void> {
    const pay = this.opts.payments!.pay;
    const hops = this.payHops ?? [];
    const st = this.session?.stats();
    const channels: SettledChannel[] = hops.map((h, i) => ({
      channelId: h.channelId,
      relay: h.relay ?? '',
      deposit: h.deposit.toString(),
      promised: (st?.hops[i]?.promisedAmount ?? 0n).toString(),
      measuredBytes: (st?.hops[i]?.measuredBytes ?? 0n).toString(),
      signed: st?.hops[i]?.signed ?? 0,
    }));
    const known = pay.channels();
    const replaced = this.retired.map((h) => ({ channelId: h.channelId, relay: h.relay ?? '', promised: (known.find((k) => k.channelId === h.channelId)?.promised ?? 0n).toString() }));
    const extra = replaced.length > 0 ? { replaced } : {};
    try {
      pay.release(hops);
      const closeTxs = await pay.cleanup();
      this.log.info({ closeTxs: closeTxs.length }, 'payment channels closed');
      this.opts.onEvent?.({ event: 'settled', closeTxs, channels, ...extra });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'closing payment channels failed');
      this.opts.onEvent?.({ event: 'settled', closeTxs: [], channels, ...extra, error: (err as Error).message });
    }
  }

  /** Synchronous best-effort release of routes, DNS and TUN (fatal-error paths); a kill switch stays. */
  emergencyCleanup(): void {
    this.releaseSync(true);
  }

  private releaseSync(keepKillSwitch: boolean): void {
    const step = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        this.log.error({ step: what, err: (err as Error).message }, 'cleanup step failed');
      }
    };
    step('close circuit', () => this.circuit?.close());
    step('restore dns', () => this.dnsMgr.restore());
    step('restore routes', () => this.routes.restore());
    step('close tun', () => this.tun?.close());
    step('remove kill switch', () => {
      if (this.killSwitchOn && !keepKillSwitch) {
        removeKillSwitch(undefined, this.run);
        this.killSwitchOn = false;
      }
    });
    this.tun = undefined;
  }

  private sample(): void {
    this.samples.push({ t: this.clock.now(), bytesIn: this.counters.bytesIn, bytesOut: this.counters.bytesOut });
    if (this.samples.length > RATE_WINDOW_SAMPLES + 1) this.samples.shift();
  }
}

export interface ResetOptions {
  controlPath: string;
  stateDir: string;
  resolvConf: string;
  log: Logger;
  run?: CommandRunner;
}

export interface ResetResult {
  dnsRestored: boolean;
  /** Routes the killed run had recorded (those still present were deleted). */
  staleRoutes: number;
  killSwitchRemoved: boolean;
}

/**
 * `topvpn reset`: undoes what a client killed with -9 left (resolver backup, recorded routes,
 * kill switch), without connecting. Refuses while a client answers on `controlPath`.
 */
export async function resetClientState(o: ResetOptions): Promise<ResetResult> {
  if (await probe(o.controlPath)) throw new ControlError(`a client is running (control socket ${o.controlPath} answers); use \`disconnect\``);
  const run = o.run ?? runCommand;
  const dnsRestored = new DnsManager({ resolvConf: o.resolvConf, stateDir: o.stateDir, log: o.log }).recoverStale();
  const staleRoutes = new RouteManager({ stateDir: o.stateDir, log: o.log, run }).recoverStale();
  const killSwitchRemoved = removeStaleKillSwitch(run);
  return { dnsRestored, staleRoutes, killSwitchRemoved };
}

/** Removes a kill-switch table if one exists; false if none (or nft is unavailable). */
function removeStaleKillSwitch(run: CommandRunner): boolean {
  try {
    return removeKillSwitch(undefined, run);
  } catch {
    return false;
  }
}
