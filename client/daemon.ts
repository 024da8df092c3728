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
 *
 * Parts: types in daemon-types.ts (re-exported here), `topvpn reset` in reset.ts, re-paths in
 * unpaid-repath.ts / paid-repath.ts, the entry's kill switch in entry-guard.ts, the socket in
 * entry-transport.ts, the TUN address in tun-address.ts, DNS in exit-dns.ts, payment-session
 * helpers in paid-session.ts, traffic counters in traffic.ts.
 */
import type { Logger } from 'pino';
import { type MetricsServer, startMetricsServer } from '../common/metrics-server.js';
import { type Clock, SystemClock } from '../common/clock.js';
import type { Tun } from '../tun/tun.js';
import { formatEndpoint } from '../relay/addr.js';
import { innerMtu } from '../relay/exit-net.js';
import { toHex } from '../relay/keys.js';
import { ObservingRegistry } from '../relay/observing-registry.js';
import { type CommandRunner, runCommand } from '../relay/system.js';
import type { UdpTransport } from '../relay/udp.js';
import { Circuit, CircuitBuildError, DEFAULT_LIVENESS } from './circuit.js';
import { DeadRelays, hopRole, relayKey, type RelaySource } from './circuit-repath.js';
import type { ResumeToken } from './circuit.js';
import { WS_INNER_MTU } from './ws-transport.js';
import { type ClientMetrics, createClientMetrics } from './metrics.js';
import { ControlServer } from './control.js';
import { checkSafeTarget, DnsManager } from './dns.js';
import { removeKillSwitch } from './killswitch.js';
import { ListRelaySource, type RelaySpec } from './relay-list.js';
import { RouteManager } from './routes.js';
import type { HopChannel, OverclaimReport, PaymentSession } from './payments/session.js';
import { standbyQuotes, StandbyChannels } from './payments/standby.js';
import { type ClientDaemonOptions, type ClientEvent, type ClientStatus, ConnectAbortedError, type Replaced, type UpEvent } from './daemon-types.js';
import { applyKillSwitchFor } from './entry-guard.js';
import { PaidRepath } from './paid-repath.js';
import { removeStaleKillSwitch } from './reset.js';
import { configureTun, replaceTunAddress } from './tun-address.js';
import { finishSession, PaymentMetricsObserver, resumedHops } from './paid-session.js';
import { TrafficCounters } from './traffic.js';
import { applyConnectDns, followExitDns } from './exit-dns.js';
import { openEntryTransport } from './entry-transport.js';
import { type RepathDeps, replaceDead } from './unpaid-repath.js';

