import { debit, payTo, requireBalance, requirePositive, requireShard, type ExecContext } from '../ledger.js';
import type { ChainState, Tx } from '../types.js';
import { requireAddress, type OpOf } from './common.js';

/** Moves `amount` to `to`: directly on the same shard, else via a credit receipt to `to`'s shard. */
export function applyTransfer(state: ChainState, tx: Tx, op: OpOf<'transfer'>, ctx: ExecContext): void {
  const rule = 'transfer';
  requireShard(state, rule);
  requireAddress(op.to, rule, 'recipient');
  requirePositive(op.amount, rule, 'amount');
  requireBalance(state, tx.from, op.amount, rule, `transfer of ${op.amount}`);
  debit(state, tx.from, op.amount);
  payTo(state, ctx, op.to, op.amount, 'transfer');
}
