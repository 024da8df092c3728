/**
 * IO-free client circuit: builds a 1..3-hop circuit telescopically (INIT to the entry,
 * then EXTEND through the hops already built), opens the exit, and carries IP packets
 * wrapped in one layer per hop. Keepalive (PADDING to the exit) after KEEPALIVE idle;
 * per-hop rekey (REKEY through the circuit) on time/count. With `options.liveness`, a circuit
 * that stops answering is probed hop by hop and declared down ('unresponsive', naming the
 * first silent hop): see client/circuit-liveness.ts.
 *
 * Contract: `onDatagram` never throws; every packet not acted on is counted in
 * `stats().drops`. Hop endpoints after the entry must be IPv4 literals (EXTEND carries
 * ipv4 + port).
 */
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { APP_CONTROL_MIN, Ctrl, KEEPALIVE_TIMEOUT_MS, Kind, LAYER_OVERHEAD, MsgType } from '../protocol/constants.js';
import { createInit, finish, HandshakeError, type InitState } from '../protocol/handshake.js';
import { tryParseIpv4 } from '../protocol/ipv4.js';
import { HANDSHAKE_GIVE_UP_MS, HANDSHAKE_RETRY_MS, MAX_HOPS, TIMER_TICK_MS } from '../protocol/limits.js';
import {
  dataFramingError,
  dataReceiverIdx,
  decodeControl,
  decodeDestroy,
  encodeControl,
  encodeDestroy,
  MalformedPacketError,
  type Control,
  type Endpoint,
} from '../protocol/messages.js';
import { openLayer, sealLayers, type LayerSpec } from '../protocol/onion.js';
import { DEFAULT_SESSION_LIMITS, HopSession, type SessionLimits } from '../protocol/session.js';
import { CircuitBuildError, CircuitUsageError, emptyClientDrops, type BuildFailure, type ClientDropReason } from './circuit-errors.js';
import { Liveness, type LivenessOptions } from './circuit-liveness.js';

export { CircuitBuildError, CircuitUsageError } from './circuit-errors.js';
export type { BuildFailure, ClientDropReason } from './circuit-errors.js';
export { DEFAULT_LIVENESS, type LivenessOptions } from './circuit-liveness.js';
export type { Endpoint } from '../protocol/messages.js';

export interface HopInfo {
  endpoint: Endpoint;
  staticPublic: Uint8Array;
}

export interface CircuitOptions {
  retryMs?: number;
  giveUpMs?: number;
  keepaliveMs?: number;
  tickMs?: number;
  sessionLimits?: SessionLimits;
  /** Dead-hop detection (off when absent). The tick defaults to probeMs / 2 then. */
  liveness?: LivenessOptions;
  /**
   * A resumption token from an earlier circuit to the same exit (protocol/resume.ts): the
   * exit is asked with EXIT_RESUME (same address back if it can); after RESUME_FALLBACK_SENDS
   * unanswered sends, with a plain EXIT_OPEN (an exit that no longer knows EXIT_RESUME).
   */
  resume?: Buffer;
}

/** EXIT_RESUME sends before falling back to EXIT_OPEN. */
export const RESUME_FALLBACK_SENDS = 2;

/** The exit's latest resumption token for this circuit's address. */
export interface ResumeToken {
  token: Buffer;
  /** Clock.now() after which the exit no longer honours it. */
  validUntil: number;
}

/** Why and where an up circuit died; `hop` (0 = entry) is the first hop that stopped answering ('unresponsive'). */
export interface DownInfo {
  hop?: number;
  silentMs?: number;
}

export interface CircuitComponents {
  clock: Clock;
  log: Logger;
  send(to: Endpoint, packet: Buffer): void;
  options?: CircuitOptions;
}

export interface CircuitUp {
  ipv4: string;
  prefixLen: number;
  dns?: string;
  buildMs: number;
}

export type BuildPhase = 'handshake' | 'extended' | 'exit';
export type CircuitState = 'new' | 'building' | 'up' | 'down' | 'closed';

export interface CircuitStats {
  state: CircuitState;
  hopsBuilt: number;
  bytes: { sent: number; received: number };
  packets: { sent: number; received: number };
  keepalivesSent: number;
  /** Liveness probe rounds (one PADDING to every hop each). */
  probes: number;
  rekeys: number;
  drops: Record<ClientDropReason, number>;
  lastRecvAt: number | undefined;
  lastSentAt: number | undefined;
  /**
   * Billed bytes per hop (protocol/payment.ts): forward, the length of each DATA packet whose
   * outermost layer is that hop's when it reaches the hop; backward, the length the hop emitted.
   */
  hopBytes: Array<{ forward: number; backward: number }>;
}

