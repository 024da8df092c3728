/**
 * A drop-in for relay/udp.ts's `openUdp` on top of a Bind, so the daemons can switch to the
 * batched socket by changing one call: the same options (`host`, `port`, `bufferBytes`,
 * `log`, `onDatagram`) and the same transport shape (`local`, `recvBufferBytes`,
 * `sendBufferBytes`, `send`, `stats()` with the UdpStats fields, `close(): Promise<void>`).
 *
 * Like openUdp's transport, `send` never throws: after close() it does nothing, and a
 * datagram the Bind refuses (bad endpoint, too large) is counted in `sendErrors` and logged
 * at most every 5 s. A fatal socket error is logged; receiving has stopped by then.
 */
import type { Logger } from 'pino';
import { BindError, DEFAULT_SOCKET_BUFFER, type Bind, type BindImpl, type BindStats, type Endpoint } from './bind.js';
import { openBind } from './open.js';
import type { MemoryNetwork } from './memory.js';

export interface BindTransportOptions {
  host: string;
  port: number;
  /** Socket buffer size asked for, both directions (default DEFAULT_SOCKET_BUFFER). */
  bufferBytes?: number;
  /** Default: native when its addon is built, else dgram. */
  impl?: BindImpl;
  /** Native only: UDP GSO/GRO (default true). */
  offload?: boolean;
  /** With impl 'memory'. */
  network?: MemoryNetwork;
  log: Logger;
  /** Called once per datagram, in arrival order (what openUdp's callers expect). */
  onDatagram(packet: Buffer, from: Endpoint): void;
  /** If given, called once per received batch instead of onDatagram. */
  onBatch?(packets: Buffer[], from: Endpoint[]): void;
}

/** UdpStats (relay/udp.ts) plus the Bind's own counters. */
export interface BindTransportStats extends BindStats {
  datagramsIn: number;
  datagramsOut: number;
}

export interface BindTransport {
  readonly impl: BindImpl;
  readonly local: Endpoint;
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  send(to: Endpoint, packet: Buffer): void;
  stats(): BindTransportStats;
  close(): Promise<void>;
  /** The underlying Bind (sendBatch, onBatch). */
  readonly bind: Bind;
}

const ERR_LOG_INTERVAL_MS = 5_000;

export async function openBindTransport(opts: BindTransportOptions): Promise<BindTransport> {
  const size = opts.bufferBytes ?? DEFAULT_SOCKET_BUFFER;
  const bind = await openBind({
    host: opts.host,
    port: opts.port,
    rcvbuf: size,
    sndbuf: size,
    ...(opts.impl !== undefined ? { impl: opts.impl } : {}),
    ...(opts.offload !== undefined ? { offload: opts.offload } : {}),
    ...(opts.network !== undefined ? { network: opts.network } : {}),
  });
  const log = opts.log;
  let closed = false;
  let refused = 0;
  let lastErrLog = 0;
  const onBatch = opts.onBatch;
  const onDatagram = opts.onDatagram;
  bind.onBatch(
    onBatch ??
      ((packets, from) => {
        for (let i = 0; i < packets.length; i++) onDatagram(packets[i] as Buffer, from[i] as Endpoint);
      }),
  );
  bind.onError((err) => log.error({ err: err.message, code: err.code }, 'udp socket failed; receiving stopped'));
  return {
    impl: bind.impl,
    local: bind.local,
    recvBufferBytes: bind.recvBufferBytes,
    sendBufferBytes: bind.sendBufferBytes,
    bind,
    send(to, packet) {
      if (closed) return;
      try {
        bind.send(to, packet);
      } catch (err) {
        if (!(err instanceof BindError)) throw err;
        refused++;
        const now = Date.now();
        if (now - lastErrLog > ERR_LOG_INTERVAL_MS) {
          lastErrLog = now;
          log.warn({ err: err.message, refused }, 'udp send refused');
        }
      }
    },
    stats() {
      const s = bind.stats();
      return { ...s, sendErrors: s.sendErrors + refused, datagramsIn: s.packetsIn, datagramsOut: s.packetsOut };
    },
    close() {
      if (!closed) {
        closed = true;
        bind.close();
      }
      return Promise.resolve();
    },
  };
}
