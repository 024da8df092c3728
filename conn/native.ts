/**
 * The batched Bind: the native addon conn/native/udp.cc (built to build/Release/udp.node by
 * `npm run build:native`), recvmmsg/sendmmsg on a non-blocking socket watched by uv_poll.
 * See conn/bind.ts for the contract.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../common/paths.js';
import {
  BATCH,
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
import { AddressParser, EndpointCache } from './endpoint.js';

/** Shape of the addon's UdpSocket (see the contract at the top of conn/native/udp.cc). */
export interface NativeUdpSocket {
  readonly port: number;
  readonly rcvbuf: number;
  readonly sndbuf: number;
  readonly gro: boolean;
  readonly meta: ArrayBuffer;
  readonly sendAddrs: ArrayBuffer;
  start(onBatch: (slab: ArrayBuffer, count: number) => void, onWritable: () => void, onError: (err: Error) => void, reading: boolean): void;
  send(packets: Buffer[], start: number, count: number, gso: boolean): number;
  wantWritable(): void;
  startReading(): void;
  counters(): number[];
  close(): void;
}
export type NativeUdpCtor = new (host: string, port: number, rcvbuf: number, sndbuf: number, gro: boolean) => NativeUdpSocket;

/** Packets per addon send() call (kSendMax in udp.cc). */
const SEND_MAX = 1024;

const loaded = new Map<string, NativeUdpCtor>();

/** Path of the compiled addon. */
export function udpAddonPath(): string {
  return join(repoRoot(), 'build', 'Release', 'udp.node');
}

/** Whether the addon is built (openBind's default implementation depends on it). */
export function nativeBindAvailable(path: string = udpAddonPath()): boolean {
  return existsSync(path);
}

/** Loads the addon (cached per path). Throws BindError telling how to build it when it is missing or unloadable. */
export function loadUdpAddon(path: string = udpAddonPath()): NativeUdpCtor {
  const hit = loaded.get(path);
  if (hit) return hit;
  if (!existsSync(path)) throw new BindError(`udp: native addon missing at ${path}; run npm run build:native`, 'ENOENT');
  const req = createRequire(import.meta.url);
  let ctor: NativeUdpCtor | undefined;
  try {
    // The addon's exports are untyped; NativeUdpCtor states the contract from udp.cc.
    ctor = (req(path) as { UdpSocket?: NativeUdpCtor }).UdpSocket;
  } catch (err) {
    throw new BindError(`udp: cannot load ${path} (${(err as Error).message}); run npm run build:native`);
  }
  if (typeof ctor !== 'function') throw new BindError(`udp: ${path} is not the UDP addon; run npm run build:native`);
  loaded.set(path, ctor);
  return ctor;
}

/** Words an operator can act on, for an errno name from bind(2). */
export function bindHint(code: string | undefined): string {
  switch (code) {
    case 'EADDRINUSE':
      return ' (EADDRINUSE: the port is in use by another socket)';
    case 'EADDRNOTAVAIL':
      return ' (no local interface has this address)';
    case 'EACCES':
      return ' (a privileged port needs root or CAP_NET_BIND_SERVICE)';
    default:
      return '';
  }
}

export interface NativeBindOptions {
  host: string;
  port: number;
  rcvbuf?: number;
  sndbuf?: number;
  /** UDP GSO on send and GRO on receive (default true). */
  offload?: boolean;
}

export function openNativeBind(opts: NativeBindOptions): NativeBind {
  const Native = loadUdpAddon();
  const offload = opts.offload ?? true;
  let dev: NativeUdpSocket;
  try {
    dev = new Native(opts.host, opts.port, opts.rcvbuf ?? DEFAULT_SOCKET_BUFFER, opts.sndbuf ?? DEFAULT_SOCKET_BUFFER, offload);
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new BindError(`${e.message}${bindHint(e.code)}`, e.code);
  }
  return new NativeBind(dev, opts.host, offload);
}

