/**
 * IO-free relay core. The daemon feeds it datagrams (`onDatagram`) and, at an exit, TUN
 * packets (`onTunPackets`); it answers through the injected `send` / `exit.write`.
 *
 * Contract:
 * - `onDatagram` and `onTunPackets` never throw; every packet that is not acted on is
 *   counted in `stats().drops` under one reason and has no effect on any circuit other
 *   than the one it authenticates to (unauthenticated packets change nothing).
 * - Forward traffic is authenticated by this hop's layer before anything else; backward
 *   traffic (not ours to decrypt) is accepted only from the next node's endpoint.
 * - A relay never holds any key but its own per-circuit session keys.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import { APP_CONTROL_MIN, Ctrl, Kind, LAYER_OVERHEAD, MsgType, RefuseReason } from '../protocol/constants.js';
import { HandshakeError, makeResponder, respond, type Responder } from '../protocol/handshake.js';
import { isIpv4Packet, ipv4Dst, ipv4DstPort, ipv4Proto, ipv4Src, formatIpv4, parseIpv4 } from '../protocol/ipv4.js';
import {
  dataFramingError,
  dataReceiverIdx,
  decodeControl,
  decodeDestroy,
  decodeResp,
  encodeControl,
  encodeDestroy,
  MalformedPacketError,
  setInitSenderIdx,
  type Control,
  type Endpoint,
} from '../protocol/messages.js';
import {
  CIRCUIT_IDLE_MS,
  HANDSHAKE_BURST,
  HANDSHAKE_GIVE_UP_MS,
  HANDSHAKE_RATE_PER_SEC,
  HANDSHAKE_RETRY_MS,
  MAX_CIRCUITS_PER_RELAY,
  MAX_RATE_BUCKETS,
  TIMER_TICK_MS,
} from '../protocol/limits.js';
import { openLayer, sealOne } from '../protocol/onion.js';
import { DEFAULT_SESSION_LIMITS, HopSession, type SessionLimits } from '../protocol/session.js';
import { AddressPool, CircuitTable, type RelayCircuit } from './circuits.js';
import { emptyDrops, type DropReason } from './errors.js';
import type { ExitPolicy } from './exit-policy.js';
import { ExitResumption, type ResumeStats } from './exit-resume.js';

export type { Endpoint } from '../protocol/messages.js';
export type { DropReason } from './errors.js';

export interface RelayIdentity {
  staticSecret: Uint8Array;
  staticPublic: Uint8Array;
}

export interface ExitHooks {
  write(packets: Buffer[]): void;
  policy: ExitPolicy;
  /** CIDR for inner addresses, e.g. '198.19.0.0/16'. Its first host is the exit's own TUN address. */
  pool: string;
  /** DNS resolver IPv4 announced in EXIT_OPENED. */
  dns?: string;
  /** Secret (32 B) that MACs resumption tokens (relay/exit-resume.ts); random per engine when absent. */
  resumeKey?: Uint8Array;
}

/**
 * Optional per-circuit hooks (payments). Billed bytes follow protocol/payment.ts: forward, the
 * length of the packet this hop received and authenticated; backward, the length of the
 * packet this hop emits after adding its layer.
 */
export interface CircuitHooks {
  /** An application control (ctype >= APP_CONTROL_MIN) arrived on circuit `id`; `body` starts with the ctype. */
  onControl(id: number, body: Buffer): void;
  /**
   * Called for every billed packet before it is carried on. `traffic` is false for packets
   * the relay itself consumes or originates (CONTROL, PADDING, its own control replies):
   * those are always carried, whatever is returned. For traffic, false drops it ('unpaid').
   */
  meter?(id: number, dir: 'forward' | 'backward', bytes: number, traffic: boolean): boolean;
  /** A circuit was created (INIT answered). */
  onOpened?(id: number): void;
  /** A circuit was freed (DESTROY, idle expiry, stop). */
  onClosed?(id: number, why: 'destroyed' | 'idle' | 'stopped'): void;
}

