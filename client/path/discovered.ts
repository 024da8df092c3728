/**
 * From discovered relays to the circuit a client builds: the `topvpn connect` flags that
 * constrain the choice (without --relays), guard upkeep, selectPath, and the RelaySpec list
 * (entry first) the daemon and the payment channels take. IO only in the guard state file.
 */
import { isCountryCode } from '../../protocol/descriptor-countries.js';
import { parseUdpEndpoint } from '../../protocol/descriptor.js';
import { ConfigError } from '../../relay/config.js';
import { parseAmount } from '../../relay/commands/amount.js';
import { UsageError } from '../../relay/cli-util.js';
import type { RelaySpec } from '../relay-list.js';
import { GuardSet, type GuardUpdate } from './guards.js';
import { ineligibility, related, weightedPick, type RelayCandidate } from './relays.js';
import { cryptoRng, type Rng } from './rng.js';
import { NoPathError, selectPath, type PathConstraints, type SelectedPath } from './select.js';

export const DEFAULT_DISCOVERY_TIMEOUT_SEC = 15;

/** The raw connect flags that steer discovery and path choice. */
export interface DiscoveryConnectFlags {
  bootstrap?: string[] | string;
  chainRpc?: string;
  exitCountry?: string;
  maxPrice?: string;
  exitPort?: string;
  guardFile?: string;
  /** commander: false for --no-guards. */
  guards?: boolean;
  allowSameSubnet?: boolean;
  discoveryTimeout?: string;
  recheck?: string;
}

export interface DiscoveryConnectConfig {
  bootstrap: string[];
  chainRpc: string;
  /** Constraints except `hops` (the connect's --hops). */
  constraints: Omit<PathConstraints, 'hops'>;
  /** Guard state file; undefined with --no-guards. */
  guardsFile?: string;
  timeoutMs: number;
  /** How often the live directory re-asks the chain about each relay. */
  recheckMs: number;
}

function listOf(v: string[] | string | undefined): string[] {
  const items = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return items.flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b.length > 0);
}

/**
 * Validates the discovery flags of `topvpn connect` (used when --relays is absent). `--chain-rpc`
 * is required: the chain is what says which relays are staked. `defaultGuardsFile` is used
 * unless --guard-file FILE or --no-guards.
 */
export function parseDiscoveryConnectFlags(f: DiscoveryConnectFlags, defaultGuardsFile: string): DiscoveryConnectConfig {
  const bootstrap = listOf(f.bootstrap);
  // A missing required flag, as commander reports one (UsageError, exit 2).
  if (bootstrap.length === 0) throw new UsageError('connect needs --relays FILE|LIST, or --bootstrap MULTIADDR with --chain-rpc URL to discover relays');
  for (const b of bootstrap) if (!b.startsWith('/') || !b.includes('/p2p/')) throw new ConfigError(`--bootstrap: ${b} must be a multiaddr ending in /p2p/<peer id>`);
  if (f.chainRpc === undefined) throw new ConfigError('discovering relays (no --relays) needs --chain-rpc URL: only relays staked on chain are used');
  const constraints: Omit<PathConstraints, 'hops'> = {};
  if (f.exitCountry !== undefined) {
    const cc = f.exitCountry.toUpperCase();
    if (!/^[A-Z]{2}$/.test(cc) || !isCountryCode(cc)) throw new ConfigError(`--exit-country: "${f.exitCountry}" is not an ISO 3166-1 alpha-2 country code`);
    constraints.exitCountry = cc;
  }
  if (f.maxPrice !== undefined) {
    try {
      constraints.maxPricePerGiB = parseAmount('--max-price', f.maxPrice);
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  if (f.exitPort !== undefined) {
    if (!/^\d{1,5}$/.test(f.exitPort) || Number(f.exitPort) < 1 || Number(f.exitPort) > 65535) throw new ConfigError(`--exit-port: "${f.exitPort}" must be 1..65535`);
    constraints.destination = { port: Number(f.exitPort) };
  }
  if (f.allowSameSubnet === true) constraints.distinctSubnets = false;
  const secs = (name: string, v: string | undefined, dflt: number, max: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0) || n > max) throw new ConfigError(`--${name}: "${v}" must be 0..${max} seconds`);
    return n;
  };
  const out: DiscoveryConnectConfig = {
    bootstrap,
    chainRpc: f.chainRpc,
    constraints,
    timeoutMs: secs('discovery-timeout', f.discoveryTimeout, DEFAULT_DISCOVERY_TIMEOUT_SEC, 300) * 1000,
    recheckMs: secs('recheck', f.recheck, 60, 3600) * 1000,
  };
  if (f.guards !== false) out.guardsFile = f.guardFile ?? defaultGuardsFile;
  else if (f.guardFile !== undefined) throw new ConfigError('--guard-file FILE and --no-guards exclude each other');
  return out;
}

