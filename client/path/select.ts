/**
 * Path selection (after Tor's path-spec): the exit first (country, exit policy, price), then
 * the entry from the persistent primary guards (guards.ts), then the middle; each pick
 * weighted by stake × bandwidth with a latency penalty (relays.ts). No two hops are related
 * (same operator, family or UDP /16), and a jailed, unstaked or expired relay is never used.
 * Pure: the caller supplies candidates, time and randomness.
 */
import { parseUdpEndpoint } from '../../protocol/descriptor.js';
import { PolicyRuleError, parsePolicy, policyAllows, policyAllowsPortSomewherePublic, type PolicyRule } from '../../protocol/descriptor-policy.js';
import { ineligibility, related as relatedStrict, weightedPick, type EligibilityRules, type Ineligibility, type RelayCandidate } from './relays.js';
import { cryptoRng, type Rng } from './rng.js';

export type { RelayCandidate, RelayMeasurement } from './relays.js';

export const MIN_HOPS = 1;
export const MAX_HOPS = 3;
/** Port assumed when no destination is given: a generic web (HTTPS) destination. */
export const DEFAULT_EXIT_PORT = 443;
/** Bounds on redraws when the drawn exit (or entry) leaves no way to complete the path. */
export const MAX_EXIT_ATTEMPTS = 32;
export const MAX_ENTRY_ATTEMPTS = 32;
const BASE_UNITS_PER_TOP = 1_000_000n; // chain/README.md: 1 TOP = 10^6 base units

export class NoPathError extends Error {
  override readonly name = 'NoPathError';
  constructor(readonly reason: string) {
    super(`no path: ${reason}`);
  }
}

export interface Destination {
  /** IPv4 dotted quad; absent means "some public address". */
  address?: string;
  port: number;
}

export interface PathConstraints {
  /** 1..3 */
  hops: number;
  /** ISO 3166-1 alpha-2 code the exit must be in. */
  exitCountry?: string;
  /** Highest acceptable price per GiB (base units), for every hop. */
  maxPricePerGiB?: bigint;
  /** What the exit's policy must allow; default: port 443 to some public address. */
  destination?: Destination;
  /** Node addresses never to use (e.g. a relay that just failed). */
  exclude?: Iterable<string>;
  /** Smallest stake that counts as staked (default 1 base unit). */
  minStake?: bigint;
  /** Only relays that published for this chain. */
  chainId?: string;
  /** Two hops in one /16 are related (default true; false only on a private testnet). */
  distinctSubnets?: boolean;
}

export interface SelectOptions {
  /** Unix ms, for descriptor expiry. */
  nowMs: number;
  /** Default: cryptoRng. */
  rng?: Rng;
  /**
   * Primary guard addresses in preference order (GuardSet.primary()). When given, a path of
   * 2+ hops enters through the first of them that is usable and unrelated to the exit. When
   * absent, the entry is a weighted pick like the middle (no guard pinning).
   */
  guards?: readonly string[];
}

/** The hops in circuit order: [entry, middle, exit], [entry, exit] or [exit]. */
export interface SelectedPath {
  hops: RelayCandidate[];
  exit: RelayCandidate;
  entry: RelayCandidate;
}

/** "5 TOP", "2.5 TOP" */
export function formatTop(baseUnits: bigint): string {
  const whole = baseUnits / BASE_UNITS_PER_TOP;
  const frac = baseUnits % BASE_UNITS_PER_TOP;
  return frac === 0n ? `${whole}` : `${whole}.${frac.toString().padStart(6, '0').replace(/0+$/, '')}`;
}

/** True when the relay's exit policy lets traffic to `dest` leave. */
export function exitAllows(c: RelayCandidate, dest: Destination): boolean {
  let rules: PolicyRule[];
  try {
    rules = parsePolicy(c.descriptor.exitPolicy);
  } catch (err) {
    if (err instanceof PolicyRuleError) return false; // an unparseable policy allows nothing
    throw err;
  }
  if (dest.address === undefined) return policyAllowsPortSomewherePublic(rules, dest.port);
  let ip: number;
  try {
    ip = parseUdpEndpoint(`${dest.address}:1`).ip;
  } catch {
    return false;
  }
  return policyAllows(rules, ip, dest.port);
}

function describeExitWanted(c: PathConstraints, dest: Destination): string {
  let s = 'no exit';
  if (c.exitCountry !== undefined) s += ` in country ${c.exitCountry}`;
  if (c.maxPricePerGiB !== undefined) s += ` at or under ${formatTop(c.maxPricePerGiB)} TOP/GiB`;
  s += ` whose exit policy allows ${dest.address ?? 'a public address'}:${dest.port}`;
  return s;
}

function tally(counts: Map<string, number>): string {
  const parts = [...counts].filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  return parts.length === 0 ? 'no relays known' : parts.join(', ');
}

