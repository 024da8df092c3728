/**
 * The relay's claim policy (pure `planClaims`) and the worker that drives it over a `ChainPort`
 * (no IO of its own: the port is JSON-RPC in the daemon, an in-memory fake in tests).
 *
 * When to claim a channel's best receipt (delta = min(amount, deposit) − claimed on chain):
 *  - threshold: delta ≥ policy.thresholdAmount (default: the value of 1 GiB at our price, and at
 *    least 10 claim fees, so one claim carries ≥ 1 GiB of traffic and the fee is ≤ 10 % of it);
 *  - shutdown: every channel with anything claimable;
 *  - watchtower: the channel is `closing` on chain: claim at once, whatever the threshold (the
 *    payer can finalize from `closesAt`; until it does, a claim is still valid, so a relay that
 *    was offline during the close claims as soon as it is back).
 * Never claimable: nothing new (best seq ≤ claimed seq or delta ≤ 0), finalized channels (value
 * lost), dust (the relay's 90 % share does not exceed the fee: the chain would reject it).
 * No double claim: a seq submitted and not yet seen on chain is `pending` and not resubmitted
 * (until `confirmTimeoutTicks` pass without it appearing: the tx was dropped). A failed
 * submission is retried after a backoff of 1, 2, 4 … ≤ maxBackoffTicks ticks (every tick for a
 * closing channel).
 */
import { claimSplit } from '../../chain/state/rules/channel-claim.js';
import type { PaymentReceipt } from '../../chain/state/payment-receipt.js';
import { homeChain, type ChainName } from '../../chain/state/shard.js';
import { signTx } from '../../chain/state/tx.js';
import type { Channel, SignedTx } from '../../chain/state/types.js';
import { amountForBytes, GiB } from '../../protocol/payment-price.js';
import type { SignedPaymentReceipt } from '../../protocol/payment.js';
import { ClaimConfigError } from './errors.js';

/** What the worker needs from the chain (implemented over JSON-RPC by the daemon). */
export interface ChainPort {
  /** Submits a channel-claim of `receipt`; resolves to the tx hash once the node accepted it into its pool. */
  submitClaim(receipt: PaymentReceipt, signature: string): Promise<string>;
  /** The channel as of the latest final block, null if unknown. */
  getChannel(channelId: string): Promise<Channel | null>;
}

export interface ClaimPolicy {
  /** Claim once delta reaches this (base units). */
  thresholdAmount: bigint;
  /** Fee each claim tx pays (out of the relay share). */
  fee: bigint;
  /** Percent burned of each claim (chain param claimBurnPercent). */
  burnPercent: bigint;
}

export const DEFAULT_CLAIM_THRESHOLD_BYTES = GiB;
export const DEFAULT_MIN_FEE_MULTIPLE = 10n;
export const DEFAULT_CONFIRM_TIMEOUT_TICKS = 30;
export const DEFAULT_MAX_BACKOFF_TICKS = 16;
/** Every channel is re-read from the chain at least this often (catches closes without events). */
export const DEFAULT_REFRESH_EVERY_TICKS = 60;

/** threshold = max(amountForBytes(thresholdBytes, price), minFeeMultiple × fee). */
export function defaultClaimPolicy(o: { pricePerGiB: bigint; fee: bigint; burnPercent: bigint; thresholdBytes?: bigint; minFeeMultiple?: bigint }): ClaimPolicy {
  if (o.pricePerGiB < 0n || o.fee < 0n || o.burnPercent < 0n || o.burnPercent > 100n) throw new ClaimConfigError('bad price, fee or burn percent');
  const byBytes = amountForBytes(o.thresholdBytes ?? DEFAULT_CLAIM_THRESHOLD_BYTES, o.pricePerGiB);
  const byFee = (o.minFeeMultiple ?? DEFAULT_MIN_FEE_MULTIPLE) * o.fee;
  return { thresholdAmount: byBytes > byFee ? byBytes : byFee, fee: o.fee, burnPercent: o.burnPercent };
}

export type ClaimReason = 'threshold' | 'shutdown' | 'watchtower';
export type SkipReason = 'unknown_channel' | 'not_fetched' | 'finalized' | 'nothing_new' | 'dust' | 'below_threshold' | 'pending' | 'backoff';

/** One channel as the policy sees it. */
export interface ClaimCandidate {
  best: SignedPaymentReceipt;
  /** Chain view: null = unknown channel, undefined = not fetched yet. */
  chain: Channel | null | undefined;
  /** Seq of a submitted claim not yet seen on chain. */
  pendingSeq?: number;
  /** No submission before this tick (after a failure). */
  retryAtTick?: number;
}

export interface ClaimDecision {
  channelId: string;
  best: SignedPaymentReceipt;
  reason: ClaimReason;
  /** What the chain will pay: min(amount, deposit) − claimed. */
  delta: bigint;
}

