import { requirePositive, requireShard, toBeacon, type ExecContext } from '../ledger.js';
import { voteKey, type ChainState, type Tx } from '../types.js';
import { requireAddress, type OpOf } from './common.js';

/** Home shard: asks the beacon to unlock `amount` of the sender's votes for `node`. */
export function applyUnvote(state: ChainState, tx: Tx, op: OpOf<'unvote'>, ctx: ExecContext): void {
  const rule = 'unvote';
  requireShard(state, rule);
  requireAddress(op.node, rule, 'node');
  requirePositive(op.amount, rule, 'amount');
  toBeacon(state, ctx, 0n, { kind: 'unvote', voter: tx.from, node: op.node, amount: op.amount });
}

/** Beacon: moves the votes to an unlocking entry released after voteUnlockBlocks. */
export function beaconUnvote(state: ChainState, voter: string, node: string, amount: bigint, ctx: ExecContext): string | undefined {
  const k = voteKey(voter, node);
  const cur = state.votes[k];
  const have = cur?.amount ?? 0n;
  if (!cur || have < amount) return `voter ${voter.slice(0, 12)} has ${have} votes on ${node.slice(0, 12)} < ${amount}`;
  cur.amount -= amount;
  if (cur.amount === 0n) delete state.votes[k];
  state.unlocking.push({ owner: voter, node, amount, releaseHeight: ctx.height + ctx.params.voteUnlockBlocks });
  return undefined;
}