/** Tunables (tests lower them); every field defaults to protocol/limits.ts. */
export interface RelayEngineOptions {
  maxCircuits?: number;
  idleMs?: number;
  retryMs?: number;
  giveUpMs?: number;
  tickMs?: number;
  handshakeRatePerSec?: number;
  handshakeBurst?: number;
  sessionLimits?: SessionLimits;
}

export interface RelayEngineComponents {
  clock: Clock;
  log: Logger;
  identity: RelayIdentity;
  send(to: Endpoint, packet: Buffer): void;
  exit?: ExitHooks;
  hooks?: CircuitHooks;
  options?: RelayEngineOptions;
  /**
   * Handshake latency, in seconds (Clock.now): respond = INIT received until RESP sent (a new
   * circuit); extend = INIT sent to the next hop until its RESP arrived.
   */
  onHandshakeTiming?: (kind: 'respond' | 'extend', seconds: number) => void;
}

export interface RelayStats {
  circuits: number;
  exitAddresses: number;
  forwardedBytes: { forward: number; backward: number };
  packets: { forward: number; backward: number; exitOut: number; exitIn: number; control: number };
  handshakes: { answered: number; retransmitted: number; extended: number; extendFailed: number; rekeyed: number };
  circuitsClosed: { destroyed: number; idle: number; stopped: number };
  drops: Record<DropReason, number>;
}

/** A read-only view of one circuit (diagnostics, tests, metering). */
export interface RelayCircuitInfo {
  id: number;
  prevIdx: number;
  nextIdx: number | undefined;
  prev: Endpoint;
  next: Endpoint | undefined;
  nextState: 'extending' | 'open' | undefined;
  exitAddress: string | undefined;
  epoch: number;
  createdAt: number;
  lastActivity: number;
  bytesForward: number;
  bytesBackward: number;
}