/** What the daemon and the payment channels need of a chosen relay. */
export function candidateToSpec(c: RelayCandidate): RelaySpec {
  const d = c.descriptor;
  const ep = parseUdpEndpoint(d.endpoints.udp);
  const colon = d.endpoints.udp.lastIndexOf(':');
  return {
    endpoint: { host: d.endpoints.udp.slice(0, colon), port: ep.port },
    publicKey: new Uint8Array(Buffer.from(d.onionKey, 'hex')),
    address: d.nodeAddress,
    pricePerGiB: d.pricePerGiB,
  };
}

export interface PlanOptions {
  hops: number;
  constraints: Omit<PathConstraints, 'hops'>;
  nowMs: number;
  /** Persistent entry guards: refreshed against `candidates` (and saved if they have a file) before the choice. */
  guards?: GuardSet;
  rng?: Rng;
  /** Also draw up to this many spare middles (see middleSpares); 3-hop paths only. */
  spares?: number;
}

export interface PlannedPath {
  selected: SelectedPath;
  /** The hops, entry first, as the daemon takes them. */
  specs: RelaySpec[];
  guardUpdate?: GuardUpdate;
  /** True when no primary guard fit the constraints and the entry was drawn like a middle. */
  guardFallback: boolean;
  /** Relays that may replace the middle (with --reconnect: standby channels), best first. */
  spares: RelaySpec[];
}

/**
 * Up to `n` relays that may stand in for the middle of `path`: usable now, within the price
 * limit, not on the path and unrelated to its entry and exit; drawn by weight without replacement.
 */
export function middleSpares(candidates: readonly RelayCandidate[], path: SelectedPath, o: { constraints: Omit<PathConstraints, 'hops'>; nowMs: number; n: number; rng?: Rng }): RelayCandidate[] {
  if (path.hops.length < 3 || o.n <= 0) return [];
  const c = o.constraints;
  const rel = { distinctSubnets: c.distinctSubnets !== false };
  const inPath = new Set(path.hops.map((h) => h.descriptor.nodeAddress));
  const rules = { nowMs: o.nowMs, ...(c.minStake !== undefined ? { minStake: c.minStake } : {}), ...(c.chainId !== undefined ? { chainId: c.chainId } : {}), exclude: new Set(c.exclude ?? []) };
  let pool = candidates.filter(
    (x) =>
      !inPath.has(x.descriptor.nodeAddress) &&
      ineligibility(x, rules) === null &&
      (c.maxPricePerGiB === undefined || x.descriptor.pricePerGiB <= c.maxPricePerGiB) &&
      !related(x, path.entry, rel) &&
      !related(x, path.exit, rel),
  );
  const out: RelayCandidate[] = [];
  while (out.length < o.n) {
    const pick = weightedPick(pool, o.rng ?? cryptoRng);
    if (pick === undefined) break;
    out.push(pick);
    pool = pool.filter((x) => x !== pick);
  }
  return out;
}

/**
 * Chooses a path among discovered candidates. With guards, the entry is pinned to a primary
 * guard; when the user's constraints (price) leave no primary guard usable, the entry is drawn
 * without pinning and `guardFallback` says so. Throws NoPathError otherwise.
 */
export function planPath(candidates: readonly RelayCandidate[], o: PlanOptions): PlannedPath {
  const constraints: PathConstraints = { ...o.constraints, hops: o.hops };
  const sel = { nowMs: o.nowMs, ...(o.rng ? { rng: o.rng } : {}) };
  const spares = (p: SelectedPath): RelaySpec[] =>
    middleSpares(candidates, p, { constraints: o.constraints, nowMs: o.nowMs, n: o.spares ?? 0, ...(o.rng ? { rng: o.rng } : {}) }).map(candidateToSpec);
  let guardUpdate: GuardUpdate | undefined;
  if (o.guards !== undefined && o.hops >= 2) {
    guardUpdate = o.guards.refresh(candidates, {
      ...(o.constraints.minStake !== undefined ? { minStake: o.constraints.minStake } : {}),
      ...(o.constraints.chainId !== undefined ? { chainId: o.constraints.chainId } : {}),
      ...(o.constraints.distinctSubnets === false ? { distinctSubnets: false } : {}),
    });
    try {
      o.guards.save();
    } catch (err) {
      // A guard set without a file (tests, --no-guards callers) is fine; a failing write is not.
      if (!(err instanceof Error && err.name === 'GuardStateError')) throw err;
    }
    try {
      const selected = selectPath(candidates, constraints, { ...sel, guards: o.guards.primary() });
      return { selected, specs: selected.hops.map(candidateToSpec), guardUpdate, guardFallback: false, spares: spares(selected) };
    } catch (err) {
      if (!(err instanceof NoPathError) || !/guard/.test(err.reason)) throw err;
    }
    const selected = selectPath(candidates, constraints, sel);
    return { selected, specs: selected.hops.map(candidateToSpec), guardUpdate, guardFallback: true, spares: spares(selected) };
  }
  const selected = selectPath(candidates, constraints, sel);
  return { selected, specs: selected.hops.map(candidateToSpec), guardFallback: false, spares: spares(selected) };
}
