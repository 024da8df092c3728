import { reject } from '../errors.js';
import { accountOf, requirePositive, requireShard, touchAccount, type ExecContext } from '../ledger.js';
import { settleUsage } from '../resource.js';
import type { ChainState, Tx } from '../types.js';
import type { OpOf } from './common.js';

/** Unlocks resource deposit once the last deposit is at least one quota window old. */
export function applyResourceWithdraw(state: ChainState, tx: Tx, op: OpOf<'resource-withdraw'>, ctx: ExecContext): void {
  const rule = 'resource-withdraw';
  requireShard(state, rule);
  requirePositive(op.amount, rule, 'amount');
  const lock = accountOf(state, tx.from).resource;
  if (lock.locked < op.amount) reject(rule, `locked ${lock.locked} < ${op.amount}`);
  const ready = lock.lockedAt + ctx.params.resource.windowBlocks;
  if (ctx.height < ready) reject(rule, `resource deposit locked until height ${ready} (now ${ctx.height})`);
  const a = touchAccount(state, tx.from);
  settleUsage(a.resource, ctx.params.resource, ctx.height);
  a.resource.locked -= op.amount;
  a.balance += op.amount;
}
