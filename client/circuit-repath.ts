/**
 * Path repair after a hop stopped answering: the dead relay (entry, middle or exit) is
 * replaced by a candidate from a RelaySource, and avoided for a cool-down period.
 *
 * Contracts:
 * - `RelaySource` is what repair asks for replacements: the `--relays` list implements it
 *   (client/relay-list.ts, ListRelaySource), relay discovery may too. It returns candidates
 *   for a role, best first, none of whose relayKey is in `exclude`.
 * - `repairPath` (pure) swaps hop `deadHop` for the first candidate that is neither in the
 *   path nor dead; with no such candidate (or no known dead hop) the same path is retried.
 * - `DeadRelays` remembers a relay as dead for `cooldownMs` after it was last marked.
 */
import type { RelaySpec } from './relay-list.js';

export const relayKey = (r: RelaySpec): string => Buffer.from(r.publicKey).toString('hex');

/** How long a relay that stopped answering is avoided. */
export const DEAD_RELAY_COOLDOWN_MS = 5 * 60_000;

export type HopRole = 'entry' | 'middle' | 'exit';

/** Where replacements for a dead relay come from. */
export interface RelaySource {
  /**
   * Relays that may serve as `role`, best first, none whose relayKey is in `exclude`; `path`
   * (the circuit being repaired) lets a source keep the replacement unrelated to the other hops.
   */
  candidates(role: HopRole, exclude: ReadonlySet<string>, path?: readonly RelaySpec[]): readonly RelaySpec[] | Promise<readonly RelaySpec[]>;
}

/** The role of hop `hop` (0 = entry) in a path of `hops` hops; a 1-hop path's only hop is its exit. */
export function hopRole(hop: number, hops: number): HopRole {
  if (hop === hops - 1) return 'exit';
  return hop === 0 ? 'entry' : 'middle';
}

export interface Repath {
  path: RelaySpec[];
  /** The relay put in place of the dead one, if any. */
  replaced?: { hop: number; role: HopRole; from: RelaySpec; to: RelaySpec };
}

/**
 * The path to rebuild with after hop `deadHop` (0 = entry) of `path` stopped answering.
 * `dead` holds the keys (relayKey) of relays known dead, the new one included by the caller.
 */
export function repairPath(path: readonly RelaySpec[], candidates: readonly RelaySpec[], deadHop: number | undefined, dead: ReadonlySet<string>): Repath {
  const out = [...path];
  if (deadHop === undefined || !Number.isInteger(deadHop) || deadHop < 0 || deadHop >= path.length) return { path: out };
  const inPath = new Set(path.map(relayKey));
  const to = candidates.find((s) => !inPath.has(relayKey(s)) && !dead.has(relayKey(s)));
  if (to === undefined) return { path: out };
  const from = out[deadHop]!;
  out[deadHop] = to;
  return { path: out, replaced: { hop: deadHop, role: hopRole(deadHop, path.length), from, to } };
}

/** Asks `source` for a replacement of hop `deadHop`, excluding the path's relays and the dead ones. */
export async function repath(path: readonly RelaySpec[], source: RelaySource, deadHop: number | undefined, dead: ReadonlySet<string>): Promise<Repath> {
  if (deadHop === undefined || deadHop < 0 || deadHop >= path.length) return { path: [...path] };
  const exclude = new Set([...dead, ...path.map(relayKey)]);
  const candidates = await source.candidates(hopRole(deadHop, path.length), exclude, path);
  return repairPath(path, candidates, deadHop, dead);
}

/** Relays that stopped answering, each avoided until `cooldownMs` after it was last marked. */
export class DeadRelays {
  private readonly until = new Map<string, number>();

  constructor(readonly cooldownMs: number = DEAD_RELAY_COOLDOWN_MS) {}

  mark(key: string, now: number): void {
    this.until.set(key, now + this.cooldownMs);
  }

  /** Keys still in their cool-down at `now` (expired ones are forgotten). */
  active(now: number): Set<string> {
    for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
    return new Set(this.until.keys());
  }
}