export class NativeBind implements Bind {
  readonly impl = 'native' as const;
  readonly local: Endpoint;
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  private closed = false;
  private started = false;
  private batchHandler: ((packets: Buffer[], from: Endpoint[]) => void) | undefined;
  private errorHandler: ((err: BindError) => void) | undefined;
  private readonly endpoints = new EndpointCache();
  private readonly parser = new AddressParser();
  private readonly meta: Uint32Array;
  private readonly addrs: Uint32Array;
  // Datagrams queued by send() and not yet taken by the kernel: pending[head..].
  private pending: Buffer[] = [];
  private pendingIp: number[] = [];
  private pendingPort: number[] = [];
  private head = 0;
  private flushQueued = false;
  private waitingWritable = false;
  private readonly st = emptyStats();
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    if (!this.closed) this.flush();
  };

  /** Use openNativeBind() or openBind(). */
  constructor(
    private readonly dev: NativeUdpSocket,
    host: string,
    private readonly gso: boolean,
  ) {
    this.local = Object.freeze({ host, port: dev.port });
    this.recvBufferBytes = dev.rcvbuf;
    this.sendBufferBytes = dev.sndbuf;
    this.meta = new Uint32Array(dev.meta);
    this.addrs = new Uint32Array(dev.sendAddrs);
  }

  onBatch(handler: (packets: Buffer[], from: Endpoint[]) => void): void {
    if (this.closed) return;
    this.batchHandler = handler;
    if (this.started) this.dev.startReading();
    else this.startPolling(true);
  }

  onError(handler: (err: BindError) => void): void {
    this.errorHandler = handler;
  }

  send(to: Endpoint, packet: Buffer): void {
    if (this.closed) throw new BindClosedError(this.local);
    if (packet.length > MAX_DATAGRAM) throw new PacketSizeError(packet.length);
    const ip = this.parser.ip(to);
    this.enqueue(ip, to.port, packet);
    if (this.waitingWritable) return;
    if (this.pending.length - this.head >= BATCH) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushTask);
    }
  }

  sendBatch(items: readonly SendItem[]): number {
    if (this.closed) throw new BindClosedError(this.local);
    const ips = new Array<number>(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as SendItem;
      if (it.packet.length > MAX_DATAGRAM) throw new PacketSizeError(it.packet.length);
      ips[i] = this.parser.ip(it.to);
    }
    let accepted = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as SendItem;
      if (this.enqueue(ips[i] as number, it.to.port, it.packet)) accepted++;
    }
    this.flush();
    return accepted;
  }

  stats(): BindStats {
    const c = this.closed ? this.lastCounters : this.dev.counters();
    return {
      ...this.st,
      sendErrors: c[0] ?? 0,
      sendWaits: c[1] ?? 0,
      gsoMessages: c[2] ?? 0,
      groMessages: c[3] ?? 0,
      batchesOut: c[5] ?? 0,
      packetsOut: c[6] ?? 0,
      bytesOut: c[7] ?? 0,
    };
  }

  private lastCounters: number[] = [];

  close(): void {
    if (this.closed) return;
    if (!this.waitingWritable) this.flush();
    this.lastCounters = this.dev.counters();
    this.closed = true;
    this.batchHandler = undefined;
    this.errorHandler = undefined;
    this.pending = [];
    this.pendingIp = [];
    this.pendingPort = [];
    this.head = 0;
    this.dev.close();
  }

  private startPolling(reading: boolean): void {
    if (this.started) return;
    this.started = true;
    this.dev.start(
      (slab, count) => this.deliver(slab, count),
      () => {
        this.waitingWritable = false;
        if (!this.closed) this.flush();
      },
      (err) => this.fail(err),
      reading,
    );
  }

  /** Returns false (and counts a drop) when MAX_PENDING datagrams are already waiting. */
  private enqueue(ip: number, port: number, packet: Buffer): boolean {
    if (this.pending.length - this.head >= MAX_PENDING) {
      this.st.sendDropped++;
      return false;
    }
    this.pending.push(packet);
    this.pendingIp.push(ip);
    this.pendingPort.push(port);
    return true;
  }

  private flush(): void {
    const end = this.pending.length;
    while (this.head < end && !this.waitingWritable) {
      const start = this.head;
      const n = Math.min(end - start, SEND_MAX);
      const a = this.addrs;
      for (let i = 0; i < n; i++) {
        a[2 * i] = this.pendingIp[start + i] as number;
        a[2 * i + 1] = this.pendingPort[start + i] as number;
      }
      const done = this.dev.send(this.pending, start, n, this.gso);
      this.head += done;
      if (done < n) {
        // Socket buffer full: resume when it drains (the started poll reports it).
        this.waitingWritable = true;
        this.startPolling(false);
        this.dev.wantWritable();
      }
    }
    if (this.head === this.pending.length) {
      this.pending.length = 0;
      this.pendingIp.length = 0;
      this.pendingPort.length = 0;
      this.head = 0;
    } else if (this.head >= 1024) {
      this.pending = this.pending.slice(this.head);
      this.pendingIp = this.pendingIp.slice(this.head);
      this.pendingPort = this.pendingPort.slice(this.head);
      this.head = 0;
    }
  }

  private deliver(slab: ArrayBuffer, count: number): void {
    const handler = this.batchHandler;
    if (this.closed || !handler) return;
    // One fresh slab per batch, never reused by the addon: the views may be kept.
    const packets = new Array<Buffer>(count);
    const from = new Array<Endpoint>(count);
    const m = this.meta;
    let off = 0;
    // Runs from one sender (GRO segments, bursts) reuse the previous lookup.
    let lastIp = -1;
    let lastPort = -1;
    let lastEp: Endpoint | undefined;
    for (let i = 0; i < count; i++) {
      const len = m[3 * i] as number;
      const ip = m[3 * i + 1] as number;
      const port = m[3 * i + 2] as number;
      packets[i] = Buffer.from(slab, off, len);
      if (ip !== lastIp || port !== lastPort || lastEp === undefined) {
        lastEp = this.endpoints.get(ip, port);
        lastIp = ip;
        lastPort = port;
      }
      from[i] = lastEp;
      off += len;
    }
    this.st.packetsIn += count;
    this.st.bytesIn += off;
    this.st.batchesIn++;
    handler(packets, from);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    const e = new BindError(err.message, (err as Error & { code?: string }).code);
    if (this.errorHandler) this.errorHandler(e);
    else throw e;
  }
}