interface Hop {
  info: HopInfo;
  session: HopSession | undefined;
  /** The hop's receiver index for forward traffic (RESP sender_idx). */
  fwdIdx: number;
  /** Receiver index of backward packets arriving from this hop on its incoming link. */
  backIdx: number;
  rekey: { state: InitState; sentAt: number; startedAt: number; body: Buffer } | undefined;
}

interface Pending {
  phase: BuildPhase;
  hop: number;
  startedAt: number;
  lastSentAt: number;
  authFailures: number;
  /** Re-sends the request (a fresh DATA packet each time, or the same INIT). */
  resend: () => void;
  state: InitState | undefined;
  resolve: () => void;
  reject: (e: CircuitBuildError) => void;
}

export class Circuit {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly sendFn: (to: Endpoint, packet: Buffer) => void;
  private readonly entry: Endpoint;
  /** The entry's IPv4 as uint32, or -1 when the entry is named by hostname (then only the port is checked). */
  private readonly entryIpv4: number;
  private readonly hops: Hop[];
  /** layers[i] = hop i's session + fwdIdx, for every built hop (reused for sealing). */
  private readonly layers: LayerSpec[] = [];
  private readonly localIdx: number;
  private readonly o: Required<Omit<CircuitOptions, 'liveness' | 'resume'>>;
  private readonly resumeIn: Buffer | undefined;
  private resumeOut: ResumeToken | undefined;
  private readonly liveness: Liveness | undefined;
  private pending: Pending | undefined;
  private timer: TimerHandle | undefined;
  private ipHandler: ((packets: Buffer[]) => void) | undefined;
  /** IP packets of the batch onDatagrams is running, delivered once at its end. */
  private ipBatch: Buffer[] | undefined;
  private downHandler: ((reason: string, info: DownInfo) => void) | undefined;
  private appControlHandler: ((hop: number, body: Buffer) => void) | undefined;
  private exitUp: CircuitUp | undefined;
  private readonly st: CircuitStats;

  constructor(c: CircuitComponents, path: HopInfo[]) {
    if (path.length < 1 || path.length > MAX_HOPS) throw new CircuitUsageError(`a circuit has 1..${MAX_HOPS} hops, got ${path.length}`);
    path.forEach((h, i) => {
      if (h.staticPublic.length !== 32) throw new CircuitUsageError(`hop ${i}: static key must be 32 bytes`);
      if (i > 0 && tryParseIpv4(h.endpoint.host) < 0) throw new CircuitUsageError(`hop ${i}: endpoint host must be an IPv4 literal`);
    });
    this.clock = c.clock;
    this.log = c.log;
    this.sendFn = c.send;
    this.entry = { ...path[0]!.endpoint };
    this.entryIpv4 = tryParseIpv4(this.entry.host);
    this.hops = path.map((info) => ({ info, session: undefined, fwdIdx: 0, backIdx: 0, rekey: undefined }));
    let idx = 0;
    while (idx === 0) idx = randomBytes(4).readUInt32LE(0);
    this.localIdx = idx;
    const o = c.options ?? {};
    this.o = {
      retryMs: o.retryMs ?? HANDSHAKE_RETRY_MS,
      giveUpMs: o.giveUpMs ?? HANDSHAKE_GIVE_UP_MS,
      keepaliveMs: o.keepaliveMs ?? KEEPALIVE_TIMEOUT_MS,
      tickMs: o.tickMs ?? (o.liveness ? Math.max(10, Math.min(TIMER_TICK_MS, Math.floor(o.liveness.probeMs / 2))) : TIMER_TICK_MS),
      sessionLimits: o.sessionLimits ?? DEFAULT_SESSION_LIMITS,
    };
    this.liveness = o.liveness ? new Liveness(path.length, o.liveness) : undefined;
    this.resumeIn = o.resume;
    this.st = {
      state: 'new',
      hopsBuilt: 0,
      bytes: { sent: 0, received: 0 },
      packets: { sent: 0, received: 0 },
      keepalivesSent: 0,
      probes: 0,
      rekeys: 0,
      drops: emptyClientDrops(),
      lastRecvAt: undefined,
      lastSentAt: undefined,
      hopBytes: path.map(() => ({ forward: 0, backward: 0 })),
    };
  }

