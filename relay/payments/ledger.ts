/**
 * The operator's earnings accounting (pure): per channel and in total, in tokens (base units)
 * and bytes. Feeds the Prometheus earnings metrics.
 *
 * Figures per channel:
 *  served      bytes the meter counted; tokens = amountForBytes(served bytes, price)
 *  receipted   best receipt: bytes = cumulativeBytes, tokens = min(cumulativeAmount, deposit)
 *  claimed     what the chain paid out of the deposit for our claims (chain view `claimed`,
 *              bytes = the chain's cumulativeBytes)
 *  burned      the chain's 10 % burn of our claims (Σ ceil(delta × pct / 100)); fees = Σ claim tx fees (burned too)
 *  net         claimed − burned − fees: what reached our balance
 *  pending     receipted − claimed (claimable, not yet claimed)
 *  unreceipted max(0, served − receipted): served on credit, not (yet) receipted
 *  excess      max(0, receipted − served): receipted beyond our count (the client counted more:
 *              forward packets in flight or lost before reaching us). Then served + excess = receipted + unreceipted.
 *  lost        pending of a finalized channel (never claimable again)
 * Reconciliation (`reconcile` reports, `assertReconciled` throws LedgerInconsistencyError):
 *   served + excess ≥ receipted ≥ claimed (tokens), claimed = net + burned + fees,
 *   claimed = Σ claim deltas (when every claim was recorded), burn of each claim = ceil(pct).
 */
import { claimSplit } from '../../chain/state/rules/channel-claim.js';
import type { ChannelStatus } from '../../chain/state/types.js';
import { amountForBytes } from '../../protocol/payment-price.js';
import type { SignedPaymentReceipt } from '../../protocol/payment.js';
import type { ClaimRecord, ClaimWorker } from './claims.js';
import type { ReceiptBook } from './meter.js';
import { LedgerInconsistencyError } from './errors.js';

export interface ChannelEarningsInput {
  channelId: string;
  pricePerGiB: bigint;
  servedBytes: bigint;
  best: SignedPaymentReceipt | null;
  deposit: bigint;
  /** Chain view; zeros when the channel was never claimed / not fetched. */
  chainClaimed: bigint;
  chainClaimedBytes: bigint;
  status: ChannelStatus;
  /** Our confirmed claims on this channel. */
  claims: ClaimRecord[];
}

export interface Figures {
  served: bigint;
  receipted: bigint;
  claimed: bigint;
  pending: bigint;
  unreceipted: bigint;
  excess: bigint;
}

export interface ChannelEarnings {
  channelId: string;
  status: ChannelStatus;
  tokens: Figures & { burned: bigint; fees: bigint; net: bigint; lost: bigint };
  bytes: Figures;
}

export interface EarningsReport {
  channels: ChannelEarnings[];
  total: ChannelEarnings['tokens'];
  totalBytes: Figures;
  /** Human-readable reconciliation failures (empty = reconciled). */
  issues: string[];
}

function pos(v: bigint): bigint {
  return v > 0n ? v : 0n;
}

function figures(served: bigint, receipted: bigint, claimed: bigint): Figures {
  return { served, receipted, claimed, pending: pos(receipted - claimed), unreceipted: pos(served - receipted), excess: pos(receipted - served) };
}

function zeroTokens(): ChannelEarnings['tokens'] {
  return { ...figures(0n, 0n, 0n), burned: 0n, fees: 0n, net: 0n, lost: 0n };
}

export function channelEarnings(c: ChannelEarningsInput, burnPercent: bigint, issues: string[] = []): ChannelEarnings {
  const id = c.channelId.slice(0, 12);
  const amount = c.best?.receipt.cumulativeAmount ?? 0n;
  const receipted = amount < c.deposit ? amount : c.deposit;
  let burned = 0n;
  let fees = 0n;
  let deltas = 0n;
  for (const k of c.claims) {
    if (k.channelId !== c.channelId) issues.push(`${id}: claim record of channel ${k.channelId.slice(0, 12)}`);
    const want = claimSplit(k.delta, burnPercent).burn;
    if (k.burn !== want) issues.push(`${id}: claim seq ${k.seq} burn ${k.burn} ≠ ceil(${burnPercent}%) = ${want}`);
    if (k.delta - k.burn - k.fee !== k.net) issues.push(`${id}: claim seq ${k.seq} net ≠ delta − burn − fee`);
    burned += k.burn;
    fees += k.fee;
    deltas += k.delta;
  }
  const claimed = c.chainClaimed;
  const tokens = { ...figures(amountForBytes(c.servedBytes, c.pricePerGiB), receipted, claimed), burned, fees, net: claimed - burned - fees, lost: 0n };
  if (c.status === 'finalized') tokens.lost = tokens.pending;
  const bytes = figures(c.servedBytes, c.best?.receipt.cumulativeBytes ?? 0n, c.chainClaimedBytes);
  if (claimed > receipted) issues.push(`${id}: claimed ${claimed} > receipted ${receipted}`);
  if (tokens.served + tokens.excess < receipted) issues.push(`${id}: served + excess < receipted`);
  if (deltas !== claimed) issues.push(`${id}: Σ claim deltas ${deltas} ≠ chain claimed ${claimed}`);
  if (tokens.net + burned + fees !== claimed) issues.push(`${id}: net + burned + fees ≠ claimed`);
  return { channelId: c.channelId, status: c.status, tokens, bytes };
}

/** Earnings per channel and in total, with the reconciliation issues found. */
export function reconcile(inputs: ChannelEarningsInput[], burnPercent: bigint): EarningsReport {
  const issues: string[] = [];
  const channels = inputs.map((c) => channelEarnings(c, burnPercent, issues));
  const total = zeroTokens();
  const totalBytes = figures(0n, 0n, 0n);
  for (const c of channels) {
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += c.tokens[k];
    for (const k of Object.keys(totalBytes) as (keyof Figures)[]) totalBytes[k] += c.bytes[k];
  }
  return { channels, total, totalBytes, issues };
}

/** reconcile, throwing LedgerInconsistencyError when any figure fails to reconcile. */
export function assertReconciled(inputs: ChannelEarningsInput[], burnPercent: bigint): EarningsReport {
  const r = reconcile(inputs, burnPercent);
  if (r.issues.length) throw new LedgerInconsistencyError(r.issues.join('; '));
  return r;
}

/**
 * The ledger inputs from the live pieces: every channel account of the book, with the claim
 * worker's last chain view (zeros/'open' for a channel never read) and its confirmed claims.
 */
export function ledgerInputs(book: ReceiptBook, worker: Pick<ClaimWorker, 'chainView' | 'confirmed'>): ChannelEarningsInput[] {
  return book.accountsList().map((a) => {
    const ch = worker.chainView(a.channelId) ?? null;
    return {
      channelId: a.channelId,
      pricePerGiB: a.pricePerGiB,
      servedBytes: a.served,
      best: a.best,
      deposit: ch?.deposit ?? a.deposit,
      chainClaimed: ch?.claimed ?? 0n,
      chainClaimedBytes: ch?.cumulativeBytes ?? 0n,
      status: ch?.status ?? 'open',
      claims: worker.confirmed.filter((k) => k.channelId === a.channelId),
    };
  });
}
