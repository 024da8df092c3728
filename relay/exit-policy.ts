/**
 * Tor-like exit policies: an ordered list of `accept|reject ADDR[/BITS][:PORT[-PORT]]`
 * rules over IPv4; the first rule that matches decides; no match means reject.
 * ADDR is a dotted quad or `*`; PORT is a number, a range `lo-hi`, or `*`. `#` starts a
 * comment. A packet without ports (ICMP, non-first fragments) matches only rules whose
 * port part covers every port.
 */
import { AddressError, formatIpv4, maskOf, parseIpv4, tryParseIpv4 } from '../protocol/ipv4.js';

export class ExitPolicyError extends Error {
  override readonly name = 'ExitPolicyError';
  constructor(readonly line: number, detail: string) {
    super(`exit policy line ${line}: ${detail}`);
  }
}

export interface ExitRule {
  readonly accept: boolean;
  readonly base: number;
  readonly mask: number;
  readonly bits: number;
  readonly portLo: number;
  readonly portHi: number;
}

function ruleText(r: ExitRule): string {
  const addr = r.bits === 0 ? '*' : r.bits === 32 ? formatIpv4(r.base) : `${formatIpv4(r.base)}/${r.bits}`;
  const port = r.portLo === 0 && r.portHi === 65535 ? '*' : r.portLo === r.portHi ? `${r.portLo}` : `${r.portLo}-${r.portHi}`;
  return `${r.accept ? 'accept' : 'reject'} ${addr}:${port}`;
}

export class ExitPolicy {
  constructor(readonly rules: readonly ExitRule[]) {}

  /**
   * True if traffic to `dst` (dotted string or uint32) may leave. `port` is the
   * destination port, or a negative number for packets without one. `proto` is the IP
   * protocol number (informational: ports are only meaningful for TCP/UDP/SCTP).
   */
  allows(dst: string | number, proto: number, port: number): boolean {
    void proto;
    const ip = typeof dst === 'number' ? dst >>> 0 : tryParseIpv4(dst);
    if (ip < 0) return false;
    for (const r of this.rules) {
      if (((ip & r.mask) >>> 0) !== r.base) continue;
      if (port < 0) {
        if (r.portLo !== 0 || r.portHi !== 65535) continue;
      } else if (port < r.portLo || port > r.portHi) continue;
      return r.accept;
    }
    return false;
  }

  /** The policy as normalized text lines (parseable again). */
  toLines(): string[] {
    return this.rules.map(ruleText);
  }
}

function parsePort(s: string, line: number): [number, number] {
  if (s === '*') return [0, 65535];
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(s);
  if (!m) throw new ExitPolicyError(line, `bad port ${JSON.stringify(s)}`);
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535 || lo > hi) throw new ExitPolicyError(line, `bad port range ${JSON.stringify(s)}`);
  return [lo, hi];
}

function parseRule(text: string, line: number): ExitRule {
  const m = /^(accept|reject)\s+(\S+)$/.exec(text);
  if (!m) throw new ExitPolicyError(line, `expected "accept|reject ADDR[/BITS][:PORT[-PORT]]", got ${JSON.stringify(text)}`);
  const target = m[2]!;
  const colon = target.lastIndexOf(':');
  const addrPart = colon < 0 ? target : target.slice(0, colon);
  const portPart = colon < 0 ? '*' : target.slice(colon + 1);
  if (addrPart.includes('[') || addrPart.includes(':')) throw new ExitPolicyError(line, 'IPv6 rules are not supported');
  let base = 0;
  let bits = 0;
  if (addrPart !== '*') {
    const [a, b, extra] = addrPart.split('/');
    if (extra !== undefined || a === undefined) throw new ExitPolicyError(line, `bad address ${JSON.stringify(addrPart)}`);
    if (b !== undefined && !/^\d{1,2}$/.test(b)) throw new ExitPolicyError(line, `bad prefix length ${JSON.stringify(b)}`);
    bits = b === undefined ? 32 : Number(b);
    if (bits > 32) throw new ExitPolicyError(line, `bad prefix length ${bits}`);
    try {
      base = parseIpv4(a);
    } catch (e) {
      if (e instanceof AddressError) throw new ExitPolicyError(line, e.message);
      throw e;
    }
  }
  const mask = maskOf(bits);
  const [portLo, portHi] = parsePort(portPart, line);
  return { accept: m[1] === 'accept', base: (base & mask) >>> 0, mask, bits, portLo, portHi };
}

/** Parses a policy from text (one rule per line) or lines; throws ExitPolicyError with the 1-based line. */
export function parseExitPolicy(src: string | readonly string[]): ExitPolicy {
  const lines = typeof src === 'string' ? src.split(/\r?\n/) : src;
  const rules: ExitRule[] = [];
  lines.forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const t = (hash < 0 ? raw : raw.slice(0, hash)).trim().replace(/\s+/g, ' ');
    if (t !== '') rules.push(parseRule(t, i + 1));
  });
  return new ExitPolicy(rules);
}

/** Networks an exit rejects by default. 198.18.0.0/15 (benchmarking, our test net) is not among them. */
export const DEFAULT_REJECTED_NETS: readonly string[] = [
  '0.0.0.0/8',
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '224.0.0.0/4',
];

export interface DefaultPolicyOptions {
  /** The relay's own addresses: always rejected. */
  ownAddresses?: readonly string[];
  /** Networks (CIDR) accepted even though a default rule would reject them. */
  allow?: readonly string[];
}

/** reject own addresses; accept `allow`; reject DEFAULT_REJECTED_NETS; accept everything else. */
export function defaultExitPolicy(opts: DefaultPolicyOptions = {}): ExitPolicy {
  const lines: string[] = [];
  for (const a of opts.ownAddresses ?? []) lines.push(`reject ${a}:*`);
  for (const n of opts.allow ?? []) lines.push(`accept ${n}:*`);
  for (const n of DEFAULT_REJECTED_NETS) lines.push(`reject ${n}:*`);
  lines.push('accept *:*');
  return parseExitPolicy(lines);
}
