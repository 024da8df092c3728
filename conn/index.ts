/**
 * The conn package: a tiny UDP seam for the data plane (see conn/bind.ts for the contract),
 * `openBind`, which picks an implementation, and `openBindTransport`, a drop-in for
 * relay/udp.ts's openUdp.
 */
export * from './bind.js';
export { AddressParser, ENDPOINT_CACHE_MAX, EndpointCache, formatIpv4, parseIpv4 } from './endpoint.js';
export { DgramBind, openDgramBind, type DgramBindOptions } from './dgram.js';
export { MemoryBind, MemoryNetwork } from './memory.js';
export { loadUdpAddon, nativeBindAvailable, NativeBind, openNativeBind, udpAddonPath, type NativeBindOptions } from './native.js';
export { defaultBindImpl, openBind, type OpenBindOptions } from './open.js';
export { openBindTransport, type BindTransport, type BindTransportOptions, type BindTransportStats } from './transport.js';
