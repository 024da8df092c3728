/**
 * The real network: libp2p over TCP with noise + yamux, identify and ping. Messages travel
 * on one long-lived outbound stream per peer (protocol /topchain/msg/1), framed as a 4-byte
 * big-endian length + packed value (wire.ts packValue). Peer identity = the node's Ed25519 key, so the libp2p peer
 * id is derived from the node address and the sender of every frame is authenticated by noise.
 * An address is dialed at the multiaddr its peer book gives (peer-book.ts: the beacon registry's
 * p2p endpoints, then the genesis directory, then config bootstrap peers); a directory node
 * whose registered endpoint fails is tried at its genesis address every other attempt. A peer
 * that dialed us is answered over its connection even if the book does not know it. Peers not
 * in the directory that fail to dial are retried with exponential backoff (≤ 10 s); directory
 * peers every 0.5 s. An inbound connection resets a peer's backoff.
 */
import './shims.js';
import './yamux-window.js';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { Stream, Connection, PeerId } from '@libp2p/interface';
import type { Logger } from 'pino';
import { messageKind, type MessageHandler, type MessageKind, type NetMessage, type Network, type PeerStatus, type TrafficCount } from './net.js';
import { PeerBook, parseP2pMultiaddr, type PeerEntry } from './peer-book.js';
import { packValue, unpackValue } from './wire.js';
import { patchedNoise } from './noise-patches.js';

export type { PeerEntry } from './peer-book.js';

export const MSG_PROTOCOL = '/topchain/msg/1';
/** Largest frame from a peer in the book: a sync response of 32 blocks of up to 3000 txs fits. */
const MAX_FRAME = 64 * 1024 * 1024;
/**
 * Largest frame from a peer the book does not know (it dialed us: a node still syncing before it
 * registers). Such a peer only sends sync requests and forwarded tx batches, so an anonymous
 * connection cannot make a node buffer 64 MiB per stream.
 */
export const MAX_FRAME_UNKNOWN_PEER = 4 * 1024 * 1024;
const MAX_OUTBOX = 4096;
const DIRECTORY_REDIAL_MS = 500;
const MAX_BACKOFF_MS = 10_000;
/** Frames kept for a peer that is backing off (an unreachable registry endpoint must not hoard memory). */
const BACKED_OFF_OUTBOX = 256;
/**
 * libp2p's connection monitor pings every connection on a fresh stream each interval (and aborts
 * it if the ping fails), which finds a peer that vanished without closing its TCP connection.
 * Its default, 10 s, cost an idle 12-node devnet 0.14 cores (7 % of a 2-core machine: stream
 * negotiation, peer-store updates) against 0.025 without it; a minute keeps the check at a
 * sixth of that. Killed or restarted peers close their connections and are redialed at once.
 */
export const CONNECTION_PING_INTERVAL_MS = 60_000;

export interface Libp2pNetworkOptions {
  readonly seedHex: string;
  readonly address: string;
  readonly listen: readonly string[];
  /** The genesis node directory (dialed at these addresses, always). */
  readonly peers: readonly PeerEntry[];
  /** Bootstrap peers: full multiaddrs ending in /p2p/<peer id> (throws PeerBookError if malformed). */
  readonly bootstrap?: readonly string[];
  readonly log: Logger;
}

export function peerIdForAddress(address: string): PeerId {
  return peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(address, 'hex')));
}

function addressOfPeer(p: PeerId): string | undefined {
  const raw = p.publicKey?.raw;
  return raw ? Buffer.from(raw).toString('hex') : undefined;
}

/** A frame waiting for its peer's stream, with its kind for the traffic counters. */
interface QueuedFrame {
  readonly frame: Uint8Array;
  readonly kind: MessageKind;
}

interface Outbound {
  stream?: Stream;
  dialing: boolean;
  /** Frames waiting for a stream (the peer is being dialed or backing off). */
  queue: QueuedFrame[];
  /** Frames written this event-loop turn, sent as one stream write when the turn ends (`flush`). */
  pending: QueuedFrame[];
  nextDialAt: number;
  /** Dial failures since the last success (the backoff of non-directory peers; directory peers are redialed every 0.5 s). */
  failures: number;
  /** The next dial goes to the peer book's fallback (genesis) address; flips on each failure. */
  tryFallback: boolean;
  /** The multiaddr of the last dial attempt (for the peer table). */
  lastDialed?: string;
}

