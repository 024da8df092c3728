/**
 * The UDP seam of the data plane, in the spirit of wireguard-go's `conn.Bind`: one bound
 * IPv4 UDP socket that hands over received datagrams in batches and takes datagrams to send
 * in batches. Three implementations sit behind it (one compliance suite,
 * test/compliance/conn.test.ts, runs against all of them):
 * - `native` (conn/native.ts): recvmmsg/sendmmsg on a non-blocking socket watched by
 *   uv_poll, up to 64 datagrams per system call, UDP GSO for same-destination runs and
 *   UDP GRO on receive, socket buffers forced large when running as root.
 * - `dgram` (conn/dgram.ts): node:dgram, one callback and one system call per datagram.
 * - `memory` (conn/memory.ts): an in-process network for unit tests.
 *
 * Contract:
 * - `onBatch` receives the datagrams of one wake-up, in arrival order: up to BATCH per
 *   receive system call, but with native GRO a coalesced datagram is split back into its
 *   segments, so one batch may hold a few thousand packets.
 *   Each packet is its own Buffer that the callee may keep. `from[i]` is the sender of
 *   `packets[i]`; endpoint objects are cached and frozen: the same sender yields the same
 *   object (and the same `host` string), so comparisons stay cheap. Datagrams that arrive
 *   before the first handler is registered are kept (native: in the socket buffer; dgram
 *   and memory: up to MAX_PENDING in memory) and delivered once it is.
 * - `send` queues one datagram; queued datagrams are flushed in batches at the end of the
 *   current tick (a microtask) or as soon as 64 are queued. `sendBatch` sends at once. The
 *   caller must not modify a packet after handing it over. Sending is lossy like UDP: a
 *   datagram the kernel refuses is counted in `stats().sendErrors`; when the socket buffer
 *   is full the native Bind waits for it to drain, holding at most `MAX_PENDING` datagrams
 *   (more are dropped and counted in `stats().sendDropped`).
 * - Zero-length datagrams are legal and delivered as empty Buffers. A packet longer than
 *   `MAX_DATAGRAM` bytes throws `PacketSizeError`; a destination that is not a dotted-quad
 *   IPv4 address with a port in 1..65535 throws `EndpointError` (both synchronously).
 * - `close()` releases the port before it returns, is idempotent, and no callback runs
 *   after it; `send`/`sendBatch` then throw `BindClosedError`. Datagrams queued by `send`
 *   are flushed first by the native and memory Binds; node:dgram resolves addresses on a
 *   later tick, so the dgram Bind loses datagrams sent in the same tick as close().
 */

/** A UDP peer address. The same shape as relay/engine.ts's and protocol/messages.ts's Endpoint. */
export interface Endpoint {
  host: string;
  port: number;
}

export type BindImpl = 'native' | 'dgram' | 'memory';

export interface SendItem {
  to: Endpoint;
  packet: Buffer;
}

export interface BindStats {
  /** Datagrams and bytes delivered to onBatch, and how many onBatch calls carried them. */
  packetsIn: number;
  bytesIn: number;
  batchesIn: number;
  /** Datagrams and bytes handed to the kernel (dgram: to node:dgram; memory: to the network). */
  packetsOut: number;
  bytesOut: number;
  /** System calls (or dgram sends) that carried them. */
  batchesOut: number;
  /** Datagrams the kernel refused (no route, firewall, ...). */
  sendErrors: number;
  /** Datagrams dropped because more than MAX_PENDING were waiting for the socket buffer. */
  sendDropped: number;
  /** Native only (0 elsewhere): times sending paused until the full socket buffer drained. */
  sendWaits: number;
  /** Native only (0 elsewhere): datagrams sent as UDP GSO messages and received GRO-coalesced. */
  gsoMessages: number;
  groMessages: number;
}

export interface Bind {
  readonly impl: BindImpl;
  /** The bound address; the port is the real one when 0 was asked for. */
  readonly local: Endpoint;
  /** Socket buffer sizes as the kernel reports them (0 for memory). */
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  /** Registers the batch handler (replaces an earlier one) and starts receiving. */
  onBatch(handler: (packets: Buffer[], from: Endpoint[]) => void): void;
  /**
   * Registers the handler of fatal socket errors (receiving has stopped by then). Without
   * one, such an error is thrown as an uncaught exception, like an EventEmitter's.
   */
  onError(handler: (err: BindError) => void): void;
  /** Queues one datagram (see the contract above). */
  send(to: Endpoint, packet: Buffer): void;
  /** Sends queued datagrams and then these, now. Returns how many of `items` were accepted (sent or waiting for the socket buffer). */
  sendBatch(items: readonly SendItem[]): number;
  stats(): BindStats;
  close(): void;
}

export interface BindOptions {
  /** Dotted-quad IPv4 address to bind ('0.0.0.0' for all). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Default: 'native' when the addon is built, else 'dgram'. 'memory' needs `network`. */
  impl?: BindImpl;
  /** Socket buffer sizes asked for; default DEFAULT_SOCKET_BUFFER. */
  rcvbuf?: number;
  sndbuf?: number;
  /** Native only: UDP GSO on send and GRO on receive (default true). */
  offload?: boolean;
}

/** Largest UDP payload over IPv4: 65535 − 20 (IPv4 header) − 8 (UDP header). */
export const MAX_DATAGRAM = 65507;
/** Datagrams per flush and per receive system call. */
export const BATCH = 64;
/** Datagrams the native Bind holds while the socket buffer is full. */
export const MAX_PENDING = 4096;
/** Default socket buffer size asked for (what Tailscale forces). */
export const DEFAULT_SOCKET_BUFFER = 7 * 1024 * 1024;

export class BindError extends Error {
  override name = 'BindError';
  /** errno name (e.g. "EADDRINUSE") when a system call failed. */
  code?: string;
  constructor(message: string, code?: string) {
    super(message);
    if (code !== undefined) this.code = code;
  }
}

export class BindClosedError extends BindError {
  override name = 'BindClosedError';
  constructor(local: Endpoint) {
    super(`udp ${local.host}:${local.port}: bind is closed`, 'ECLOSED');
  }
}

export class PacketSizeError extends BindError {
  override name = 'PacketSizeError';
  constructor(size: number) {
    super(`udp: datagram of ${size} bytes exceeds ${MAX_DATAGRAM}`, 'EMSGSIZE');
  }
}

export class EndpointError extends BindError {
  override name = 'EndpointError';
  constructor(what: string) {
    super(`udp: invalid endpoint ${what} (need a dotted-quad IPv4 address and a port in 1..65535)`, 'EINVAL');
  }
}

export function emptyStats(): BindStats {
  return {
    packetsIn: 0,
    bytesIn: 0,
    batchesIn: 0,
    packetsOut: 0,
    bytesOut: 0,
    batchesOut: 0,
    sendErrors: 0,
    sendDropped: 0,
    sendWaits: 0,
    gsoMessages: 0,
    groMessages: 0,
  };
}
