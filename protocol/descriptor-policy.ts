/**
 * Exit policies as carried in relay descriptors: an ordered list of rules in the canonical
 * text form `accept|reject ADDR:PORTS`, where ADDR is `*`, a dotted quad, or `a.b.c.d/BITS`
 * (1..31, host bits zero), and PORTS is `*`, `N`, or `LO-HI` (LO < HI). This is exactly the
 * output of relay/exit-policy.ts `ExitPolicy.toLines()`, so a relay publishes its parsed
 * policy unchanged. The first matching rule decides; no match means reject (as Tor and the
 * relay's enforcement do). Pure: no IO.
 */

export interface PolicyRule {
  readonly accept: boolean;
  /** Network base (host bits zero) and prefix length; bits 0 = any address. */
  readonly base: number;
  readonly bits: number;
  readonly portLo: number;
  readonly portHi: number;
}

export class PolicyRuleError extends Error {
  override readonly name = 'PolicyRuleError';
}

export const MAX_POLICY_RULE_CHARS = 48;

const OCTET = '(?:0|[1-9]\\d{0,2})';
const PORT = '(?:0|[1-9]\\d{0,4})';
const RULE_RE = new RegExp(
  `^(accept|reject) (\\*|(${OCTET})\\.(${OCTET})\\.(${OCTET})\\.(${OCTET})(?:/([1-9]\\d?))?):(\\*|(${PORT})(?:-(${PORT}))?)$`,
);

export function maskOfBits(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses one rule in canonical form; throws PolicyRuleError naming what is wrong. */
export function parsePolicyRule(text: string): PolicyRule {
  if (typeof text !== 'string' || text.length > MAX_POLICY_RULE_CHARS) throw new PolicyRuleError('rule is not a short string');
  const m = RULE_RE.exec(text);
  if (!m) throw new PolicyRuleError(`bad rule ${JSON.stringify(text)} (expected "accept|reject ADDR[/BITS]:PORT[-PORT]")`);
  let base = 0;
  let bits = 0;
  if (m[2] !== '*') {
    const octets = [m[3], m[4], m[5], m[6]].map(Number);
    if (octets.some((o) => o > 255)) throw new PolicyRuleError(`bad address in ${JSON.stringify(text)}`);
    base = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    bits = m[7] === undefined ? 32 : Number(m[7]);
    if (bits > 31 && m[7] !== undefined) throw new PolicyRuleError(`prefix length must be 1..31 (write a bare address for /32) in ${JSON.stringify(text)}`);
    if (((base & maskOfBits(bits)) >>> 0) !== base) throw new PolicyRuleError(`host bits set in ${JSON.stringify(text)}`);
  }
  let portLo = 0;
  let portHi = 65535;
  if (m[8] !== '*') {
    portLo = Number(m[9]);
    portHi = m[10] === undefined ? portLo : Number(m[10]);
    if (portHi > 65535) throw new PolicyRuleError(`port above 65535 in ${JSON.stringify(text)}`);
    if (m[10] !== undefined && !(portLo < portHi)) throw new PolicyRuleError(`port range must be LO-HI with LO < HI in ${JSON.stringify(text)}`);
    if (portLo === 0 && portHi === 65535) throw new PolicyRuleError(`write "*" for all ports in ${JSON.stringify(text)}`);
  }
  return { accept: m[1] === 'accept', base, bits, portLo, portHi };
}

export function parsePolicy(lines: readonly string[]): PolicyRule[] {
  return lines.map(parsePolicyRule);
}

/** First-match decision for destination `ip` (uint32) and `port` (negative: no port, e.g. ICMP). */
export function policyAllows(rules: readonly PolicyRule[], ip: number, port: number): boolean {
  for (const r of rules) {
    if (((ip & maskOfBits(r.bits)) >>> 0) !== r.base) continue;
    if (port < 0) {
      if (r.portLo !== 0 || r.portHi !== 65535) continue;
    } else if (port < r.portLo || port > r.portHi) continue;
    return r.accept;
  }
  return false;
}

/**
 * Address ranges that are not "public internet" for the purpose of deciding whether an exit
 * serves a generic destination. 198.18.0.0/15 (our test network) is deliberately not here,
 * matching relay/exit-policy.ts DEFAULT_REJECTED_NETS.
 */
export const NON_PUBLIC_NETS: readonly (readonly [base: number, bits: number])[] = [
  [0x00000000, 8], // 0.0.0.0/8
  [0x0a000000, 8], // 10.0.0.0/8
  [0x64400000, 10], // 100.64.0.0/10
  [0x7f000000, 8], // 127.0.0.0/8
  [0xa9fe0000, 16], // 169.254.0.0/16
  [0xac100000, 12], // 172.16.0.0/12
  [0xc0a80000, 16], // 192.168.0.0/16
  [0xe0000000, 3], // 224.0.0.0/3: multicast and reserved
];

type Range = [lo: number, hi: number];

function rangeOf(base: number, bits: number): Range {
  return [base, base + 2 ** (32 - bits) - 1];
}

function subtract(ranges: Range[], cut: Range): Range[] {
  const out: Range[] = [];
  for (const [lo, hi] of ranges) {
    if (cut[1] < lo || cut[0] > hi) {
      out.push([lo, hi]);
      continue;
    }
    if (lo < cut[0]) out.push([lo, cut[0] - 1]);
    if (hi > cut[1]) out.push([cut[1] + 1, hi]);
  }
  return out;
}

/**
 * True when the policy accepts `port` for at least one public address (exact, by interval
 * arithmetic over the rules: an address reaches rule k only if no earlier rule covering the
 * port matched it).
 */
export function policyAllowsPortSomewherePublic(rules: readonly PolicyRule[], port: number): boolean {
  let open: Range[] = [[0, 0xffffffff]];
  for (const [base, bits] of NON_PUBLIC_NETS) open = subtract(open, rangeOf(base, bits));
  for (const r of rules) {
    if (open.length === 0) return false;
    if (port < r.portLo || port > r.portHi) continue;
    const cut = rangeOf(r.base, r.bits);
    if (r.accept && open.some(([lo, hi]) => !(cut[1] < lo || cut[0] > hi))) return true;
    open = subtract(open, cut);
  }
  return false;
}

/** The rule list accepts some port to some public address (the relay is an exit at all). */
export function policyIsExit(rules: readonly PolicyRule[]): boolean {
  // The decision is constant between port breakpoints, so checking each breakpoint is exact.
  const ports = new Set<number>([0]);
  for (const r of rules) {
    ports.add(r.portLo);
    if (r.portHi < 65535) ports.add(r.portHi + 1);
  }
  for (const p of ports) if (policyAllowsPortSomewherePublic(rules, p)) return true;
  return false;
}
