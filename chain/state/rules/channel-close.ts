import { reject } from '../errors.js';
import { requireShard, touchChannel, type ExecContext } from '../ledger.js';
import type { ChainState, Tx } from '../types.js';
import type { OpOf } from './common.js';

/**
 * The payer starts closing: finalize is allowed from height + challengeWindowBlocks; until
 * then the relay may still claim any newer receipt (a close carries no amount, so it can never
 * reduce what a receipt proves).
 */
export function applyChannelClose(state: ChainState, tx: Tx, op: OpOf<'channel-close'>, ctx: ExecContext): void {
  const rule = 'channel-close';
  requireShard(state, rule);
  const cid = String(op.channelId).slice(0, 12);
  const ch = state.channels.get(op.channelId);
  if (!ch) reject(rule, `channel ${cid}: unknown`);
  if (ch.payer !== tx.from) reject(rule, `channel ${cid}: only the payer may close`);
  if (ch.status !== 'open') reject(rule, `channel ${cid}: already ${ch.status}`);
  const w = touchChannel(state, op.channelId)!;
  w.status = 'closing';
  w.closesAt = ctx.height + ctx.params.challengeWindowBlocks;
}
