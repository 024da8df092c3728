import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../common/paths.js';
import { TunClosedError, TunError, type Tun, type TunOptions, type TunStats } from './tun.js';

/**
 * The Linux TUN device: the native addon (tun/native/tun.cc, built to
 * build/Release/tun.node by `npm run build:native`) over /dev/net/tun.
 * The interface is created down and without addresses; bring it up with `ip`. It is not
 * persistent: close() (or process exit) removes it. Needs CAP_NET_ADMIN.
 */
export interface LinuxTunOptions extends TunOptions {
  /**
   * Create the interface inside this network namespace (a name as listed by `ip netns`,
   * or a path such as /proc/<pid>/ns/net). Only the open happens there; reads and writes
   * then work from any namespace.
   */
  netns?: string;
}

/** Shape of the addon's TunDevice (see the contract at the top of tun/native/tun.cc). */
export interface NativeTunDevice {
  readonly name: string;
  readonly mtu: number;
  start(onBatch: (slab: ArrayBuffer, lengths: number[]) => void, onError: (err: Error) => void): void;
  write(packets: Buffer[]): number;
  close(): void;
}
export type NativeTunCtor = new (name: string, mtu: number, netns: string) => NativeTunDevice;

const loaded = new Map<string, NativeTunCtor>();

/** Path of the compiled addon. */
export function nativeAddonPath(): string {
  return join(repoRoot(), 'build', 'Release', 'tun.node');
}

/** Loads the addon (cached per path). Throws TunError telling how to build it when it is missing or unloadable. */
export function loadTunAddon(path: string = nativeAddonPath()): NativeTunCtor {
  const hit = loaded.get(path);
  if (hit) return hit;
  if (!existsSync(path)) throw new TunError(`tun: native addon missing at ${path}; run npm run build:native`);
  const req = createRequire(import.meta.url);
  let ctor: NativeTunCtor | undefined;
  try {
    // The addon's exports are untyped; NativeTunCtor states the contract from tun.cc.
    ctor = (req(path) as { TunDevice?: NativeTunCtor }).TunDevice;
  } catch (err) {
    throw new TunError(`tun: cannot load ${path} (${(err as Error).message}); run npm run build:native`);
  }
  if (typeof ctor !== 'function') throw new TunError(`tun: ${path} is not the TUN addon; run npm run build:native`);
  loaded.set(path, ctor);
  return ctor;
}

/** Why an open failed, in words an operator can act on. */
function hint(code: string | undefined): string {
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return ' (needs CAP_NET_ADMIN: run as root or grant the capability)';
    case 'EBUSY':
      return ' (the name is taken by another open TUN device or a different link type)';
    case 'ENOENT':
      return ' (no /dev/net/tun, or no such network namespace)';
    default:
      return '';
  }
}

/** Opens (creates) a TUN interface. Throws TunError with the errno name in `code`. */
export function openLinuxTun(opts: LinuxTunOptions): LinuxTun {
  const Native = loadTunAddon();
  let dev: NativeTunDevice;
  try {
    dev = new Native(opts.name, opts.mtu ?? 0, opts.netns ?? '');
  } catch (err) {
    const e = err as Error & { code?: string };
    const out = new TunError(`${e.message}${hint(e.code)}`);
    out.code = e.code;
    throw out;
  }
  return new LinuxTun(dev);
}

export class LinuxTun implements Tun {
  readonly name: string;
  readonly mtu: number;
  private closed = false;
  private packetsHandler: ((packets: Buffer[]) => void) | undefined;
  private errorHandler: ((err: Error) => void) | undefined;
  private readonly counters: TunStats = { packetsRead: 0, bytesRead: 0, packetsWritten: 0, writeDropped: 0 };

  /** Use openLinuxTun(). */
  constructor(private readonly dev: NativeTunDevice) {
    this.name = dev.name;
    this.mtu = dev.mtu;
  }

  onPackets(handler: (packets: Buffer[]) => void): void {
    if (this.closed) return;
    const first = this.packetsHandler === undefined;
    this.packetsHandler = handler;
    if (first) this.dev.start((slab, lengths) => this.deliver(slab, lengths), (err) => this.fail(err));
  }

  /**
   * Errors (the interface was deleted, a read failed) go here; reading has stopped by then.
   * Without a handler the error is thrown as an uncaught exception, like an EventEmitter's.
   */
  onError(handler: (err: Error) => void): void {
    this.errorHandler = handler;
  }

  write(packets: Buffer[]): number {
    if (this.closed) throw new TunClosedError(this.name);
    const n = this.dev.write(packets);
    this.counters.packetsWritten += n;
    this.counters.writeDropped += packets.length - n;
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.packetsHandler = undefined;
    this.errorHandler = undefined;
    this.dev.close();
  }

  /** A snapshot of the counters. */
  stats(): TunStats {
    return { ...this.counters };
  }

  private deliver(slab: ArrayBuffer, lengths: number[]): void {
    const handler = this.packetsHandler;
    if (this.closed || !handler) return;
    // One fresh slab per batch, never reused by the addon: the views may be kept.
    const packets = new Array<Buffer>(lengths.length);
    let off = 0;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i] as number;
      packets[i] = Buffer.from(slab, off, len);
      off += len;
    }
    this.counters.packetsRead += packets.length;
    this.counters.bytesRead += off;
    handler(packets);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    const e = new TunError(err.message);
    e.code = (err as Error & { code?: string }).code;
    if (this.errorHandler) this.errorHandler(e);
    else throw e;
  }
}
