import { debit, requireBalance, requirePositive, requireShard, touchAccount, type ExecContext } from '../ledger.js';
import { settleUsage } from '../resource.js';
import type { ChainState, Tx } from '../types.js';
import type { OpOf } from './common.js';

/** Locks `amount` for a fee-free tx quota (see resource.ts); restarts the withdrawal wait. */
export function applyResourceDeposit(state: ChainState, tx: Tx, op: OpOf<'resource-deposit'>, ctx: ExecContext): void {
  const rule = 'resource-deposit';
  requireShard(state, rule);
  requirePositive(op.amount, rule, 'amount');
  requireBalance(state, tx.from, op.amount, rule, `resource deposit of ${op.amount}`);
  debit(state, tx.from, op.amount);
  const lock = touchAccount(state, tx.from).resource;
  settleUsage(lock, ctx.params.resource, ctx.height);
  lock.locked += op.amount;
  lock.lockedAt = ctx.height;
}