/**
 * Reassembles length-prefixed frames from a byte stream. Throws Error('frame too large') for a
 * length over `maxFrame()` (read at each frame header; MAX_FRAME by default). Chunks wait in a list until the frame they belong to is complete, so a
 * large frame costs linear time however finely it is split.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes (buf + pending) needed before parsing can make progress. */
  private need = 4;
  constructor(private readonly maxFrame: () => number = () => MAX_FRAME) {}
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    this.pending.push(Buffer.from(chunk));
    this.pendingLen += chunk.length;
    if (this.buf.length + this.pendingLen < this.need) return;
    this.buf = Buffer.concat([this.buf, ...this.pending]);
    this.pending = [];
    this.pendingLen = 0;
    for (;;) {
      if (this.buf.length < 4) {
        this.need = 4;
        return;
      }
      const len = this.buf.readUInt32BE(0);
      if (len > this.maxFrame()) throw new Error('frame too large');
      if (this.buf.length < 4 + len) {
        this.need = 4 + len;
        return;
      }
      const frame = this.buf.subarray(4, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      onFrame(frame);
    }
  }
}

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

export class Libp2pNetwork implements Network {
  readonly self: string;
  private node?: Libp2p;
  private readonly handlers: MessageHandler[] = [];
  readonly book: PeerBook;
  private readonly out = new Map<string, Outbound>();
  private redialTimer?: NodeJS.Timeout;
  private stopped = false;
  private readonly sent = new Map<MessageKind, TrafficCount>();
  /** Peers with pending frames, flushed together by one setImmediate. */
  private readonly flushing = new Set<Outbound>();
  private flushTimer?: NodeJS.Immediate;

  constructor(private readonly opts: Libp2pNetworkOptions) {
    this.self = opts.address;
    this.book = new PeerBook(opts.address, opts.peers, (opts.bootstrap ?? []).map((m) => parseP2pMultiaddr(m)));
  }

  setRegistryPeers(peers: readonly PeerEntry[]): void {
    const diff = this.book.setRegistry(peers);
    if (diff.added.length + diff.changed.length + diff.removed.length === 0) return;
    this.opts.log.info({ added: diff.added.map((a) => a.slice(0, 12)), changed: diff.changed.map((a) => a.slice(0, 12)), removed: diff.removed.map((a) => a.slice(0, 12)) }, 'peer book updated from the beacon registry');
    for (const a of [...diff.added, ...diff.changed]) {
      const o = this.outbound(a);
      o.nextDialAt = 0;
      o.failures = 0;
      if (!o.stream || o.stream.status !== 'open') void this.dial(a);
    }
  }

