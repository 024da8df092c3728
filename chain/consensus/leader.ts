/** Leader schedules. Both are deterministic functions of the view, identical on every node. */
import { createHash } from 'node:crypto';

/** members[view mod n]. */
export function roundRobinLeader(members: readonly string[]): (view: number) => string {
  if (members.length === 0) throw new RangeError('empty committee');
  return (view) => members[view % members.length] as string;
}

/**
 * Stake-weighted leader: member i leads view v with probability stakes[i]/Σstakes, drawn from
 * sha256(seed ‖ ':' ‖ v) read as a 256-bit integer modulo the total (bias ≤ total/2^256).
 * `seed` should come from committed history (e.g. the election QC hash) so nobody picks it alone.
 */
export function stakeWeightedLeader(members: readonly string[], stakes: readonly bigint[], seed: string): (view: number) => string {
  if (members.length === 0 || members.length !== stakes.length) throw new RangeError('members and stakes must be non-empty and aligned');
  if (stakes.some((s) => s < 0n)) throw new RangeError('negative stake');
  const total = stakes.reduce((a, b) => a + b, 0n);
  if (total === 0n) throw new RangeError('zero total stake');
  const cache = new Map<number, string>();
  return (view) => {
    const hit = cache.get(view);
    if (hit !== undefined) return hit;
    let r = BigInt('0x' + createHash('sha256').update(`${seed}:${view}`).digest('hex')) % total;
    let leader = members[members.length - 1] as string;
    for (let i = 0; i < members.length; i++) {
      const s = stakes[i] as bigint;
      if (r < s) {
        leader = members[i] as string;
        break;
      }
      r -= s;
    }
    if (cache.size > 4096) cache.clear();
    cache.set(view, leader);
    return leader;
  };
}