/** Chooses a path; throws NoPathError with the reason when the constraints cannot be met. */
export function selectPath(candidates: readonly RelayCandidate[], constraints: PathConstraints, opts: SelectOptions): SelectedPath {
  const { hops } = constraints;
  if (!Number.isInteger(hops) || hops < MIN_HOPS || hops > MAX_HOPS) throw new NoPathError(`hops must be ${MIN_HOPS}..${MAX_HOPS}, got ${hops}`);
  const rng = opts.rng ?? cryptoRng;
  const dest: Destination = constraints.destination ?? { port: DEFAULT_EXIT_PORT };
  const rules: EligibilityRules = {
    nowMs: opts.nowMs,
    ...(constraints.minStake !== undefined ? { minStake: constraints.minStake } : {}),
    ...(constraints.chainId !== undefined ? { chainId: constraints.chainId } : {}),
    exclude: new Set(constraints.exclude ?? []),
  };
  const maxPrice = constraints.maxPricePerGiB;
  const relOpts = { distinctSubnets: constraints.distinctSubnets !== false };
  const related = (a: RelayCandidate, b: RelayCandidate): boolean => relatedStrict(a, b, relOpts);

  // Every hop: eligible and within price.
  const why = new Map<string, number>();
  const bump = (k: string): void => void why.set(k, (why.get(k) ?? 0) + 1);
  const usable: RelayCandidate[] = [];
  const byAddress = new Map<string, RelayCandidate>();
  for (const c of candidates) {
    const bad: Ineligibility | null = ineligibility(c, rules);
    if (bad !== null) {
      bump(bad);
      continue;
    }
    if (maxPrice !== undefined && c.descriptor.pricePerGiB > maxPrice) {
      bump('above the price limit');
      continue;
    }
    usable.push(c);
    byAddress.set(c.descriptor.nodeAddress, c);
  }

  // Exit candidates.
  let exits: RelayCandidate[] = [];
  for (const c of usable) {
    if (constraints.exitCountry !== undefined && c.descriptor.region !== constraints.exitCountry) bump('in other countries');
    else if (!exitAllows(c, dest)) bump('whose exit policy refuses it');
    else exits.push(c);
  }
  if (exits.length === 0) throw new NoPathError(`${describeExitWanted(constraints, dest)} (${tally(why)})`);

  // Usable primary guards, in preference order.
  const guards = hops >= 2 && opts.guards !== undefined ? opts.guards.map((a) => byAddress.get(a)).filter((g): g is RelayCandidate => g !== undefined) : undefined;
  if (guards !== undefined) {
    if (guards.length === 0) throw new NoPathError(`none of the primary guards (${opts.guards!.length}) is usable now (jailed, unstaked, expired, excluded or over the price limit)`);
    exits = exits.filter((e) => guards.some((g) => !related(g, e)));
    if (exits.length === 0) throw new NoPathError(`every matching exit is related to every usable primary guard (same operator, family or /16)`);
  }

  // Exit first; if no entry/middle fits around the drawn exit, draw again without it.
  let remaining = exits;
  let lastReason = '';
  for (let attempt = 0; attempt < MAX_EXIT_ATTEMPTS && remaining.length > 0; attempt++) {
    const exit = weightedPick(remaining, rng);
    if (exit === undefined) break;
    remaining = remaining.filter((e) => e !== exit);
    if (hops === 1) return { hops: [exit], exit, entry: exit };
    // Entries in the order to try: the primary guards as listed, or weighted draws without replacement.
    let entryPool = (guards ?? usable).filter((c) => c !== exit && !related(c, exit));
    if (entryPool.length === 0) {
      lastReason = guards !== undefined ? 'every usable primary guard is related to every matching exit (operator, family or /16)' : 'no entry relay unrelated to any matching exit (operator, family and /16 must differ)';
      continue;
    }
    for (let tries = 0; tries < MAX_ENTRY_ATTEMPTS && entryPool.length > 0; tries++) {
      const entry = guards !== undefined ? entryPool[0] : weightedPick(entryPool, rng);
      if (entry === undefined) break;
      entryPool = entryPool.filter((c) => c !== entry);
      if (hops === 2) return { hops: [entry, exit], exit, entry };
      const middle = weightedPick(
        usable.filter((c) => !related(c, exit) && !related(c, entry)),
        rng,
      );
      if (middle !== undefined) return { hops: [entry, middle, exit], exit, entry };
    }
    lastReason = 'no middle relay unrelated to both the entry and the exit, for any matching exit tried (operator, family and /16 must differ)';
  }
  throw new NoPathError(lastReason || `${describeExitWanted(constraints, dest)} with a positive selection weight`);
}

/** The fields circuit building needs from a hop (client/circuit.ts HopInfo). */
export function hopInfo(c: RelayCandidate): { endpoint: { host: string; port: number }; staticPublic: Uint8Array } {
  const udp = c.descriptor.endpoints.udp;
  const colon = udp.lastIndexOf(':');
  return { endpoint: { host: udp.slice(0, colon), port: Number(udp.slice(colon + 1)) }, staticPublic: new Uint8Array(Buffer.from(c.descriptor.onionKey, 'hex')) };
}
