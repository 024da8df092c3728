/**
 * Path repair after a hop stopped answering (pure).
 *
 * Contract: only middle hops are swapped. The entry stays (routes and the kill switch are
 * pinned to its endpoint) and so does the exit (the relay list names one exit, and the
 * tunnel address comes from it); for those the same path is retried. A spare is any
 * relay of the list not in the path and not known dead, taken in list order.
 */
import type { RelaySpec } from './relay-list.js';

export const relayKey = (r: RelaySpec): string => Buffer.from(r.publicKey).toString('hex');

export interface Repath {
  path: RelaySpec[];
  /** The relay put in place of the dead one, if any. */
  replaced?: { hop: number; from: RelaySpec; to: RelaySpec };
}

/**
 * The path to rebuild with after hop `deadHop` (0 = entry) of `path` stopped answering.
 * `dead` holds the keys (relayKey) of relays known dead, the new one included by the caller.
 */
export function repairPath(path: readonly RelaySpec[], spares: readonly RelaySpec[], deadHop: number | undefined, dead: ReadonlySet<string>): Repath {
  const out = [...path];
  if (deadHop === undefined || deadHop <= 0 || deadHop >= path.length - 1) return { path: out };
  const inPath = new Set(path.map(relayKey));
  const to = spares.find((s) => !inPath.has(relayKey(s)) && !dead.has(relayKey(s)));
  if (to === undefined) return { path: out };
  const from = out[deadHop]!;
  out[deadHop] = to;
  return { path: out, replaced: { hop: deadHop, from, to } };
}
