import { debit, payTo, requireBalance, requirePositive, requireShard, toBeacon, type ExecContext } from '../ledger.js';
import { voteKey, type ChainState, type Tx } from '../types.js';
import { requireAddress, type OpOf } from './common.js';

/** Home shard: locks `amount` and sends it to the beacon as votes for `node`. */
export function applyVote(state: ChainState, tx: Tx, op: OpOf<'vote'>, ctx: ExecContext): void {
  const rule = 'vote';
  requireShard(state, rule);
  requireAddress(op.node, rule, 'node');
  requirePositive(op.amount, rule, 'amount');
  requireBalance(state, tx.from, op.amount, rule, `vote of ${op.amount}`);
  debit(state, tx.from, op.amount);
  toBeacon(state, ctx, op.amount, { kind: 'vote', voter: tx.from, node: op.node });
}

/** Beacon: adds the votes if the node is active, else refunds them. */
export function beaconVote(state: ChainState, voter: string, node: string, amount: bigint, ctx: ExecContext): string | undefined {
  const n = state.nodes[node];
  if (!n || n.status !== 'active') {
    payTo(state, ctx, voter, amount, 'refund');
    return `node ${node.slice(0, 12)} is not an active node`;
  }
  const k = voteKey(voter, node);
  const cur = state.votes[k];
  if (cur) cur.amount += amount;
  else state.votes[k] = { voter, node, amount };
  return undefined;
}
