/**
 * Replacements for a dead (or departed) hop drawn from the live discovery directory
 * (discovery/session.ts DiscoverySession, or anything with `candidates()`), under the same
 * constraints the path was chosen with (client/path/select.ts PathConstraints): eligible now
 * (staked, not jailed, fresh descriptor, this chain), within `maxPricePerGiB`, not in the
 * constraints' `exclude`; for the exit role also in `exitCountry` with an exit policy allowing
 * `destination` (default port 443); and unrelated (operator, family, /16 unless
 * `distinctSubnets` is false) to the hops of the path that stay. Order: a weighted draw
 * without replacement (stake × bandwidth, as selectPath), zero-weight relays last. Pure but
 * for the directory read and the clock.
 */
import { relayKey, hopRole, type HopRole, type RelaySource } from '../circuit-repath.js';
import type { RelaySpec } from '../relay-list.js';
import { candidateToSpec } from './discovered.js';
import { ineligibility, related, weightedPick, type RelayCandidate } from './relays.js';
import { cryptoRng, type Rng } from './rng.js';
import { DEFAULT_EXIT_PORT, exitAllows, type PathConstraints } from './select.js';

export interface RelayDirectory {
  /** Relays usable now, as the live directory knows them. */
  candidates(): readonly RelayCandidate[];
}

export interface DiscoveryRelaySourceOptions {
  directory: RelayDirectory;
  constraints: Omit<PathConstraints, 'hops'>;
  /** Unix ms (default Date.now). */
  nowMs?: () => number;
  rng?: Rng;
}

export class DiscoveryRelaySource implements RelaySource {
  constructor(private readonly o: DiscoveryRelaySourceOptions) {}

  candidates(role: HopRole, exclude: ReadonlySet<string>, path: readonly RelaySpec[] = []): RelaySpec[] {
    const c = this.o.constraints;
    const all = this.o.directory.candidates();
    const byKey = new Map(all.map((x) => [x.descriptor.onionKey.toLowerCase(), x]));
    // The hops that stay (all but the one of `role`), as the directory describes them.
    const staying = path
      .filter((_, i) => hopRole(i, path.length) !== role)
      .map((r) => byKey.get(relayKey(r)))
      .filter((x): x is RelayCandidate => x !== undefined);
    const rules = {
      nowMs: (this.o.nowMs ?? Date.now)(),
      ...(c.minStake !== undefined ? { minStake: c.minStake } : {}),
      ...(c.chainId !== undefined ? { chainId: c.chainId } : {}),
      exclude: new Set(c.exclude ?? []),
    };
    const rel = { distinctSubnets: c.distinctSubnets !== false };
    const dest = c.destination ?? { port: DEFAULT_EXIT_PORT };
    let pool = all.filter(
      (x) =>
        !exclude.has(x.descriptor.onionKey.toLowerCase()) &&
        ineligibility(x, rules) === null &&
        (c.maxPricePerGiB === undefined || x.descriptor.pricePerGiB <= c.maxPricePerGiB) &&
        (role !== 'exit' || ((c.exitCountry === undefined || x.descriptor.region === c.exitCountry) && exitAllows(x, dest))) &&
        !staying.some((s) => related(x, s, rel)),
    );
    const out: RelayCandidate[] = [];
    for (;;) {
      const pick = weightedPick(pool, this.o.rng ?? cryptoRng);
      if (pick === undefined) break;
      out.push(pick);
      pool = pool.filter((x) => x !== pick);
    }
    return [...out, ...pool].map((x) => (role === 'exit' ? { ...candidateToSpec(x), exit: true } : candidateToSpec(x)));
  }
}