  async start(): Promise<void> {
    const privateKey = await generateKeyPairFromSeed('Ed25519', Buffer.from(this.opts.seedHex, 'hex'));
    this.node = await createLibp2p({
      privateKey,
      addresses: { listen: [...this.opts.listen] },
      transports: [tcp()],
      connectionEncrypters: [patchedNoise()],
      streamMuxers: [yamux()],
      connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS },
      services: { identify: identify(), ping: ping({ maxOutboundStreams: 4 }) },
    });
    await this.node.handle(
      MSG_PROTOCOL,
      (stream: Stream, connection: Connection) => this.onInbound(stream, connection),
      { maxInboundStreams: 8, maxOutboundStreams: 8 },
    );
    await this.node.start();
    // Dial everyone we know now, and again every 0.5 s for those not connected.
    this.redialAll();
    this.redialTimer = setInterval(() => this.redialAll(), 500);
    this.redialTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.redialTimer) clearInterval(this.redialTimer);
    if (this.flushTimer) clearImmediate(this.flushTimer);
    await this.node?.stop();
  }

  listenAddresses(): string[] {
    return this.node?.getMultiaddrs().map((m) => m.toString()) ?? [];
  }

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }

  /** The peer book's entries plus peers known only because they dialed us, with link state. */
  peerTable(): PeerStatus[] {
    const rows: PeerStatus[] = [];
    const seen = new Set<string>();
    for (const e of this.book.entries()) {
      seen.add(e.address);
      const o = this.out.get(e.address);
      rows.push({ address: e.address, source: e.source, multiaddr: e.multiaddr, ...(o?.lastDialed !== undefined && o.lastDialed !== e.multiaddr ? { dialed: o.lastDialed } : {}), connected: o?.stream?.status === 'open', dialFailures: o?.failures ?? 0 });
    }
    for (const [a, o] of this.out) if (!seen.has(a) && a !== this.self) rows.push({ address: a, source: 'inbound', connected: o.stream?.status === 'open', dialFailures: o.failures });
    return rows;
  }

  connectedPeers(): string[] {
    const out: string[] = [];
    for (const [addr, o] of this.out) if (o.stream && o.stream.status === 'open') out.push(addr);
    return out;
  }

  send(to: string, msg: NetMessage): void {
    if (to === this.self || this.stopped) return;
    this.deliver(to, encodeFrame(packValue(msg)), messageKind(msg.k));
  }

  multicast(to: readonly string[], msg: NetMessage): void {
    let frame: Uint8Array | undefined;
    const kind = messageKind(msg.k);
    for (const t of to) {
      if (t === this.self || this.stopped) continue;
      frame ??= encodeFrame(packValue(msg));
      this.deliver(t, frame, kind);
    }
  }

  sentTraffic(): ReadonlyMap<MessageKind, Readonly<TrafficCount>> {
    return this.sent;
  }

  /** Writes `frame` to the peer's stream, or queues it (bounded) and dials. */
  private deliver(to: string, frame: Uint8Array, kind: MessageKind): void {
    const o = this.outbound(to);
    if (o.stream && o.stream.status === 'open') {
      this.write(o, frame, kind);
      return;
    }
    if (o.queue.length < (o.failures > 0 ? BACKED_OFF_OUTBOX : MAX_OUTBOX)) o.queue.push({ frame, kind });
    void this.dial(to);
  }

  /**
   * Appends `frame` to the peer's pending frames; they go out at the end of this event-loop turn
   * as ONE stream write. Every stream write costs a yamux frame, a noise encryption, a socket
   * write (a TCP segment: TCP_NODELAY) and a wakeup of the reader, whatever its size; a node
   * handling one event often sends several messages to the same peer (a commit announcement and
   * an audit share, a vote and a tx batch).
   */
  private write(o: Outbound, frame: Uint8Array, kind: MessageKind): void {
    o.pending.push({ frame, kind });
    this.flushing.add(o);
    this.flushTimer ??= setImmediate(() => this.flush());
  }

  /** Sends every peer's pending frames; a peer whose stream closed meanwhile gets them queued for its redial. */
  private flush(): void {
    this.flushTimer = undefined;
    for (const o of this.flushing) {
      const frames = o.pending;
      o.pending = [];
      const stream = o.stream;
      if (this.stopped) continue;
      if (!stream || stream.status !== 'open') {
        this.requeue(o, frames);
        continue;
      }
      try {
        stream.send(frames.length === 1 ? frames[0]!.frame : Buffer.concat(frames.map((f) => f.frame)));
      } catch {
        if (o.stream === stream) o.stream = undefined;
        this.requeue(o, frames);
        continue;
      }
      for (const f of frames) {
        const c = this.sent.get(f.kind);
        if (c) {
          c.messages++;
          c.bytes += f.frame.length;
        } else this.sent.set(f.kind, { messages: 1, bytes: f.frame.length });
      }
    }
    this.flushing.clear();
  }

  private requeue(o: Outbound, frames: readonly QueuedFrame[]): void {
    const room = (o.failures > 0 ? BACKED_OFF_OUTBOX : MAX_OUTBOX) - o.queue.length;
    if (room > 0) o.queue.push(...frames.slice(0, room));
  }

  private outbound(to: string): Outbound {
    let o = this.out.get(to);
    if (!o) {
      o = { dialing: false, queue: [], pending: [], nextDialAt: 0, failures: 0, tryFallback: false };
      this.out.set(to, o);
    }
    return o;
  }

  private redialAll(): void {
    for (const addr of this.book.addresses()) {
      const o = this.outbound(addr);
      if (!o.stream || o.stream.status !== 'open') void this.dial(addr);
    }
  }

  private async dial(to: string): Promise<void> {
    const o = this.outbound(to);
    const node = this.node;
    if (!node || o.dialing || this.stopped) return;
    if (Date.now() < o.nextDialAt) return;
    o.dialing = true;
    const fallback = this.book.fallback(to);
    try {
      const entry = (o.tryFallback ? fallback : undefined) ?? this.book.lookup(to);
      const pid = peerIdForAddress(to);
      o.lastDialed = entry?.multiaddr;
      const target = entry ? multiaddr(`${entry.multiaddr}/p2p/${pid.toString()}`) : pid;
      const stream = await node.dialProtocol(target, MSG_PROTOCOL, { signal: AbortSignal.timeout(3000) });
      stream.inactivityTimeout = 0;
      o.stream = stream;
      o.failures = 0;
      o.tryFallback = false;
      stream.addEventListener('close', () => {
        if (o.stream === stream) o.stream = undefined;
      });
      // Drain inbound bytes on our outbound stream (the peer never writes here).
      stream.addEventListener('message', () => {});
      const queued = o.queue;
      o.queue = [];
      for (const q of queued) this.write(o, q.frame, q.kind);
    } catch (e) {
      o.queue = o.queue.slice(-BACKED_OFF_OUTBOX);
      const entry = this.book.lookup(to);
      o.tryFallback = fallback !== undefined && !o.tryFallback;
      o.failures++;
      if (!entry || this.book.isDirectory(to)) {
        o.nextDialAt = Date.now() + DIRECTORY_REDIAL_MS;
        this.opts.log.debug({ peer: to.slice(0, 12), err: (e as Error).message, ...(fallback ? { next: o.tryFallback ? 'genesis address' : 'registered address' } : {}) }, 'dial failed');
      } else {
        o.nextDialAt = Date.now() + Math.min(MAX_BACKOFF_MS, DIRECTORY_REDIAL_MS * 2 ** Math.min(o.failures - 1, 10));
        // First failure of a learned peer at info (a bad or unreachable registry endpoint), then debug.
        this.opts.log[o.failures === 1 ? 'info' : 'debug']({ peer: to.slice(0, 12), source: entry.source, multiaddr: entry.multiaddr.slice(0, 120), failures: o.failures, err: (e as Error).message }, 'peer unreachable; backing off');
      }
    } finally {
      o.dialing = false;
    }
  }

  private onInbound(stream: Stream, connection: Connection): void {
    const from = addressOfPeer(connection.remotePeer);
    if (!from) {
      stream.abort(new Error('peer without public key'));
      return;
    }
    stream.inactivityTimeout = 0;
    // A backed-off peer is up: clear its backoff and flush what is queued for it.
    const o = this.outbound(from);
    if (o.failures > 0 && (!o.stream || o.stream.status !== 'open')) {
      o.failures = 0;
      o.nextDialAt = 0;
      if (o.queue.length > 0) void this.dial(from);
    }
    const dec = new FrameDecoder(() => (this.book.has(from) ? MAX_FRAME : MAX_FRAME_UNKNOWN_PEER));
    stream.addEventListener('message', (ev) => {
      const data = ev.data;
      const chunk = data instanceof Uint8Array ? data : data.subarray();
      try {
        dec.push(chunk, (frame) => {
          let msg: NetMessage;
          try {
            msg = unpackValue<NetMessage>(frame);
          } catch {
            return;
          }
          if (typeof msg !== 'object' || msg === null || typeof msg.k !== 'string' || typeof msg.c !== 'string') return;
          for (const h of this.handlers) {
            try {
              h(from, msg);
            } catch (e) {
              this.opts.log.warn({ err: (e as Error).message, k: msg.k }, 'message handler threw');
            }
          }
        });
      } catch (e) {
        this.opts.log.info({ peer: from.slice(0, 12), known: this.book.has(from), err: (e as Error).message }, 'inbound stream aborted');
        stream.abort(e as Error);
      }
    });
  }
}
