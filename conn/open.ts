/** openBind: opens a Bind of the asked (or default) implementation. See conn/bind.ts for the contract. */
import { BindError, type Bind, type BindImpl, type BindOptions } from './bind.js';
import { openDgramBind } from './dgram.js';
import type { MemoryNetwork } from './memory.js';
import { nativeBindAvailable, openNativeBind } from './native.js';

export interface OpenBindOptions extends BindOptions {
  /** Required with impl 'memory': the in-process network to join. */
  network?: MemoryNetwork;
}

/** The implementation openBind uses when none is named: native if its addon is built, else dgram. */
export function defaultBindImpl(): Exclude<BindImpl, 'memory'> {
  return nativeBindAvailable() ? 'native' : 'dgram';
}

/**
 * Opens a Bind on host:port. Rejects with BindError (`code` 'EADDRINUSE' when the port is
 * taken, 'EINVAL' for an address that is not a dotted quad, 'ENOENT' when impl 'native' is
 * asked for and the addon is not built).
 */
export async function openBind(opts: OpenBindOptions): Promise<Bind> {
  const impl = opts.impl ?? defaultBindImpl();
  const bufs = {
    ...(opts.rcvbuf !== undefined ? { rcvbuf: opts.rcvbuf } : {}),
    ...(opts.sndbuf !== undefined ? { sndbuf: opts.sndbuf } : {}),
  };
  switch (impl) {
    case 'native':
      return openNativeBind({ host: opts.host, port: opts.port, ...bufs, ...(opts.offload !== undefined ? { offload: opts.offload } : {}) });
    case 'dgram':
      return openDgramBind({ host: opts.host, port: opts.port, ...bufs });
    case 'memory':
      if (!opts.network) throw new BindError('udp: impl memory needs opts.network (a MemoryNetwork)', 'EINVAL');
      return opts.network.open({ host: opts.host, port: opts.port });
    default:
      throw new BindError(`udp: unknown Bind implementation ${String(impl)}`, 'EINVAL');
  }
}
