/**
 * The node:dgram Bind: one 'message' callback and one system call per datagram (libuv
 * queues sends the socket cannot take yet). The reference the native Bind is measured
 * against, and the fallback when the addon is not built. See conn/bind.ts for the contract.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  BindClosedError,
  BindError,
  DEFAULT_SOCKET_BUFFER,
  emptyStats,
  MAX_DATAGRAM,
  MAX_PENDING,
  PacketSizeError,
  type Bind,
  type BindStats,
  type Endpoint,
  type SendItem,
} from './bind.js';
import { AddressParser, EndpointCache, parseIpv4 } from './endpoint.js';
import { bindHint } from './native.js';

export interface DgramBindOptions {
  host: string;
  port: number;
  rcvbuf?: number;
  sndbuf?: number;
}

export async function openDgramBind(opts: DgramBindOptions): Promise<DgramBind> {
  if (parseIpv4(opts.host) === undefined || !Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    throw new BindError(`udp ${opts.host}:${opts.port}: address: Invalid argument`, 'EINVAL');
  }
  const sock: Socket = createSocket({
    type: 'udp4',
    recvBufferSize: opts.rcvbuf ?? DEFAULT_SOCKET_BUFFER,
    sendBufferSize: opts.sndbuf ?? DEFAULT_SOCKET_BUFFER,
  });
  await new Promise<void>((resolve, reject) => {
    const onErr = (err: Error & { code?: string }): void => {
      sock.close();
      reject(new BindError(`udp ${opts.host}:${opts.port}: bind: ${err.message}${bindHint(err.code)}`, err.code));
    };
    sock.once('error', onErr);
    sock.bind(opts.port, opts.host, () => {
      sock.off('error', onErr);
      resolve();
    });
  });
  return new DgramBind(sock, opts.host);
}

export class DgramBind implements Bind {
  readonly impl = 'dgram' as const;
  readonly local: Endpoint;
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  private closed = false;
  // Datagrams that arrived before onBatch was first called (node:dgram reads from bind on).
  private early: { packets: Buffer[]; from: Endpoint[] } | undefined = { packets: [], from: [] };
  private batchHandler: ((packets: Buffer[], from: Endpoint[]) => void) | undefined;
  private errorHandler: ((err: BindError) => void) | undefined;
  private readonly endpoints = new EndpointCache();
  private readonly parser = new AddressParser();
  private readonly st = emptyStats();
  private readonly onSent = (err: Error | null): void => {
    if (err) this.st.sendErrors++;
  };
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const handler = this.batchHandler;
    if (this.closed) return;
    if (!handler) {
      const e = this.early;
      if (e && e.packets.length < MAX_PENDING) {
        e.packets.push(msg);
        e.from.push(this.endpoints.getByHost(rinfo.address, rinfo.port));
      }
      return;
    }
    this.st.packetsIn++;
    this.st.bytesIn += msg.length;
    this.st.batchesIn++;
    handler([msg], [this.endpoints.getByHost(rinfo.address, rinfo.port)]);
  };

  /** Use openDgramBind() or openBind(). */
  constructor(
    private readonly sock: Socket,
    host: string,
  ) {
    this.local = Object.freeze({ host, port: sock.address().port });
    this.recvBufferBytes = sock.getRecvBufferSize();
    this.sendBufferBytes = sock.getSendBufferSize();
    sock.on('error', (err: Error & { code?: string }) => this.fail(err));
    sock.on('message', this.onMessage);
  }

  onBatch(handler: (packets: Buffer[], from: Endpoint[]) => void): void {
    if (this.closed) return;
    this.batchHandler = handler;
    const e = this.early;
    this.early = undefined;
    if (e && e.packets.length > 0) {
      queueMicrotask(() => {
        const h = this.batchHandler;
        if (this.closed || !h) return;
        this.st.packetsIn += e.packets.length;
        for (const p of e.packets) this.st.bytesIn += p.length;
        this.st.batchesIn++;
        h(e.packets, e.from);
      });
    }
  }

  onError(handler: (err: BindError) => void): void {
    this.errorHandler = handler;
  }

  send(to: Endpoint, packet: Buffer): void {
    if (this.closed) throw new BindClosedError(this.local);
    if (packet.length > MAX_DATAGRAM) throw new PacketSizeError(packet.length);
    this.parser.ip(to);
    this.st.packetsOut++;
    this.st.bytesOut += packet.length;
    this.st.batchesOut++;
    this.sock.send(packet, to.port, to.host, this.onSent);
  }

  sendBatch(items: readonly SendItem[]): number {
    if (this.closed) throw new BindClosedError(this.local);
    for (const it of items) {
      if (it.packet.length > MAX_DATAGRAM) throw new PacketSizeError(it.packet.length);
      this.parser.ip(it.to);
    }
    for (const it of items) this.send(it.to, it.packet);
    return items.length;
  }

  stats(): BindStats {
    return { ...this.st };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.batchHandler = undefined;
    this.errorHandler = undefined;
    this.early = undefined;
    this.sock.off('message', this.onMessage);
    this.sock.close();
  }

  private fail(err: Error & { code?: string }): void {
    if (this.closed) return;
    const e = new BindError(`udp ${this.local.host}:${this.local.port}: ${err.message}`, err.code);
    if (this.errorHandler) this.errorHandler(e);
    else throw e;
  }
}
