/**
 * Cheap endpoints for the receive path and cheap address parsing for the send path.
 * Pure (no IO).
 */
import { EndpointError, type Endpoint } from './bind.js';

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad (no leading zeros) to an unsigned 32-bit integer, or undefined. */
export function parseIpv4(s: string): number | undefined {
  const m = IPV4_RE.exec(s);
  if (!m) return undefined;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 1 && part.charCodeAt(0) === 48) return undefined;
    const o = Number(part);
    if (o > 255) return undefined;
    v = v * 256 + o;
  }
  return v >>> 0;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Endpoint caches forget everything past this many entries (a flood of spoofed sources cannot grow them without bound). */
export const ENDPOINT_CACHE_MAX = 65536;

/**
 * Interns sender endpoints: the same (address, port) yields the same frozen object, so
 * `a === b` or `a.host === b.host` comparisons are pointer compares, and no string is
 * formatted per packet once a sender is known.
 */
export class EndpointCache {
  private readonly byKey = new Map<number, Endpoint>();
  private readonly byHost = new Map<string, Map<number, Endpoint>>();

  /** By numeric IPv4 (host order) and port. */
  get(ip: number, port: number): Endpoint {
    const key = ip * 65536 + port;
    let e = this.byKey.get(key);
    if (e === undefined) {
      if (this.byKey.size >= ENDPOINT_CACHE_MAX) this.byKey.clear();
      e = Object.freeze({ host: formatIpv4(ip), port });
      this.byKey.set(key, e);
    }
    return e;
  }

  /** By address string (as node:dgram reports it) and port. */
  getByHost(host: string, port: number): Endpoint {
    let ports = this.byHost.get(host);
    if (ports === undefined) {
      if (this.byHost.size >= ENDPOINT_CACHE_MAX) this.byHost.clear();
      ports = new Map();
      this.byHost.set(host, ports);
    }
    let e = ports.get(port);
    if (e === undefined) {
      if (ports.size >= ENDPOINT_CACHE_MAX) ports.clear();
      e = Object.freeze({ host, port });
      ports.set(port, e);
    }
    return e;
  }

  get size(): number {
    let n = this.byKey.size;
    for (const m of this.byHost.values()) n += m.size;
    return n;
  }
}

/** Parses destination hosts once; throws EndpointError for anything but a dotted quad and a port in 1..65535. */
export class AddressParser {
  private readonly cache = new Map<string, number>();

  ip(to: Endpoint): number {
    let ip = this.cache.get(to.host);
    if (ip === undefined) {
      ip = parseIpv4(to.host);
      if (ip === undefined) throw new EndpointError(`${String(to.host)}:${String(to.port)}`);
      if (this.cache.size >= ENDPOINT_CACHE_MAX) this.cache.clear();
      this.cache.set(to.host, ip);
    }
    const p = to.port;
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new EndpointError(`${to.host}:${String(p)}`);
    return ip;
  }
}
