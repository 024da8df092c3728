import { TunClosedError, TunError, type Tun, type TunOptions, type TunStats } from './tun.js';

/** Packets per onPackets batch at most, as in the Linux addon. */
export const MEMORY_TUN_BATCH = 64;

export interface MemoryTunOptions extends TunOptions {
  /** Packets the "kernel side" queues while nobody reads; more are dropped (Linux: txqueuelen 500). */
  queueLimit?: number;
}

/**
 * An in-process TUN device with the same observable behaviour as LinuxTun:
 * - `inject()` plays the kernel producing packets: they are queued and delivered later
 *   (setImmediate, like a poll wake-up) in batches of up to 64, each Buffer a private copy.
 *   Nothing is delivered before the first onPackets() call; packets wait in the queue.
 * - `write()` accepts a packet only if it is 1..mtu bytes and starts like IPv4 or IPv6
 *   (the kernel's EINVAL check); others are counted as dropped. Accepted packets are
 *   copied (the caller may reuse its buffer), appended to `written` and given to every
 *   onWrite() observer.
 * - After close(): write() throws TunClosedError, queued packets are discarded and no
 *   callback fires. `vanish()` plays the interface being deleted under an open device.
 */
export class MemoryTun implements Tun {
  readonly name: string;
  readonly mtu: number;
  /** Every packet the device accepted from write(), in order. */
  readonly written: Buffer[] = [];
  private readonly queueLimit: number;
  private readonly queue: Buffer[] = [];
  private readonly writeObservers: Array<(packets: Buffer[]) => void> = [];
  private packetsHandler: ((packets: Buffer[]) => void) | undefined;
  private errorHandler: ((err: Error) => void) | undefined;
  private scheduled = false;
  private closed = false;
  private gone = false;
  private readonly counters: TunStats = { packetsRead: 0, bytesRead: 0, packetsWritten: 0, writeDropped: 0 };

  constructor(opts: MemoryTunOptions) {
    if (opts.name.length === 0 || opts.name.length > 15) throw new TunError(`tun ${opts.name}: interface name must be 1..15 characters`);
    const mtu = opts.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new TunError(`tun ${opts.name}: mtu ${mtu} out of range 68..65535`);
    this.name = opts.name;
    this.mtu = mtu;
    this.queueLimit = opts.queueLimit ?? 500;
  }

  /** Two devices wired back to back: what one accepts from write() the other reads. */
  static pair(a: MemoryTunOptions, b: MemoryTunOptions): [MemoryTun, MemoryTun] {
    const ta = new MemoryTun(a);
    const tb = new MemoryTun(b);
    ta.onWrite((p) => tb.inject(p));
    tb.onWrite((p) => ta.inject(p));
    return [ta, tb];
  }

  /** The kernel side sends packets into the device. Returns how many were queued (0 once closed or vanished). */
  inject(packets: Buffer[]): number {
    if (this.closed || this.gone) return 0;
    let queued = 0;
    for (const p of packets) {
      if (this.queue.length >= this.queueLimit) break;
      this.queue.push(Buffer.from(p));
      queued++;
    }
    this.schedule();
    return queued;
  }

  /** Observe packets the device accepts from write() (after `written` is updated). */
  onWrite(handler: (packets: Buffer[]) => void): void {
    this.writeObservers.push(handler);
  }

  /** Plays `ip link del` under the open device: reading stops, onError fires, writes are dropped. */
  vanish(): void {
    if (this.closed || this.gone) return;
    this.gone = true;
    this.queue.length = 0;
    setImmediate(() => {
      if (this.closed) return;
      const err = new TunError(`tun ${this.name}: read: File descriptor in bad state`);
      if (this.errorHandler) this.errorHandler(err);
      else throw err;
    });
  }

  onPackets(handler: (packets: Buffer[]) => void): void {
    if (this.closed) return;
    this.packetsHandler = handler;
    this.schedule();
  }

  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  write(packets: Buffer[]): number {
    if (this.closed) throw new TunClosedError(this.name);
    const accepted: Buffer[] = [];
    for (const p of packets) {
      const version = p.length > 0 ? (p[0] as number) >> 4 : 0;
      if (this.gone || p.length > this.mtu || (version !== 4 && version !== 6)) continue;
      accepted.push(Buffer.from(p));
    }
    this.counters.packetsWritten += accepted.length;
    this.counters.writeDropped += packets.length - accepted.length;
    if (accepted.length > 0) {
      this.written.push(...accepted);
      for (const observe of this.writeObservers) observe(accepted);
    }
    return accepted.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.packetsHandler = undefined;
    this.errorHandler = undefined;
  }

  /** True once close() ran (the Linux interface would be gone). */
  get isClosed(): boolean {
    return this.closed;
  }

  stats(): TunStats {
    return { ...this.counters };
  }

  private schedule(): void {
    if (this.scheduled || !this.packetsHandler || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const handler = this.packetsHandler;
      if (this.closed || !handler) return;
      const batch = this.queue.splice(0, MEMORY_TUN_BATCH);
      if (batch.length === 0) return;
      this.counters.packetsRead += batch.length;
      for (const p of batch) this.counters.bytesRead += p.length;
      this.schedule(); // more than one batch waiting: next turn, like a level-triggered poll
      handler(batch);
    });
  }
}
