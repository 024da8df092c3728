/**
 * IPv4 address, CIDR and HOST:PORT parsing shared by the relay and client daemons.
 * Pure (no IO). Only dotted-quad IPv4 is accepted: the data plane is IPv4-only.
 */

export interface Endpoint {
  host: string;
  port: number;
}

export interface Cidr {
  /** Network address (host bits cleared), dotted quad. */
  network: string;
  prefixLen: number;
  /** Network address as an unsigned 32-bit integer. */
  base: number;
}

export class AddressError extends Error {
  override readonly name = 'AddressError';
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad to an unsigned 32-bit integer; throws AddressError. */
export function ipv4ToInt(s: string): number {
  const m = IPV4_RE.exec(s);
  if (!m) throw new AddressError(`not an IPv4 address: "${s}"`);
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) throw new AddressError(`not an IPv4 address (leading zero): "${s}"`);
    const o = Number(part);
    if (o > 255) throw new AddressError(`not an IPv4 address (octet > 255): "${s}"`);
    v = v * 256 + o;
  }
  return v >>> 0;
}

export function intToIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function isIpv4(s: string): boolean {
  try {
    ipv4ToInt(s);
    return true;
  } catch {
    return false;
  }
}

/** "a.b.c.d/n" (a bare address means /32). Host bits must be zero unless `allowHostBits`. */
export function parseCidr(s: string, opts: { allowHostBits?: boolean } = {}): Cidr {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const lenText = slash < 0 ? '32' : s.slice(slash + 1);
  if (!/^\d{1,2}$/.test(lenText)) throw new AddressError(`bad prefix length in CIDR "${s}"`);
  const prefixLen = Number(lenText);
  if (prefixLen > 32) throw new AddressError(`prefix length > 32 in CIDR "${s}"`);
  const ip = ipv4ToInt(addr);
  const mask = prefixMask(prefixLen);
  const base = (ip & mask) >>> 0;
  if (base !== ip && !opts.allowHostBits) {
    throw new AddressError(`CIDR "${s}" has host bits set (did you mean ${intToIpv4(base)}/${prefixLen}?)`);
  }
  return { network: intToIpv4(base), prefixLen, base };
}

export function formatCidr(c: Cidr): string {
  return `${c.network}/${c.prefixLen}`;
}

export function prefixMask(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

export function cidrContains(c: Cidr, ip: string): boolean {
  return ((ipv4ToInt(ip) & prefixMask(c.prefixLen)) >>> 0) === c.base;
}

/** The n-th address of a network (n = 1 is the first host address). */
export function cidrHost(c: Cidr, n: number): string {
  const size = 2 ** (32 - c.prefixLen);
  if (n < 0 || n >= size) throw new AddressError(`host ${n} is outside ${formatCidr(c)}`);
  return intToIpv4((c.base + n) >>> 0);
}

/** "HOST:PORT" with an IPv4 HOST and a port 1..65535 (0 allowed with `allowZeroPort`). */
export function parseEndpoint(s: string, opts: { allowZeroPort?: boolean } = {}): Endpoint {
  const colon = s.lastIndexOf(':');
  if (colon < 0) throw new AddressError(`expected HOST:PORT, got "${s}"`);
  const host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  ipv4ToInt(host);
  if (!/^\d{1,5}$/.test(portText)) throw new AddressError(`bad port in "${s}"`);
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !opts.allowZeroPort)) throw new AddressError(`port out of range in "${s}"`);
  return { host, port };
}

export function formatEndpoint(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}