export interface ClaimPlan {
  submit: ClaimDecision[];
  skip: { channelId: string; why: SkipReason }[];
}

/** min(amount, deposit) − claimed, if the receipt is newer than what the chain holds (else 0). */
export function claimableDelta(best: SignedPaymentReceipt, ch: Channel): bigint {
  if (best.receipt.seq <= ch.seq) return 0n;
  const capped = best.receipt.cumulativeAmount < ch.deposit ? best.receipt.cumulativeAmount : ch.deposit;
  const d = capped - ch.claimed;
  return d > 0n ? d : 0n;
}

/** Pure claim decision for every candidate (see module comment). */
export function planClaims(candidates: ClaimCandidate[], policy: ClaimPolicy, o: { mode: 'normal' | 'shutdown'; tick: number }): ClaimPlan {
  const plan: ClaimPlan = { submit: [], skip: [] };
  for (const c of candidates) {
    const channelId = c.best.receipt.channelId;
    const skip = (why: SkipReason): void => void plan.skip.push({ channelId, why });
    if (c.chain === undefined) {
      skip('not_fetched');
      continue;
    }
    if (c.chain === null) {
      skip('unknown_channel');
      continue;
    }
    if (c.chain.status === 'finalized') {
      skip('finalized');
      continue;
    }
    const delta = claimableDelta(c.best, c.chain);
    if (delta === 0n) {
      skip('nothing_new');
      continue;
    }
    if (claimSplit(delta, policy.burnPercent).relay <= policy.fee) {
      skip('dust');
      continue;
    }
    const reason: ClaimReason | null = c.chain.status === 'closing' ? 'watchtower' : o.mode === 'shutdown' ? 'shutdown' : delta >= policy.thresholdAmount ? 'threshold' : null;
    if (reason === null) {
      skip('below_threshold');
      continue;
    }
    if (c.pendingSeq !== undefined && (c.pendingSeq >= c.best.receipt.seq || reason === 'threshold')) {
      skip('pending');
      continue;
    }
    if (c.retryAtTick !== undefined && o.tick < c.retryAtTick) {
      skip('backoff');
      continue;
    }
    plan.submit.push({ channelId, best: c.best, reason, delta });
  }
  return plan;
}

/** A claim seen applied on chain (what the ledger accounts). */
export interface ClaimRecord {
  channelId: string;
  seq: number;
  txHash: string;
  /** Paid out of the deposit (chain claimed after − before). */
  delta: bigint;
  /** ceil(delta × burnPercent / 100). */
  burn: bigint;
  fee: bigint;
  /** delta − burn − fee: credited to us. */
  net: bigint;
}

interface Track {
  chain: Channel | null | undefined;
  fetchedAtTick: number;
  dirty: boolean;
  pending?: { seq: number; txHash: string; sinceTick: number; claimedBefore: bigint };
  attempts: number;
  retryAtTick?: number;
}

export interface TickReport {
  tick: number;
  submitted: (ClaimDecision & { txHash: string })[];
  failed: (ClaimDecision & { error: string })[];
  confirmed: ClaimRecord[];
  /** Pending claims given up after confirmTimeoutTicks (resubmitted later). */
  dropped: string[];
  skipped: ClaimPlan['skip'];
}

export interface ClaimWorkerOptions {
  confirmTimeoutTicks?: number;
  maxBackoffTicks?: number;
  refreshEveryTicks?: number;
}

/** Where the best receipts come from (relay/payments/meter.ts ReceiptBook, or a restored store). */
export interface BestReceiptSource {
  bestReceipts(): Map<string, SignedPaymentReceipt>;
}

/**
 * Drives planClaims over a ChainPort. Call `tick()` periodically (e.g. each new block) and
 * `tick('shutdown')` before exiting; call `onChannelClosing(id)` for each close of our channels
 * seen in chain events (the watchtower reacts on the next tick, not only at the next refresh).
 */
export class ClaimWorker {
  private tickNo = 0;
  private readonly tracks = new Map<string, Track>();
  readonly confirmed: ClaimRecord[] = [];
  readonly confirmTimeoutTicks: number;
  readonly maxBackoffTicks: number;
  readonly refreshEveryTicks: number;

  constructor(
    private readonly port: ChainPort,
    private readonly source: BestReceiptSource,
    readonly policy: ClaimPolicy,
    o: ClaimWorkerOptions = {},
  ) {
    this.confirmTimeoutTicks = o.confirmTimeoutTicks ?? DEFAULT_CONFIRM_TIMEOUT_TICKS;
    this.maxBackoffTicks = o.maxBackoffTicks ?? DEFAULT_MAX_BACKOFF_TICKS;
    this.refreshEveryTicks = o.refreshEveryTicks ?? DEFAULT_REFRESH_EVERY_TICKS;
    for (const v of [this.confirmTimeoutTicks, this.maxBackoffTicks, this.refreshEveryTicks]) if (!Number.isSafeInteger(v) || v < 1) throw new ClaimConfigError('tick counts must be ≥ 1');
    if (policy.thresholdAmount < 0n || policy.fee < 0n) throw new ClaimConfigError('negative threshold or fee');
  }

