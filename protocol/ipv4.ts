/** IPv4 helpers shared by relay and client: dotted strings <-> uint32, CIDRs, IP header fields. */

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit number; throws AddressError. */
export function parseIpv4(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new AddressError(`not an IPv4 address: ${JSON.stringify(s)}`);
  let v = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) throw new AddressError(`not an IPv4 address: ${JSON.stringify(s)}`);
    const n = Number(p);
    if (n > 255) throw new AddressError(`not an IPv4 address: ${JSON.stringify(s)}`);
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** Like parseIpv4 but returns -1 instead of throwing; strips an IPv4-mapped IPv6 prefix. */
export function tryParseIpv4(s: string): number {
  const t = s.startsWith('::ffff:') ? s.slice(7) : s;
  try {
    return parseIpv4(t);
  } catch {
    return -1;
  }
}

export function formatIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export interface Cidr4 {
  base: number;
  bits: number;
  mask: number;
}

export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses "a.b.c.d/n" (or a bare address = /32). */
export function parseCidr4(s: string): Cidr4 {
  const [addr, bitsStr, extra] = s.split('/');
  if (addr === undefined || extra !== undefined) throw new AddressError(`bad CIDR ${JSON.stringify(s)}`);
  const bits = bitsStr === undefined ? 32 : Number(bitsStr);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32 || (bitsStr !== undefined && !/^\d{1,2}$/.test(bitsStr))) {
    throw new AddressError(`bad prefix length in ${JSON.stringify(s)}`);
  }
  const mask = maskOf(bits);
  return { base: (parseIpv4(addr) & mask) >>> 0, bits, mask };
}

export function cidrContains(c: Cidr4, ip: number): boolean {
  return ((ip & c.mask) >>> 0) === c.base;
}

/** Minimal IPv4 header view. All readers assume `isIpv4Packet(p)` was checked. */
export function isIpv4Packet(p: Uint8Array): boolean {
  if (p.length < 20 || p[0]! >> 4 !== 4) return false;
  const ihl = (p[0]! & 15) * 4;
  return ihl >= 20 && p.length >= ihl;
}
export function ipv4Src(p: Uint8Array): number {
  return ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
}
export function ipv4Dst(p: Uint8Array): number {
  return ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
}
export function ipv4Proto(p: Uint8Array): number {
  return p[9]!;
}
/**
 * Destination port for TCP (6) / UDP (17) / SCTP (132) / UDP-Lite (136) first fragments;
 * -1 when the packet has no port (other protocols, non-first fragments, truncated header).
 */
export function ipv4DstPort(p: Uint8Array): number {
  const proto = p[9]!;
  if (proto !== 6 && proto !== 17 && proto !== 132 && proto !== 136) return -1;
  const fragOffset = ((p[6]! & 0x1f) << 8) | p[7]!;
  if (fragOffset !== 0) return -1;
  const ihl = (p[0]! & 15) * 4;
  if (p.length < ihl + 4) return -1;
  return (p[ihl + 2]! << 8) | p[ihl + 3]!;
}
