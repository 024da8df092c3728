/**
 * Mempool admission rule for nonce-free channel claims: a claim whose receipt seq is not above
 * the channel's claimed seq (or whose channel is finalized) can never apply again on this
 * chain, so it is dropped instead of taking a block slot (stale claims are re-gossiped to
 * lagging nodes). Pure.
 */
import type { ChainState, SignedTx } from '../state/types.js';

/** True iff `stx` is a channel claim that is stale on `state` (see above). */
export function isStaleClaim(state: Pick<ChainState, 'channels'>, stx: SignedTx): boolean {
  const op = stx.tx.op;
  if (op?.type !== 'channel-claim') return false;
  const ch = typeof op.channelId === 'string' ? state.channels.get(op.channelId) : undefined;
  if (!ch) return false; // the channel may open in a later block
  if (ch.status === 'finalized') return true;
  const seq = op.receipt?.seq;
  return typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= ch.seq;
}
