import { reject } from '../errors.js';
import { requireShard, touchAccount, touchChannel, type ExecContext } from '../ledger.js';
import type { ChainState, Tx } from '../types.js';
import type { OpOf } from './common.js';

/** After the challenge window, refunds deposit − claimed to the payer; the channel is kept as finalized (its id cannot be reused). */
export function applyChannelFinalize(state: ChainState, tx: Tx, op: OpOf<'channel-finalize'>, ctx: ExecContext): void {
  const rule = 'channel-finalize';
  requireShard(state, rule);
  const cid = String(op.channelId).slice(0, 12);
  const ch = state.channels.get(op.channelId);
  if (!ch) reject(rule, `channel ${cid}: unknown`);
  if (ch.payer !== tx.from) reject(rule, `channel ${cid}: only the payer may finalize`);
  if (ch.status !== 'closing' || ch.closesAt === null) reject(rule, `channel ${cid}: not closing (${ch.status})`);
  if (ctx.height < ch.closesAt) reject(rule, `channel ${cid}: challenge window open until height ${ch.closesAt} (now ${ctx.height})`);
  touchAccount(state, ch.payer).balance += ch.deposit - ch.claimed;
  touchChannel(state, op.channelId)!.status = 'finalized';
}
