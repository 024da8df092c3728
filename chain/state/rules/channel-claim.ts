import { reject } from '../errors.js';
import { payTo, requireShard, touchChannel, type ExecContext } from '../ledger.js';
import { verifyPaymentReceipt } from '../payment-receipt.js';
import type { ChainState, Tx } from '../types.js';
import type { OpOf } from './common.js';

/** burn = ceil(delta · pct / 100): the burn is never below the percentage; the relay gets the rest. */
export function claimSplit(delta: bigint, burnPercent: bigint): { burn: bigint; relay: bigint } {
  const burn = (delta * burnPercent + 99n) / 100n;
  return { burn, relay: delta - burn };
}

/**
 * The relay submits the payer's latest signed cumulative receipt. Pays
 * min(cumulativeAmount, deposit) − claimed: burns ceil(10%), then the tx fee is taken out of
 * the relay's share (burned too), the rest is credited to the relay (via a receipt if its home
 * shard differs). No nonce: replay is prevented by the strictly increasing seq. Any rejection
 * leaves the state untouched (status invalid).
 */
export function applyChannelClaim(state: ChainState, tx: Tx, op: OpOf<'channel-claim'>, ctx: ExecContext): { fee: bigint } {
  const rule = 'channel-claim';
  requireShard(state, rule);
  const cid = String(op.channelId).slice(0, 12);
  const ch = state.channels.get(op.channelId);
  if (!ch) reject(rule, `channel ${cid}: unknown`);
  if (ch.status === 'finalized') reject(rule, `channel ${cid}: finalized`);
  if (tx.from !== ch.relay) reject(rule, `channel ${cid}: only its relay may claim`);
  const r = op.receipt;
  if (typeof r !== 'object' || r === null) reject(rule, `channel ${cid}: missing receipt`);
  if (r.chainId !== state.chainId) reject(rule, `channel ${cid}: receipt for foreign chain ${String(r.chainId)}`);
  if (r.channelId !== op.channelId) reject(rule, `channel ${cid}: receipt is for channel ${String(r.channelId).slice(0, 12)} (wrong channel)`);
  if (!Number.isSafeInteger(r.seq)) reject(rule, `channel ${cid}: receipt seq is not an integer`);
  if (r.seq <= ch.seq) reject(rule, `channel ${cid}: receipt seq ${r.seq} ≤ claimed seq ${ch.seq} (stale)`);
  if (typeof r.cumulativeAmount !== 'bigint' || r.cumulativeAmount < 0n) reject(rule, `channel ${cid}: bad cumulative amount`);
  if (typeof r.cumulativeBytes !== 'bigint' || r.cumulativeBytes < 0n) reject(rule, `channel ${cid}: bad cumulative bytes`);
  if (!verifyPaymentReceipt(r, op.receiptSignature, ch.payer)) reject(rule, `channel ${cid}: receipt signature is not the payer's (forged)`);
  const capped = r.cumulativeAmount < ch.deposit ? r.cumulativeAmount : ch.deposit;
  const delta = capped - ch.claimed;
  if (delta <= 0n) reject(rule, `channel ${cid}: receipt amount ${r.cumulativeAmount} adds nothing over claimed ${ch.claimed}`);
  const { burn, relay } = claimSplit(delta, ctx.params.claimBurnPercent);
  if (typeof tx.fee !== 'bigint' || tx.fee < ctx.params.minFee) reject(rule, `fee ${String(tx.fee)} < minimum ${ctx.params.minFee}`);
  if (tx.fee > relay) reject(rule, `channel ${cid}: fee ${tx.fee} exceeds the relay share ${relay}`);
  const w = touchChannel(state, op.channelId)!;
  w.claimed = capped;
  w.seq = r.seq;
  w.cumulativeBytes = r.cumulativeBytes;
  state.burned += burn + tx.fee;
  payTo(state, ctx, ch.relay, relay - tx.fee, 'claim');
  return { fee: tx.fee };
}
