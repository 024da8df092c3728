/**
 * An in-process UDP network for unit tests: Binds opened on one MemoryNetwork exchange
 * datagrams through queues, with the same contract as the kernel-backed Binds (conn/bind.ts).
 * Delivery is asynchronous (a later event-loop turn), in order per sender, in batches of up
 * to BATCH. A datagram to an address nobody is bound to, or to a Bind already holding
 * MAX_PENDING undelivered datagrams, is lost and counted in `network.lost`. Packets are
 * copied when sent, as a kernel would.
 */
import {
  BATCH,
  BindClosedError,
  BindError,
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

const ANY = 0;
const EPHEMERAL_FIRST = 49152;

export class MemoryNetwork {
  /** Datagrams nobody received (no such address, or the receiver's queue was full). */
  lost = 0;
  private readonly binds = new Map<number, MemoryBind>(); // key: ip * 65536 + port
  private nextPort = EPHEMERAL_FIRST;

  /** Binds host:port (port 0 picks a free one). Throws BindError EADDRINUSE / EINVAL like bind(2). */
  open(opts: { host: string; port: number }): MemoryBind {
    const ip = parseIpv4(opts.host);
    if (ip === undefined || !Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw new BindError(`udp ${opts.host}:${opts.port}: address: Invalid argument`, 'EINVAL');
    }
    let port = opts.port;
    if (port === 0) {
      for (let tries = 0; tries < 16384; tries++) {
        const p = this.nextPort;
        this.nextPort = p === 65535 ? EPHEMERAL_FIRST : p + 1;
        if (!this.conflicts(ip, p)) {
          port = p;
          break;
        }
      }
      if (port === 0) throw new BindError(`udp ${opts.host}:0: bind: no free port`, 'EADDRINUSE');
    } else if (this.conflicts(ip, port)) {
      throw new BindError(`udp ${opts.host}:${port}: bind: Address already in use (EADDRINUSE: the port is in use by another socket)`, 'EADDRINUSE');
    }
    const b = new MemoryBind(this, ip, port, opts.host);
    this.binds.set(ip * 65536 + port, b);
    return b;
  }

  /** Number of open Binds. */
  get size(): number {
    return this.binds.size;
  }

  /** @internal Hands datagrams from `src` to their receivers. */
  transmit(srcIp: number, srcPort: number, packets: Buffer[], ips: number[], ports: number[]): void {
    for (let i = 0; i < packets.length; i++) {
      const ip = ips[i] as number;
      const port = ports[i] as number;
      const dst = this.binds.get(ip * 65536 + port) ?? this.binds.get(ANY * 65536 + port);
      // An unbound source address takes the destination's (what loopback routing picks).
      if (dst === undefined || !dst.enqueue(Buffer.from(packets[i] as Buffer), srcIp === ANY ? ip : srcIp, srcPort)) this.lost++;
    }
  }

  /** @internal */
  release(b: MemoryBind): void {
    const key = b.ip * 65536 + b.local.port;
    if (this.binds.get(key) === b) this.binds.delete(key);
  }

  private conflicts(ip: number, port: number): boolean {
    if (this.binds.has(ip * 65536 + port)) return true;
    if (ip === ANY) {
      for (const k of this.binds.keys()) if (k % 65536 === port) return true;
      return false;
    }
    return this.binds.has(ANY * 65536 + port);
  }
}

export class MemoryBind implements Bind {
  readonly impl = 'memory' as const;
  readonly local: Endpoint;
  readonly recvBufferBytes = 0;
  readonly sendBufferBytes = 0;
  private closed = false;
  private batchHandler: ((packets: Buffer[], from: Endpoint[]) => void) | undefined;
  private readonly endpoints = new EndpointCache();
  private readonly parser = new AddressParser();
  private readonly st = emptyStats();
  private outPackets: Buffer[] = [];
  private outIps: number[] = [];
  private outPorts: number[] = [];
  private flushQueued = false;
  private inbox: { packet: Buffer; from: Endpoint }[] = [];
  private deliveryQueued = false;
  private readonly flushTask = (): void => {
    this.flushQueued = false;
    if (!this.closed) this.flush();
  };
  private readonly deliverTask = (): void => {
    this.deliveryQueued = false;
    this.deliver();
  };

  /** Use MemoryNetwork.open() or openBind({ impl: 'memory', network }). */
  constructor(
    private readonly net: MemoryNetwork,
    readonly ip: number,
    port: number,
    host: string,
  ) {
    this.local = Object.freeze({ host, port });
  }

  onBatch(handler: (packets: Buffer[], from: Endpoint[]) => void): void {
    if (this.closed) return;
    this.batchHandler = handler;
    this.scheduleDelivery();
  }

  /** The memory network has no fatal errors; the handler is accepted and never called. */
  onError(_handler: (err: BindError) => void): void {}

  send(to: Endpoint, packet: Buffer): void {
    if (this.closed) throw new BindClosedError(this.local);
    if (packet.length > MAX_DATAGRAM) throw new PacketSizeError(packet.length);
    const ip = this.parser.ip(to);
    this.outPackets.push(packet);
    this.outIps.push(ip);
    this.outPorts.push(to.port);
    if (this.outPackets.length >= BATCH) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushTask);
    }
  }

  sendBatch(items: readonly SendItem[]): number {
    if (this.closed) throw new BindClosedError(this.local);
    const ips = items.map((it) => {
      if (it.packet.length > MAX_DATAGRAM) throw new PacketSizeError(it.packet.length);
      return this.parser.ip(it.to);
    });
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as SendItem;
      this.outPackets.push(it.packet);
      this.outIps.push(ips[i] as number);
      this.outPorts.push(it.to.port);
    }
    this.flush();
    return items.length;
  }

  stats(): BindStats {
    return { ...this.st };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.batchHandler = undefined;
    this.inbox = [];
    this.net.release(this);
  }

  /** @internal Called by the network; false when the queue is full or the Bind closed. */
  enqueue(packet: Buffer, srcIp: number, srcPort: number): boolean {
    if (this.closed || this.inbox.length >= MAX_PENDING) return false;
    this.inbox.push({ packet, from: this.endpoints.get(srcIp, srcPort) });
    this.scheduleDelivery();
    return true;
  }

  private flush(): void {
    const n = this.outPackets.length;
    if (n === 0) return;
    const packets = this.outPackets;
    const ips = this.outIps;
    const ports = this.outPorts;
    this.outPackets = [];
    this.outIps = [];
    this.outPorts = [];
    for (const p of packets) this.st.bytesOut += p.length;
    this.st.packetsOut += n;
    this.st.batchesOut++;
    this.net.transmit(this.ip, this.local.port, packets, ips, ports);
  }

  private scheduleDelivery(): void {
    if (this.deliveryQueued || this.batchHandler === undefined || this.inbox.length === 0) return;
    this.deliveryQueued = true;
    setImmediate(this.deliverTask);
  }

  private deliver(): void {
    const handler = this.batchHandler;
    if (this.closed || !handler || this.inbox.length === 0) return;
    const chunk = this.inbox.splice(0, BATCH);
    const packets = chunk.map((c) => c.packet);
    const from = chunk.map((c) => c.from);
    this.st.packetsIn += packets.length;
    for (const p of packets) this.st.bytesIn += p.length;
    this.st.batchesIn++;
    this.scheduleDelivery();
    handler(packets, from);
  }
}