  /** Our receiver index on the entry link. */
  get index(): number {
    return this.localIdx;
  }

  get state(): CircuitState {
    return this.st.state;
  }

  onIp(handler: (packets: Buffer[]) => void): void {
    this.ipHandler = handler;
  }

  /** Application controls (ctype >= APP_CONTROL_MIN, e.g. payments) from hop `hop`; `body` starts with the ctype. */
  onAppControl(handler: (hop: number, body: Buffer) => void): void {
    this.appControlHandler = handler;
  }

  /**
   * Sends an application control (`body` = ctype(>= APP_CONTROL_MIN) | ...) to hop `hop`
   * (0 = entry) through the hops before it. Returns false if that hop is not built yet, the
   * circuit is closed, or the ctype is a data-plane one.
   */
  sendAppControl(hop: number, body: Buffer): boolean {
    if (this.st.state === 'closed' || this.st.state === 'down') return false;
    if (!Number.isInteger(hop) || hop < 0 || hop >= this.layers.length || body.length === 0 || body[0]! < APP_CONTROL_MIN) return false;
    return this.sendControlTo(hop, body);
  }

  /**
   * Called once when an up circuit dies: 'destroyed' (DESTROY from the entry), 'expired'
   * (keys too old, rekey failed) or 'unresponsive' (liveness; `info.hop` = first silent hop).
   */
  onDown(handler: (reason: string, info: DownInfo) => void): void {
    this.downHandler = handler;
  }

  /** The exit's latest resumption token (arrives just after EXIT_OPENED; absent from exits that do not issue them). */
  get resumeToken(): ResumeToken | undefined {
    return this.resumeOut;
  }

  stats(): CircuitStats {
    const s = this.st;
    return { ...s, hopsBuilt: this.layers.length, bytes: { ...s.bytes }, packets: { ...s.packets }, drops: { ...s.drops }, hopBytes: s.hopBytes.map((h) => ({ ...h })) };
  }

  async build(onProgress?: (ev: { hop: number; of: number; phase: BuildPhase }) => void): Promise<CircuitUp> {
    if (this.st.state !== 'new') throw new CircuitUsageError(`build() on a ${this.st.state} circuit`);
    this.st.state = 'building';
    const t0 = this.clock.now();
    this.schedule();
    const of = this.hops.length;
    try {
      await this.step('handshake', 0, () => this.startInit());
      onProgress?.({ hop: 0, of, phase: 'handshake' });
      for (let i = 1; i < of; i++) {
        await this.step('extended', i, () => this.startExtend(i));
        onProgress?.({ hop: i, of, phase: 'extended' });
      }
      await this.step('exit', of - 1, () => this.startExitOpen());
      onProgress?.({ hop: of - 1, of, phase: 'exit' });
    } catch (e) {
      if (this.st.state === 'building') this.shutdown('closed', true);
      throw e;
    }
    const up = this.exitUp!;
    up.buildMs = this.clock.now() - t0;
    this.st.state = 'up';
    this.log.info({ hops: of, buildMs: up.buildMs }, 'circuit up');
    return { ...up };
  }