  /** A chain event says this channel is closing: re-read it on the next tick. */
  onChannelClosing(channelId: string): void {
    const t = this.tracks.get(channelId);
    if (t) t.dirty = true;
    else this.tracks.set(channelId, { chain: undefined, fetchedAtTick: -1, dirty: true, attempts: 0 });
  }

  /** The last chain view of a channel (diagnostics, ledger). */
  chainView(channelId: string): Channel | null | undefined {
    return this.tracks.get(channelId)?.chain;
  }

  async tick(mode: 'normal' | 'shutdown' = 'normal'): Promise<TickReport> {
    const tick = ++this.tickNo;
    const report: TickReport = { tick, submitted: [], failed: [], confirmed: [], dropped: [], skipped: [] };
    const best = this.source.bestReceipts();
    const candidates: ClaimCandidate[] = [];
    for (const [id, b] of best) {
      let t = this.tracks.get(id);
      if (!t) {
        t = { chain: undefined, fetchedAtTick: -1, dirty: true, attempts: 0 };
        this.tracks.set(id, t);
      }
      const stale = t.chain === undefined || t.dirty || t.pending !== undefined || mode === 'shutdown' || tick - t.fetchedAtTick >= this.refreshEveryTicks;
      const mightClaim = t.chain && t.chain.status === 'open' && claimableDelta(b, t.chain) >= this.policy.thresholdAmount;
      if (stale || mightClaim) await this.refresh(id, t, tick, report);
      candidates.push({ best: b, chain: t.chain, pendingSeq: t.pending?.seq, retryAtTick: t.retryAtTick });
    }
    const plan = planClaims(candidates, this.policy, { mode, tick });
    report.skipped = plan.skip;
    for (const d of plan.submit) {
      const t = this.tracks.get(d.channelId)!;
      try {
        const txHash = await this.port.submitClaim(d.best.receipt, d.best.signature);
        t.pending = { seq: d.best.receipt.seq, txHash, sinceTick: tick, claimedBefore: t.chain?.claimed ?? 0n };
        t.attempts = 0;
        t.retryAtTick = undefined;
        report.submitted.push({ ...d, txHash });
      } catch (e) {
        t.attempts++;
        const backoff = d.reason === 'watchtower' ? 1 : Math.min(2 ** (t.attempts - 1), this.maxBackoffTicks);
        t.retryAtTick = tick + backoff;
        report.failed.push({ ...d, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return report;
  }

  private async refresh(id: string, t: Track, tick: number, report: TickReport): Promise<void> {
    let ch: Channel | null;
    try {
      ch = await this.port.getChannel(id);
    } catch {
      return; // chain unreachable: keep the old view, try again next tick
    }
    t.chain = ch;
    t.fetchedAtTick = tick;
    t.dirty = false;
    const p = t.pending;
    if (!p) return;
    if (ch && ch.seq >= p.seq) {
      const delta = ch.claimed - p.claimedBefore;
      const { burn } = claimSplit(delta, this.policy.burnPercent);
      const rec: ClaimRecord = { channelId: id, seq: p.seq, txHash: p.txHash, delta, burn, fee: this.policy.fee, net: delta - burn - this.policy.fee };
      this.confirmed.push(rec);
      report.confirmed.push(rec);
      t.pending = undefined;
    } else if (tick - p.sinceTick >= this.confirmTimeoutTicks) {
      report.dropped.push(id);
      t.pending = undefined;
    }
  }
}

/** The chain a claim executes on: the channel's (payer's) home shard. */
export function claimChain(payer: string, shardCount: number): ChainName {
  return homeChain(payer, shardCount);
}

/** Builds and signs the channel-claim tx (no nonce: the seq protects it; fee paid out of the claim). */
export function buildClaimTx(o: {
  chainId: string;
  shardCount: number;
  payer: string;
  relaySeed: Uint8Array;
  relay: string;
  fee: bigint;
  best: SignedPaymentReceipt;
}): SignedTx {
  return signTx(
    {
      chainId: o.chainId,
      chain: claimChain(o.payer, o.shardCount),
      from: o.relay,
      nonce: 0,
      fee: o.fee,
      op: { type: 'channel-claim', channelId: o.best.receipt.channelId, receipt: o.best.receipt, receiptSignature: o.best.signature },
    },
    o.relaySeed,
  );
}
