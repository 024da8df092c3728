/**
 * The TUN seam: a layer-3 device that yields and accepts raw IP packets (no packet-info
 * header). Two implementations sit behind it: `LinuxTun` (native addon over /dev/net/tun,
 * tun/linux.ts) and `MemoryTun` (a pair of in-process queues, tun/memory.ts). One compliance
 * suite (test/compliance/tun.test.ts) runs against both.
 *
 * Contract:
 * - `onPackets` receives batches: every packet the device produced since the last wake-up,
 *   each a separate Buffer that the callee may keep (it is not reused).
 * - `write` takes a batch and returns how many packets the kernel accepted; a packet the
 *   device refuses (too large, malformed) is counted as dropped, never thrown.
 * - After `close()` no callback fires and `write` throws `TunClosedError`.
 */
export interface Tun {
  /** Interface name as the kernel knows it (e.g. "tvpn0"). */
  readonly name: string;
  /** Largest IP packet this device carries. */
  readonly mtu: number;
  /** Register the batch reader. Replaces an earlier one. Reading starts on first call. */
  onPackets(handler: (packets: Buffer[]) => void): void;
  /** Register an error handler (device vanished, read failed). */
  onError(handler: (err: Error) => void): void;
  /** Write packets to the device. Returns the number accepted. */
  write(packets: Buffer[]): number;
  /** Stop reading and release the device. Idempotent. */
  close(): void;
}

export interface TunOptions {
  /** Requested interface name (IFNAMSIZ − 1 = 15 chars max). */
  name: string;
  mtu?: number;
}

export class TunError extends Error {
  override readonly name = 'TunError';
  /** errno name (e.g. "EPERM", "EBUSY") when a system call failed. */
  code?: string;
}

export class TunClosedError extends TunError {
  constructor(dev: string) {
    super(`tun ${dev}: device is closed`);
  }
}

/** Packet counters of one device, seen from the application (both implementations expose stats()). */
export interface TunStats {
  /** Packets and bytes delivered to onPackets. */
  packetsRead: number;
  bytesRead: number;
  /** Packets the device accepted from write(). */
  packetsWritten: number;
  /** Packets passed to write() that the device refused (empty, over the MTU, malformed, queue full). */
  writeDropped: number;
}