  private step(phase: BuildPhase, hop: number, start: () => Pending['resend']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.st.state !== 'building') return reject(new CircuitBuildError(hop, 'closed'));
      const now = this.clock.now();
      const p: Pending = { phase, hop, startedAt: now, lastSentAt: now, authFailures: 0, resend: () => undefined, state: undefined, resolve, reject };
      this.pending = p;
      p.resend = start();
    });
  }

  private startInit(): Pending['resend'] {
    const { init, state } = createInit(this.hops[0]!.info.staticPublic, this.localIdx);
    this.pending!.state = state;
    const resend = (): void => this.sendFn(this.entry, init);
    resend();
    return resend;
  }

  private startExtend(i: number): Pending['resend'] {
    const h = this.hops[i]!;
    const { init, state } = createInit(h.info.staticPublic, 0);
    this.pending!.state = state;
    const body = encodeControl({ ctype: Ctrl.EXTEND, endpoint: h.info.endpoint, init });
    const resend = (): void => {
      this.sendControlTo(i - 1, body);
    };
    resend();
    return resend;
  }

  private startExitOpen(): Pending['resend'] {
    const open = encodeControl({ ctype: Ctrl.EXIT_OPEN });
    const resume = this.resumeIn !== undefined ? encodeControl({ ctype: Ctrl.EXIT_RESUME, token: this.resumeIn }) : undefined;
    const last = this.hops.length - 1;
    let sends = 0;
    const resend = (): void => {
      sends++;
      this.sendControlTo(last, resume !== undefined && sends <= RESUME_FALLBACK_SENDS ? resume : open);
    };
    resend();
    return resend;
  }

  /** Seals a control body for hop `hop` through hops 0..hop and sends it. */
  private sendControlTo(hop: number, body: Buffer): boolean {
    const out = sealLayers(this.layers.slice(0, hop + 1), Kind.CONTROL, body, this.clock.now());
    if (out === null) {
      this.dropR('expired');
      return false;
    }
    this.emit(out, hop + 1);
    return true;
  }

  /** Sends a packet of `layers` layers to the entry, billing each hop's forward bytes. */
  private emit(out: Buffer, layers: number): void {
    const hb = this.st.hopBytes;
    for (let i = 0; i < layers; i++) hb[i]!.forward += out.length - i * LAYER_OVERHEAD;
    this.st.lastSentAt = this.clock.now();
    if (this.st.state === 'up') this.liveness?.sent(this.st.lastSentAt);
    this.sendFn(this.entry, out);
  }

  private settle(err?: CircuitBuildError): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    if (err) p.reject(err);
    else p.resolve();
  }

  private hopBuilt(i: number, keys: { forward: Uint8Array; backward: Uint8Array }, fwdIdx: number, backIdx: number): void {
    const h = this.hops[i]!;
    h.session = new HopSession('initiator', keys, this.clock.now(), this.o.sessionLimits);
    h.fwdIdx = fwdIdx;
    h.backIdx = backIdx;
    this.layers.push({ session: h.session, receiverIdx: fwdIdx });
  }

  // ------------------------------------------------------------------ data path

  sendIp(packets: Buffer[]): void {
    if (this.st.state !== 'up') {
      this.st.drops.not_ready += packets.length;
      return;
    }
    const now = this.clock.now();
    for (const p of packets) {
      const out = sealLayers(this.layers, Kind.IP, p, now);
      if (out === null) {
        this.st.drops.expired++;
        continue;
      }
      this.st.bytes.sent += p.length;
      this.st.packets.sent++;
      this.emit(out, this.layers.length);
    }
  }

  /**
   * A batch of datagrams (one socket wake-up), `from[i]` the sender of `packets[i]`: the same
   * as onDatagram for each, in order, except that the IP packets they carry reach the
   * onIp handler in one call at the end of the batch.
   */
  onDatagrams(packets: readonly Buffer[], from: readonly Endpoint[]): void {
    const batch: Buffer[] = [];
    this.ipBatch = batch;
    try {
      for (let i = 0; i < packets.length; i++) this.onDatagram(packets[i]!, from[i]!);
    } finally {
      this.ipBatch = undefined;
      if (batch.length > 0) this.ipHandler?.(batch);
    }
  }

  onDatagram(packet: Buffer, from: Endpoint): void {
    try {
      this.dispatch(packet, from);
    } catch (e) {
      this.st.drops.internal++;
      this.log.error({ err: e }, 'circuit: handler threw');
    }
  }

  private dropR(r: ClientDropReason): void {
    this.st.drops[r]++;
  }

  private dispatch(p: Buffer, from: Endpoint): void {
    if (this.st.state === 'closed' || this.st.state === 'down' || this.st.state === 'new') return this.dropR('not_ready');
    if (from.port !== this.entry.port) return this.dropR('misrouted');
    if (from.host !== this.entry.host && this.entryIpv4 >= 0 && tryParseIpv4(from.host) !== this.entryIpv4) return this.dropR('misrouted');
    if (p.length === 0) return this.dropR('malformed');
    switch (p[0]) {
      case MsgType.HANDSHAKE_RESP:
        return this.onResp(p);
      case MsgType.DATA:
        return this.onData(p);
      case MsgType.DESTROY: {
        let idx: number;
        try {
          idx = decodeDestroy(p).receiverIdx;
        } catch {
          return this.dropR('malformed');
        }
        if (idx !== this.localIdx) return this.dropR('unknown_index');
        if (this.st.state === 'building') {
          const hop = this.pending?.hop ?? 0;
          this.shutdown('closed', false);
          this.settleErr(new CircuitBuildError(hop, 'refused', 'destroyed by the entry'));
          return;
        }
        return this.shutdown('down', false, 'destroyed');
      }
      default:
        return this.dropR('unknown_type');
    }
  }

  private settleErr(e: CircuitBuildError): void {
    this.settle(e);
  }

  private onResp(p: Buffer): void {
    const pend = this.pending;
    if (pend === undefined || pend.phase !== 'handshake' || pend.state === undefined) return this.dropR('unexpected');
    let r;
    try {
      r = finish(pend.state, p, this.localIdx);
    } catch (e) {
      if (e instanceof HandshakeError) {
        pend.authFailures++;
        return this.dropR('handshake');
      }
      throw e;
    }
    this.hopBuilt(0, r.keys, r.relayIdx, this.localIdx);
    this.settle();
  }

  private onData(p: Buffer): void {
    if (dataFramingError(p) !== null) return this.dropR('malformed');
    if (dataReceiverIdx(p) !== this.localIdx) return this.dropR('unknown_index');
    const now = this.clock.now();
    const n = this.layers.length;
    let pkt = p;
    for (let i = 0; i < n; i++) {
      const h = this.hops[i]!;
      if (i > 0) {
        if (dataFramingError(pkt) !== null) return this.dropR('malformed');
        if (dataReceiverIdx(pkt) !== h.backIdx) return this.dropR('misrouted');
      }
      const pt = openLayer(h.session!, pkt, now);
      if (typeof pt === 'string') return this.dropR(pt);
      this.st.lastRecvAt = now;
      this.liveness?.heard(i, now);
      this.st.hopBytes[i]!.backward += pkt.length;
      switch (pt[0]) {
        case Kind.FORWARD:
          if (i === n - 1) return this.dropR('malformed');
          pkt = pt.subarray(1);
          continue;
        case Kind.IP: {
          if (i !== this.hops.length - 1 || this.st.state !== 'up') return this.dropR('unexpected');
          const ip = pt.subarray(1);
          this.st.bytes.received += ip.length;
          this.st.packets.received++;
          if (this.ipBatch !== undefined) this.ipBatch.push(ip);
          else this.ipHandler?.([ip]);
          return;
        }
        case Kind.CONTROL: {
          const body = pt.subarray(1);
          if (body.length > 0 && body[0]! >= APP_CONTROL_MIN) {
            if (this.appControlHandler === undefined) return this.dropR('unexpected');
            this.appControlHandler(i, body);
            return;
          }
          let ctrl: Control;
          try {
            ctrl = decodeControl(body);
          } catch (e) {
            if (e instanceof MalformedPacketError) return this.dropR('malformed');
            throw e;
          }
          return this.onControl(i, ctrl);
        }
        case Kind.PADDING:
          return;
        default:
          return this.dropR('malformed');
      }
    }
  }

  private onControl(from: number, ctrl: Control): void {
    const pend = this.pending;
    switch (ctrl.ctype) {
      case Ctrl.EXTENDED: {
        if (pend === undefined || pend.phase !== 'extended' || pend.hop !== from + 1 || pend.state === undefined) return this.dropR('unexpected');
        let r;
        try {
          r = finish(pend.state, ctrl.resp);
        } catch (e) {
          if (e instanceof HandshakeError) {
            pend.authFailures++;
            return this.dropR('handshake');
          }
          throw e;
        }
        this.hopBuilt(from + 1, r.keys, r.relayIdx, r.receiverIdx);
        return this.settle();
      }
      case Ctrl.EXTEND_FAILED:
        if (pend === undefined || pend.phase !== 'extended' || pend.hop !== from + 1) return this.dropR('unexpected');
        return this.settle(new CircuitBuildError(from + 1, pend.authFailures > 0 ? 'auth' : 'refused', `extend failed, reason ${ctrl.reason}`));
      case Ctrl.EXIT_OPENED:
        if (pend === undefined || pend.phase !== 'exit' || from !== this.hops.length - 1) return this.dropR('unexpected');
        this.exitUp = { ipv4: ctrl.ipv4, prefixLen: ctrl.prefixLen, buildMs: 0, ...(ctrl.dns !== undefined ? { dns: ctrl.dns } : {}) };
        return this.settle();
      case Ctrl.RESUME_TOKEN:
        if (from !== this.hops.length - 1 || this.exitUp === undefined) return this.dropR('unexpected');
        this.resumeOut = { token: Buffer.from(ctrl.token), validUntil: this.clock.now() + ctrl.ttlS * 1000 };
        return;
      case Ctrl.EXIT_REFUSED:
        if (pend === undefined || pend.phase !== 'exit' || from !== this.hops.length - 1) return this.dropR('unexpected');
        return this.settle(new CircuitBuildError(from, 'refused', `exit refused, reason ${ctrl.reason}`));
      case Ctrl.REKEYED: {
        const h = this.hops[from]!;
        const rk = h.rekey;
        if (rk === undefined) return this.dropR('unexpected');
        let r;
        try {
          r = finish(rk.state, ctrl.resp);
        } catch (e) {
          if (e instanceof HandshakeError) return this.dropR('handshake');
          throw e;
        }
        h.session!.rekeyInitiator(r.keys, this.clock.now());
        h.rekey = undefined;
        this.st.rekeys++;
        return;
      }
      default:
        return this.dropR('unexpected');
    }
  }

  // ------------------------------------------------------------------ timers

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => this.tick(), this.o.tickMs);
  }

  /** Retries, give-up, keepalive and rekey. Runs every tickMs from build() until close. */
  tick(): void {
    if (this.st.state === 'closed' || this.st.state === 'down') return;
    try {
      const now = this.clock.now();
      const p = this.pending;
      if (p !== undefined) {
        if (now - p.startedAt >= this.o.giveUpMs) {
          this.settle(new CircuitBuildError(p.hop, p.authFailures > 0 ? 'auth' : 'timeout'));
        } else if (now - p.lastSentAt >= this.o.retryMs) {
          p.lastSentAt = now;
          p.resend();
        }
      }
      if (this.st.state === 'up') this.upkeep(now);
    } catch (e) {
      this.st.drops.internal++;
      this.log.error({ err: e }, 'circuit: tick threw');
    }
    if (this.st.state === 'building' || this.st.state === 'up') this.schedule();
  }

  private upkeep(now: number): void {
    for (let i = 0; i < this.layers.length; i++) {
      const h = this.hops[i]!;
      const s = h.session!;
      if (s.isExpired(s.current, now)) {
        this.log.warn({ hop: i }, 'circuit: hop keys expired before rekey completed');
        return this.shutdown('down', true, 'expired');
      }
      if (h.rekey !== undefined) {
        if (now - h.rekey.sentAt >= this.o.retryMs) {
          h.rekey.sentAt = now;
          this.sendControlTo(i, h.rekey.body);
        }
      } else if (s.needsRekey(now)) {
        const { init, state } = createInit(h.info.staticPublic, 0);
        const body = encodeControl({ ctype: Ctrl.REKEY, init });
        h.rekey = { state, sentAt: now, startedAt: now, body };
        this.sendControlTo(i, body);
      }
    }
    if (this.liveness !== undefined) {
      const a = this.liveness.check(now);
      if (a.kind === 'dead') {
        this.log.warn({ hop: a.hop, silentMs: a.silentMs }, 'circuit: no answer; declaring it down');
        return this.shutdown('down', true, 'unresponsive', { hop: a.hop, silentMs: a.silentMs });
      }
      if (a.kind === 'probe') this.probe(now);
    }
    if (this.st.lastSentAt === undefined || now - this.st.lastSentAt >= this.o.keepaliveMs) {
      const out = sealLayers(this.layers, Kind.PADDING, Buffer.alloc(0), now);
      if (out !== null) {
        this.st.keepalivesSent++;
        this.emit(out, this.layers.length);
      }
    }
  }

  /** One probe round: an empty PADDING to every built hop (each relay answers PADDING with PADDING). */
  private probe(now: number): void {
    this.st.probes++;
    for (let i = 0; i < this.layers.length; i++) {
      const out = sealLayers(this.layers.slice(0, i + 1), Kind.PADDING, Buffer.alloc(0), now);
      if (out !== null) this.emit(out, i + 1);
    }
  }

  // ------------------------------------------------------------------ teardown

  /** Sends DESTROY to the entry (if a session exists) and stops all timers. Idempotent. */
  close(): void {
    if (this.st.state === 'closed') return;
    const wasBuilding = this.st.state === 'building';
    const hop = this.pending?.hop ?? 0;
    this.shutdown('closed', true);
    if (wasBuilding) this.settle(new CircuitBuildError(hop, 'closed'));
  }

  private shutdown(state: 'closed' | 'down', sendDestroy: boolean, reason?: string, info: DownInfo = {}): void {
    const wasUp = this.st.state === 'up';
    if (sendDestroy && this.layers.length > 0) this.sendFn(this.entry, encodeDestroy(this.hops[0]!.fwdIdx));
    this.st.state = state;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (wasUp && state === 'down') this.downHandler?.(reason ?? 'down', info);
  }
}
