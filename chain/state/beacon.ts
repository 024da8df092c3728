import { payTo, type ExecContext } from './ledger.js';
import type { ChainState } from './types.js';

/**
 * The beacon's end-of-block step: returns matured node deposits and vote unlocks, and on
 * epoch boundaries (height % epochBlocks === 0) issues rewards from the reserve. Every
 * payment leaves as a credit receipt to the recipient's home shard. Iteration is over sorted
 * keys so the receipt order never depends on map insertion history.
 */
export function beaconEndBlock(state: ChainState, ctx: ExecContext): void {
  for (const owner of Object.keys(state.nodes).sort()) {
    const n = state.nodes[owner]!;
    if (n.status === 'unbonding' && n.releaseHeight !== null && n.releaseHeight <= ctx.height) {
      payTo(state, ctx, owner, n.deposit, 'unbond');
      delete state.nodes[owner];
    }
  }
  const keep = [];
  for (const u of state.unlocking) {
    if (u.releaseHeight <= ctx.height) payTo(state, ctx, u.owner, u.amount, 'unvote');
    else keep.push(u);
  }
  state.unlocking = keep;
  if (ctx.params.epochBlocks > 0 && ctx.height % ctx.params.epochBlocks === 0) issueRewards(state, ctx);
}

/** Splits `part` by weight (floor each share); returns [recipient, share] sorted by recipient. */
export function proRata(part: bigint, weights: Map<string, bigint>): [string, bigint][] {
  let total = 0n;
  for (const w of weights.values()) total += w;
  if (total === 0n) return [];
  return [...weights.keys()]
    .sort()
    .map((k): [string, bigint] => [k, (part * weights.get(k)!) / total])
    .filter(([, s]) => s > 0n);
}

/**
 * Reward for one epoch: R = min(reserve, rewardPerEpoch), split by rewardSplitBps into
 * validators (active validator-role nodes by deposit), auditors (active auditor-role nodes by
 * deposit) and voters (by votes locked on active nodes). Rounding dust and the parts with no
 * recipients stay in the reserve.
 */
export function issueRewards(state: ChainState, ctx: ExecContext): bigint {
  const R = state.reserve < ctx.params.rewardPerEpoch ? state.reserve : ctx.params.rewardPerEpoch;
  if (R <= 0n) return 0n;
  const split = ctx.params.rewardSplitBps;
  const byRole = (role: string): Map<string, bigint> => {
    const m = new Map<string, bigint>();
    for (const k of Object.keys(state.nodes).sort()) {
      const n = state.nodes[k]!;
      if (n.status === 'active' && n.role === role) m.set(k, n.deposit);
    }
    return m;
  };
  const voters = new Map<string, bigint>();
  for (const k of Object.keys(state.votes).sort()) {
    const v = state.votes[k]!;
    if (state.nodes[v.node]?.status === 'active') voters.set(v.voter, (voters.get(v.voter) ?? 0n) + v.amount);
  }
  const payouts = new Map<string, bigint>();
  const add = (list: [string, bigint][]): void => {
    for (const [k, s] of list) payouts.set(k, (payouts.get(k) ?? 0n) + s);
  };
  add(proRata((R * split.validators) / 10_000n, byRole('validator')));
  add(proRata((R * split.auditors) / 10_000n, byRole('auditor')));
  add(proRata((R * split.voters) / 10_000n, voters));
  let paid = 0n;
  for (const k of [...payouts.keys()].sort()) {
    const s = payouts.get(k)!;
    payTo(state, ctx, k, s, 'reward');
    paid += s;
  }
  state.reserve -= paid;
  state.issued += paid;
  return paid;
}