function normHost(h: string): string {
  return h.startsWith('::ffff:') ? h.slice(7) : h;
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && (a.host === b.host || normHost(a.host) === normHost(b.host));
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RelayEngine {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly send: (to: Endpoint, packet: Buffer) => void;
  private readonly exit: ExitHooks | undefined;
  private readonly hooks: CircuitHooks | undefined;
  private readonly onHandshakeTiming: ((kind: 'respond' | 'extend', seconds: number) => void) | undefined;
  private readonly pool: AddressPool | undefined;
  private readonly dns: string | undefined;
  private readonly resume: ExitResumption | undefined;
  private readonly responder: Responder;
  private readonly table: CircuitTable;
  private readonly buckets = new Map<string, Bucket>();
  private readonly o: Required<RelayEngineOptions>;
  private timer: TimerHandle | undefined;
  private running = false;
  private readonly st: RelayStats;
  /** Exit-bound IP packets of the batch onDatagrams is running, written once at its end. */
  private exitBatch: Buffer[] | undefined;

  constructor(c: RelayEngineComponents) {
    this.clock = c.clock;
    this.log = c.log;
    this.send = c.send;
    this.exit = c.exit;
    this.hooks = c.hooks;
    this.onHandshakeTiming = c.onHandshakeTiming;
    this.responder = makeResponder({ secretKey: c.identity.staticSecret, publicKey: c.identity.staticPublic });
    const o = c.options ?? {};
    this.o = {
      maxCircuits: o.maxCircuits ?? MAX_CIRCUITS_PER_RELAY,
      idleMs: o.idleMs ?? CIRCUIT_IDLE_MS,
      retryMs: o.retryMs ?? HANDSHAKE_RETRY_MS,
      giveUpMs: o.giveUpMs ?? HANDSHAKE_GIVE_UP_MS,
      tickMs: o.tickMs ?? TIMER_TICK_MS,
      handshakeRatePerSec: o.handshakeRatePerSec ?? HANDSHAKE_RATE_PER_SEC,
      handshakeBurst: o.handshakeBurst ?? HANDSHAKE_BURST,
      sessionLimits: o.sessionLimits ?? DEFAULT_SESSION_LIMITS,
    };
    this.table = new CircuitTable(this.o.maxCircuits);
    if (c.exit) {
      this.pool = new AddressPool(c.exit.pool);
      if (c.exit.dns !== undefined) parseIpv4(c.exit.dns); // validate early
      this.dns = c.exit.dns;
      this.resume = new ExitResumption(this.pool, () => c.clock.wallMs() / 1000, c.exit.resumeKey);
    }
    this.st = {
      circuits: 0,
      exitAddresses: 0,
      forwardedBytes: { forward: 0, backward: 0 },
      packets: { forward: 0, backward: 0, exitOut: 0, exitIn: 0, control: 0 },
      handshakes: { answered: 0, retransmitted: 0, extended: 0, extendFailed: 0, rekeyed: 0 },
      circuitsClosed: { destroyed: 0, idle: 0, stopped: 0 },
      drops: emptyDrops(),
    };
  }

  /** Resumption tokens issued and redeemed (exits only). */
  resumeStats(): ResumeStats | undefined {
    return this.resume?.stats();
  }

  /** The exit's own inner address (first host of the pool), for configuring its TUN. */
  get exitGateway(): string | undefined {
    return this.pool?.gatewayString;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops timers and frees every circuit (sending DESTROY to both neighbours). */
  stop(): void {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const c of [...this.table.values()]) this.teardown(c, true, true, 'stopped');
  }

  stats(): RelayStats {
    const s = this.st;
    return {
      ...s,
      circuits: this.table.size,
      exitAddresses: this.pool?.inUse ?? 0,
      forwardedBytes: { ...s.forwardedBytes },
      packets: { ...s.packets },
      handshakes: { ...s.handshakes },
      circuitsClosed: { ...s.circuitsClosed },
      drops: { ...s.drops },
    };
  }

  circuits(): RelayCircuitInfo[] {
    const out: RelayCircuitInfo[] = [];
    for (const c of this.table.values()) {
      out.push({
        id: c.id,
        prevIdx: c.prevIdx,
        nextIdx: c.next?.idx,
        prev: { ...c.prevEndpoint },
        next: c.next ? { ...c.next.endpoint } : undefined,
        nextState: c.next?.state,
        exitAddress: c.exitAddr >= 0 ? formatIpv4(c.exitAddr) : undefined,
        epoch: c.session.current.epoch,
        createdAt: c.createdAt,
        lastActivity: c.lastActivity,
        bytesForward: c.bytesForward,
        bytesBackward: c.bytesBackward,
      });
    }
    return out;
  }

  /**
   * Sends an application control (`body` = ctype(>= APP_CONTROL_MIN) | ...) to the client
   * of circuit `id` under this hop's backward layer. Returns false if the circuit is gone,
   * the ctype is a data-plane one, or the keys can no longer send.
   */
  sendAppControl(id: number, body: Buffer): boolean {
    const c = this.table.byCircuitId(id);
    if (c === undefined || body.length === 0 || body[0]! < APP_CONTROL_MIN) return false;
    return this.sendControlBody(c, body);
  }

  /** The live internal record of the circuit with receiver index `idx` (tests: key isolation). */
  inspectCircuit(idx: number): Readonly<RelayCircuit> | undefined {
    return this.table.get(idx);
  }

  /** Number of receiver indices bound in the table (tests: state is freed). */
  get indexCount(): number {
    return this.table.indexCount;
  }

  // ------------------------------------------------------------------ input

  onDatagram(packet: Buffer, from: Endpoint): void {
    try {
      this.dispatch(packet, from);
    } catch (e) {
      this.st.drops.internal++;
      this.log.error({ err: e }, 'relay: handler threw');
    }
  }

  /**
   * A batch of datagrams (one socket wake-up), `from[i]` the sender of `packets[i]`: the same
   * as onDatagram for each, in order, except that packets bound for the exit TUN are handed to
   * `exit.write` once, at the end of the batch.
   */
  onDatagrams(packets: readonly Buffer[], from: readonly Endpoint[]): void {
    const batch: Buffer[] = [];
    this.exitBatch = batch;
    try {
      for (let i = 0; i < packets.length; i++) this.onDatagram(packets[i]!, from[i]!);
    } finally {
      this.exitBatch = undefined;
      if (batch.length > 0) this.exit?.write(batch);
    }
  }

  onTunPackets(packets: Buffer[]): void {
    for (const p of packets) {
      try {
        this.fromTun(p);
      } catch (e) {
        this.st.drops.internal++;
        this.log.error({ err: e }, 'relay: tun handler threw');
      }
    }
  }

  private drop(r: DropReason): void {
    this.st.drops[r]++;
  }

  private dispatch(p: Buffer, from: Endpoint): void {
    if (p.length === 0) return this.drop('malformed');
    switch (p[0]) {
      case MsgType.DATA: {
        if (dataFramingError(p) !== null) return this.drop('malformed');
        const idx = dataReceiverIdx(p);
        const c = this.table.get(idx);
        if (c === undefined) return this.drop('unknown_index');
        if (idx === c.prevIdx) return this.forward(c, p, from);
        return this.backward(c, p, from);
      }
      case MsgType.HANDSHAKE_INIT:
        return this.onInit(p, from);
      case MsgType.HANDSHAKE_RESP:
        return this.onResp(p, from);
      case MsgType.DESTROY:
        return this.onDestroy(p, from);
      default:
        return this.drop('unknown_type');
    }
  }

  // ------------------------------------------------------------------ handshakes

  private rateOk(host: string): boolean {
    const now = this.clock.now();
    let b = this.buckets.get(host);
    if (b === undefined) {
      if (this.buckets.size >= MAX_RATE_BUCKETS) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
      b = { tokens: this.o.handshakeBurst, at: now };
      this.buckets.set(host, b);
    } else {
      b.tokens = Math.min(this.o.handshakeBurst, b.tokens + ((now - b.at) * this.o.handshakeRatePerSec) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private onInit(p: Buffer, from: Endpoint): void {
    if (p.length !== 48) return this.drop('malformed');
    if (!this.rateOk(normHost(from.host))) return this.drop('rate_limited');
    const x = p.toString('hex', 16, 48);
    const existing = this.table.byInitX(x);
    if (existing !== undefined) {
      // Same X and same sender_idx: a retransmission, answered identically. Same X with
      // another sender_idx cannot be a new honest circuit (X is fresh per handshake).
      if (existing.prevPeerIdx !== p.readUInt32LE(4)) return this.drop('handshake');
      this.st.handshakes.retransmitted++;
      this.send(from, existing.resp);
      return;
    }
    if (this.table.size >= this.o.maxCircuits) return this.drop('circuit_limit');
    const receivedAt = this.clock.now();
    const idx = this.table.allocIdx();
    let r;
    try {
      r = respond(this.responder, p, idx);
    } catch (e) {
      if (e instanceof HandshakeError) return this.drop(e.reason === 'wrong_node' ? 'wrong_node' : e.reason === 'malformed' ? 'malformed' : 'handshake');
      throw e;
    }
    const now = this.clock.now();
    const session = new HopSession('responder', r.keys, now, this.o.sessionLimits);
    const c: RelayCircuit = {
      id: this.table.newId(),
      prevIdx: idx,
      prevPeerIdx: r.senderIdx,
      prevEndpoint: { host: from.host, port: from.port },
      session,
      back: { session, receiverIdx: r.senderIdx },
      initX: x,
      resp: r.resp,
      next: undefined,
      exitAddr: -1,
      rekeyX: undefined,
      rekeyResp: undefined,
      createdAt: now,
      lastActivity: now,
      bytesForward: 0,
      bytesBackward: 0,
    };
    this.table.add(c);
    this.st.handshakes.answered++;
    this.hooks?.onOpened?.(c.id);
    this.log.debug({ circuit: c.id }, 'relay: circuit created');
    this.send(from, r.resp);
    this.onHandshakeTiming?.('respond', (this.clock.now() - receivedAt) / 1000);
  }

  private onResp(p: Buffer, from: Endpoint): void {
    let resp;
    try {
      resp = decodeResp(p);
    } catch {
      return this.drop('malformed');
    }
    const c = this.table.get(resp.receiverIdx);
    const n = c?.next;
    if (c === undefined || n === undefined || n.idx !== resp.receiverIdx || !sameEndpoint(from, n.endpoint)) return this.drop('unexpected_resp');
    if (n.state === 'open') {
      if (n.resp !== undefined && n.resp.equals(p)) return; // duplicate answer to a retried INIT
      return this.drop('unexpected_resp');
    }
    n.state = 'open';
    n.peerIdx = resp.senderIdx;
    n.resp = Buffer.from(p);
    this.st.handshakes.extended++;
    this.onHandshakeTiming?.('extend', (this.clock.now() - n.startedAt) / 1000);
    this.sendControl(c, { ctype: Ctrl.EXTENDED, resp: n.resp });
  }

  private onDestroy(p: Buffer, from: Endpoint): void {
    let idx: number;
    try {
      idx = decodeDestroy(p).receiverIdx;
    } catch {
      return this.drop('malformed');
    }
    const c = this.table.get(idx);
    if (c === undefined) return this.drop('unknown_index');
    if (idx === c.prevIdx) {
      if (!sameEndpoint(from, c.prevEndpoint)) return this.drop('misrouted');
      this.teardown(c, false, true, 'destroyed');
    } else {
      if (c.next === undefined || !sameEndpoint(from, c.next.endpoint)) return this.drop('misrouted');
      this.teardown(c, true, false, 'destroyed');
    }
  }

  // ------------------------------------------------------------------ data

  private forward(c: RelayCircuit, p: Buffer, from: Endpoint): void {
    const now = this.clock.now();
    const pt = openLayer(c.session, p, now);
    if (typeof pt === 'string') return this.drop(pt);
    c.lastActivity = now;
    if (!sameEndpoint(from, c.prevEndpoint)) c.prevEndpoint = { host: from.host, port: from.port }; // roaming, as WireGuard
    const kind = pt[0];
    const h = this.hooks;
    if (h?.meter !== undefined && !h.meter(c.id, 'forward', p.length, kind === Kind.FORWARD || kind === Kind.IP) && (kind === Kind.FORWARD || kind === Kind.IP)) {
      return this.drop('unpaid');
    }
    c.bytesForward += p.length;
    this.st.forwardedBytes.forward += p.length;
    this.st.packets.forward++;
    switch (kind) {
      case Kind.FORWARD: {
        const n = c.next;
        if (n === undefined || n.state !== 'open') return this.drop('no_next');
        const inner = pt.subarray(1);
        if (dataFramingError(inner) !== null) return this.drop('malformed');
        if (dataReceiverIdx(inner) !== n.peerIdx) return this.drop('misrouted');
        this.send(n.endpoint, inner);
        return;
      }
      case Kind.IP:
        return this.toExit(c, pt.subarray(1));
      case Kind.CONTROL: {
        const body = pt.subarray(1);
        if (body.length > 0 && body[0]! >= APP_CONTROL_MIN) {
          this.st.packets.control++;
          if (this.hooks === undefined) return this.drop('protocol');
          this.hooks.onControl(c.id, body);
          return;
        }
        let ctrl: Control;
        try {
          ctrl = decodeControl(body);
        } catch (e) {
          if (e instanceof MalformedPacketError) return this.drop('malformed');
          throw e;
        }
        this.st.packets.control++;
        return this.onControl(c, ctrl, now);
      }
      case Kind.PADDING:
        return this.echoPadding(c);
      default:
        return this.drop('malformed');
    }
  }

  /**
   * Answers a PADDING addressed to this hop with an empty PADDING (unbilled, as controls):
   * the client's liveness probe (client/circuit-liveness.ts). One answer per PADDING, never
   * larger than it, so it cannot amplify.
   */
  private echoPadding(c: RelayCircuit): void {
    const out = sealOne(c.session, c.prevPeerIdx, Kind.PADDING, Buffer.alloc(0), this.clock.now());
    if (out === null) return this.drop('expired');
    this.hooks?.meter?.(c.id, 'backward', out.length, false);
    c.bytesBackward += out.length;
    this.send(c.prevEndpoint, out);
  }

  private backward(c: RelayCircuit, p: Buffer, from: Endpoint): void {
    const n = c.next;
    if (n === undefined || n.state !== 'open' || !sameEndpoint(from, n.endpoint)) return this.drop('misrouted');
    if (!this.admitBackward(c, p.length + LAYER_OVERHEAD)) return this.drop('unpaid');
    const out = sealOne(c.session, c.prevPeerIdx, Kind.FORWARD, p, this.clock.now());
    if (out === null) return this.drop('expired');
    c.bytesBackward += out.length;
    this.st.forwardedBytes.backward += out.length;
    this.st.packets.backward++;
    this.send(c.prevEndpoint, out);
  }

  private toExit(c: RelayCircuit, ip: Buffer): void {
    const exit = this.exit;
    if (exit === undefined || c.exitAddr < 0) return this.drop('not_exit');
    if (!isIpv4Packet(ip)) return this.drop('not_ipv4');
    if (ipv4Src(ip) !== c.exitAddr) return this.drop('spoofed');
    if (!exit.policy.allows(ipv4Dst(ip), ipv4Proto(ip), ipv4DstPort(ip))) return this.drop('policy');
    this.st.packets.exitOut++;
    if (this.exitBatch !== undefined) this.exitBatch.push(ip);
    else exit.write([ip]);
  }

  private fromTun(ip: Buffer): void {
    if (this.pool === undefined) return this.drop('not_exit');
    if (!isIpv4Packet(ip)) return this.drop('not_ipv4');
    const c = this.pool.owner(ipv4Dst(ip));
    if (c === undefined) return this.drop('no_route');
    if (!this.admitBackward(c, ip.length + LAYER_OVERHEAD)) return this.drop('unpaid');
    const out = sealOne(c.session, c.prevPeerIdx, Kind.IP, ip, this.clock.now());
    if (out === null) return this.drop('expired');
    c.bytesBackward += out.length;
    this.st.forwardedBytes.backward += out.length;
    this.st.packets.exitIn++;
    this.send(c.prevEndpoint, out);
  }

  // ------------------------------------------------------------------ control

  private admitBackward(c: RelayCircuit, bytes: number): boolean {
    const m = this.hooks?.meter;
    return m === undefined || m(c.id, 'backward', bytes, true);
  }

  private sendControl(c: RelayCircuit, ctrl: Control): void {
    this.sendControlBody(c, encodeControl(ctrl));
  }

  private sendControlBody(c: RelayCircuit, body: Buffer): boolean {
    const out = sealOne(c.session, c.prevPeerIdx, Kind.CONTROL, body, this.clock.now());
    if (out === null) {
      this.drop('expired');
      return false;
    }
    this.hooks?.meter?.(c.id, 'backward', out.length, false);
    c.bytesBackward += out.length;
    this.send(c.prevEndpoint, out);
    return true;
  }

  private onControl(c: RelayCircuit, ctrl: Control, now: number): void {
    switch (ctrl.ctype) {
      case Ctrl.EXTEND: {
        if (c.exitAddr >= 0) return this.drop('protocol');
        const x = ctrl.init.toString('hex', 16, 48);
        const n = c.next;
        if (n !== undefined) {
          if (n.initX === x) {
            if (n.state === 'open' && n.resp) this.sendControl(c, { ctype: Ctrl.EXTENDED, resp: n.resp });
            return; // still extending: our own retries are running
          }
          if (n.state === 'open') return this.drop('protocol'); // TRUNCATE first
        }
        const idx = this.table.allocIdx();
        const init = Buffer.from(ctrl.init);
        setInitSenderIdx(init, idx);
        this.table.bindNext(c, { idx, peerIdx: 0, endpoint: ctrl.endpoint, state: 'extending', init, initX: x, startedAt: now, lastSentAt: now, resp: undefined });
        this.send(ctrl.endpoint, init);
        return;
      }
      case Ctrl.EXIT_OPEN:
      case Ctrl.EXIT_RESUME: {
        if (this.pool === undefined) return this.sendControl(c, { ctype: Ctrl.EXIT_REFUSED, reason: RefuseReason.NOT_AN_EXIT });
        if (c.next !== undefined) return this.sendControl(c, { ctype: Ctrl.EXIT_REFUSED, reason: RefuseReason.BAD_REQUEST });
        if (c.exitAddr < 0 && ctrl.ctype === Ctrl.EXIT_RESUME) c.exitAddr = this.resume!.redeem(ctrl.token, c);
        if (c.exitAddr < 0) {
          const a = this.pool.alloc(c);
          if (a < 0) return this.sendControl(c, { ctype: Ctrl.EXIT_REFUSED, reason: RefuseReason.POOL_EXHAUSTED });
          c.exitAddr = a;
        }
        this.sendControl(c, { ctype: Ctrl.EXIT_OPENED, ipv4: formatIpv4(c.exitAddr), prefixLen: this.pool.prefixLen, dns: this.dns });
        // After EXIT_OPENED, so a client that does not know RESUME_TOKEN is already up when it drops it.
        return this.sendControl(c, { ctype: Ctrl.RESUME_TOKEN, ttlS: this.resume!.ttlS, token: this.resume!.issue(c) });
      }
      case Ctrl.REKEY: {
        const x = ctrl.init.toString('hex', 16, 48);
        if (c.rekeyX === x && c.rekeyResp !== undefined) return this.sendControl(c, { ctype: Ctrl.REKEYED, resp: c.rekeyResp });
        let r;
        try {
          r = respond(this.responder, ctrl.init, c.prevIdx);
        } catch (e) {
          if (e instanceof HandshakeError) return this.drop('handshake');
          throw e;
        }
        // Answer under the current keys first, then install the new epoch as pending.
        this.sendControl(c, { ctype: Ctrl.REKEYED, resp: r.resp });
        c.session.rekeyResponder(r.keys, now);
        c.rekeyX = x;
        c.rekeyResp = r.resp;
        this.st.handshakes.rekeyed++;
        return;
      }
      case Ctrl.TRUNCATE: {
        const n = c.next;
        if (n === undefined) return;
        if (n.state === 'open') this.send(n.endpoint, encodeDestroy(n.peerIdx));
        this.table.unbindNext(c);
        return;
      }
      default:
        return this.drop('protocol');
    }
  }

  // ------------------------------------------------------------------ lifecycle

  private teardown(c: RelayCircuit, notifyPrev: boolean, notifyNext: boolean, why: 'destroyed' | 'idle' | 'stopped'): void {
    if (!this.table.has(c)) return;
    const n = c.next;
    if (notifyNext && n !== undefined && n.state === 'open') this.send(n.endpoint, encodeDestroy(n.peerIdx));
    if (notifyPrev) this.send(c.prevEndpoint, encodeDestroy(c.prevPeerIdx));
    if (c.exitAddr >= 0 && this.pool) this.pool.free(c.exitAddr);
    c.exitAddr = -1;
    this.table.remove(c);
    this.st.circuitsClosed[why]++;
    this.hooks?.onClosed?.(c.id, why);
    this.log.debug({ circuit: c.id, why }, 'relay: circuit freed');
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => this.tick(), this.o.tickMs);
  }

  /** Housekeeping: idle expiry, EXTEND retries / give-up. Runs every tickMs while started. */
  tick(): void {
    try {
      const now = this.clock.now();
      for (const c of [...this.table.values()]) {
        if (now - c.lastActivity >= this.o.idleMs) {
          this.teardown(c, true, true, 'idle');
          continue;
        }
        const n = c.next;
        if (n !== undefined && n.state === 'extending') {
          if (now - n.startedAt >= this.o.giveUpMs) {
            this.table.unbindNext(c);
            this.st.handshakes.extendFailed++;
            this.sendControl(c, { ctype: Ctrl.EXTEND_FAILED, reason: RefuseReason.NO_ANSWER });
          } else if (now - n.lastSentAt >= this.o.retryMs) {
            n.lastSentAt = now;
            this.send(n.endpoint, n.init);
          }
        }
      }
    } catch (e) {
      this.st.drops.internal++;
      this.log.error({ err: e }, 'relay: tick threw');
    }
    this.schedule();
  }
}