export { ConnectAbortedError } from './daemon-types.js';
export type { ClientDaemonOptions, ClientEvent, ClientStatus, SettledChannel, UpEvent } from './daemon-types.js';
export { resetClientState, type ResetOptions, type ResetResult } from './reset.js';

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
  private readonly payMetrics = new PaymentMetricsObserver();
  private state: ClientStatus['state'] = 'building';
  private up: UpEvent | undefined;
  private upAt = 0;
  private readonly counters = new TrafficCounters();
  private sampler: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private dnsServers: string[] = [];
  private killSwitchOn = false;
  private routeMode: 'def1' | 'exclude-entry' | undefined;
  private reconnects = 0;
  /** The current circuit's relays (a dead middle may be swapped on reconnect). */
  private path: RelaySpec[];
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
  /** What a re-path reads and replaces of this daemon (client/unpaid-repath.ts). */
  private readonly repathDeps: RepathDeps;
  /** Paid: standby channels, re-path with new channels, the chain RPC while the tunnel is down (client/paid-repath.ts). */
  private readonly paid: PaidRepath | undefined;
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
    this.repathDeps = {
      log: opts.log,
      clock: this.clock,
      ws: Boolean(opts.ws),
      avoid: this.avoid,
      source: this.source,
      path: () => this.path,
      setPath: (p) => (this.path = p),
      isClosing: () => this.closing !== undefined,
      moveEntry: (to) => this.moveEntry(to),
    };
    if (opts.payments) {
      this.paid = new PaidRepath({
        ...this.repathDeps,
        pay: opts.payments.pay,
        routes: this.routes,
        tunName: opts.tunName,
        spares: opts.spares ?? [],
        payHops: () => this.payHops,
        setPayHops: (h) => (this.payHops = h),
        isUp: () => this.state === 'up',
        emit: (e) => opts.onEvent?.(e),
      });
    }
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
          if (this.session && this.metrics) this.payMetrics.observe(this.metrics, this.session, this.payHops);
        });
        this.metrics = createClientMetrics(registry);
        this.metricsServer = await startMetricsServer({ host: opts.metrics.host, port: opts.metrics.port, registry });
        this.checkAborted();
      }
      const tun = opts.openTun({ name: opts.tunName, mtu: this.mtu });
      this.tun = tun;
      this.udp = await openEntryTransport({ ws: opts.ws, entry: entry.endpoint, log, circuit: () => this.circuit });
      const udp = this.udp;
      this.checkAborted();
      this.routes.checkEntry(entry.endpoint.host, tun.name);
      if (opts.payments && (opts.killSwitch || opts.reconnect)) await this.paid?.resolveRpc(opts.payments.pay.chain.o.url);
      if (opts.payments) {
        emit({ event: 'progress', step: 'channels', hops: opts.payments.quotes.length });
        // With --reconnect, standby channels with spares too (client/payments/standby.ts).
        const spareQuotes = opts.reconnect ? standbyQuotes(opts.spares ?? []) : [];
        const prepared = await opts.payments.pay.prepare([...opts.payments.quotes, ...spareQuotes]);
        this.payHops = prepared.slice(0, opts.payments.quotes.length);
        if (spareQuotes.length > 0 && this.paid) this.paid.standby = new StandbyChannels(prepared.slice(opts.payments.quotes.length));
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
      configureTun(this.run, tun.name, built.ipv4, built.prefixLen, this.mtu);
      if (opts.killSwitch) {
        this.applyKillSwitch(entry);
        this.killSwitchOn = true;
      }
      this.routeMode = this.routes.routeAllVia(tun.name, entry.endpoint.host);
      this.dnsServers = applyConnectDns(this.dnsMgr, opts, built.dns, log);
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
      this.sampler = setInterval(() => this.counters.sample(this.clock.now()), 1_000);
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
  private async rebuild(reason: string, attempt: number, deadHop?: number, done?: Replaced): Promise<void> {
    if (this.closing || !this.udp || !this.tun) return;
    const udp = this.udp;
    this.keepResumeToken();
    let replaced: Replaced = done;
    if (deadHop !== undefined && !this.opts.payments) replaced = await replaceDead(this.repathDeps, deadHop);
    if (this.closing) return;
    // Paid circuits: a middle that stopped answering is swapped for a spare with a standby channel.
    const swapped = deadHop !== undefined && this.paid ? this.paid.swapStandby(deadHop) : undefined;
    if (swapped) replaced = swapped;
    // Paid, any other dead hop: a candidate of the relay source, paid through a channel opened now.
    if (deadHop !== undefined && this.paid && !swapped) replaced = await this.paid.replacePaid(deadHop);
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
        // Same channels, resumed from their last receipts (client/paid-session.ts).
        const pay = this.opts.payments.pay;
        this.session?.finish();
        this.session = undefined;
        this.payHops = resumedHops(pay, this.payHops);
        this.session = pay.session(circuit, this.payHops, { clock: this.clock, log: this.log, onOverclaim: (r) => this.overclaimed(r) });
        await this.session.bind();
        if (this.closing) return;
      }
      this.metrics?.circuitBuilt(built.buildMs / 1000);
      this.metrics?.reconnects.inc();
      const resumed = resume !== undefined && built.ipv4 === this.address;
      if (built.ipv4 !== this.address || built.prefixLen !== this.prefixLen) {
        replaceTunAddress(this.run, this.routes, this.tun.name, { address: this.address, prefixLen: this.prefixLen }, { address: built.ipv4, prefixLen: built.prefixLen });
        this.address = built.ipv4;
        this.prefixLen = built.prefixLen;
      }
      this.dnsServers = followExitDns(this.dnsMgr, this.opts.dns, this.dnsServers, built.dns, this.log);
      this.wireCircuit(circuit);
      this.reconnects++;
      this.state = 'up';
      if (this.up) this.up.address = built.ipv4;
      this.log.info({ address: built.ipv4, buildMs: built.buildMs, reconnects: this.reconnects }, 'circuit rebuilt');
      this.opts.onEvent?.({ event: 'reconnected', address: built.ipv4, buildMs: Math.round(built.buildMs * 10) / 10, reconnects: this.reconnects, resumed, entry: formatEndpoint(path[0]!.endpoint) });
      if (this.paid?.hasRetired) void this.paid.closeRetired();
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
      found = this.paid ? await this.paid.payableCandidates(role, exclude) : await this.source.candidates(role, exclude, this.path);
    } catch {
      found = [];
    }
    const standbyMiddle = this.paid?.hasStandbyMiddle(role, exclude) ?? false;
    if (found.length === 0 && !standbyMiddle) return false;
    if (this.closing) return false;
    this.log.warn({ hop, role, reason }, 'a relay of the circuit left the directory; rebuilding around it');
    const why = `relay left the directory (${reason})`;
    if (this.paid && !standbyMiddle) {
      // Paid: the replacement's channel is opened first, through the circuit that still works.
      const done = await this.paid.replacePaid(hop);
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

  /** Saves the current circuit's resumption token (kept across failed attempts, for the same exit). */
  private keepResumeToken(): void {
    const t = this.circuit?.resumeToken;
    if (t !== undefined) this.resume = { exit: relayKey(this.path[this.path.length - 1]!), token: t };
  }

  /** Kill switch for `entry` (client/entry-guard.ts); paid: the chain RPC endpoint is admitted too. */
  private applyKillSwitch(entry: RelaySpec): void {
    const { opts } = this;
    applyKillSwitchFor(entry, { tunName: opts.tunName, ws: opts.ws, lan: opts.lan, routes: this.routes, rpc: this.paid?.rpc, run: this.run });
  }

  /** Points the kill switch and, if needed, the routes at a new entry relay. */
  private moveEntry(to: RelaySpec): void {
    const tun = this.opts.tunName;
    if (this.killSwitchOn) this.applyKillSwitch(to);
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
  private checkAborted(): void {
    if (this.closing) throw new ConnectAbortedError('disconnected while connecting');
  }

  status(): ClientStatus {
    const now = this.clock.now();
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
      ...this.counters.rates(),
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
      if (this.session) await finishSession(this.session, this.log);
      this.releaseSync(keep);
      await this.udp?.close();
      await this.metricsServer?.close();
      // Closes the channels of this run (the relays claim inside the challenge window; the rest is refunded on finalize).
      if (this.paid) await this.paid.closeAll(this.payHops ?? [], this.session?.stats());
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
}

