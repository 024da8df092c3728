/**
 * Pure planning of the client's payment channels: which channel pays each hop (reuse or open,
 * and with what deposit), and which channels to close or finalize when done.
 *
 * Sizing: every hop carries the same bytes (all traffic crosses all three), so new deposits buy
 * the same coverage G at each hop: deposit_i = amountForBytes(G, price_i), with G = targetBytes
 * (default 10 GiB) unless the budget (new deposits + one open fee per new channel) cannot pay
 * that; then G is the largest coverage the budget pays, refused below minBytes (default 64 MiB:
 * 16 credit windows) with BudgetTooSmallError. A free hop (price 0) still gets a 1-unit deposit
 * (the chain requires a positive one).
 * Reuse: an open channel with that relay whose unspent deposit (deposit − what we promised)
 * still pays ≥ reuseMinBytes (default 1 GiB) at the hop's price; the one with most left wins.
 */
import type { ChannelStatus } from '../../chain/state/types.js';
import { amountForBytes, bytesCoveredBy, GiB, MiB } from '../../protocol/payment-price.js';
import { BudgetTooSmallError, ChannelPlanError } from './errors.js';
import type { ReceiptResume } from './signer.js';

export const DEFAULT_TARGET_BYTES = 10n * GiB;
export const DEFAULT_MIN_BYTES = 64n * MiB;
export const DEFAULT_REUSE_MIN_BYTES = GiB;

export interface HopQuote {
  relay: string;
  pricePerGiB: bigint;
}

/** A channel the client holds (from its wallet store + chain view). */
export interface KnownChannel {
  channelId: string;
  relay: string;
  deposit: bigint;
  /** Cumulative amount of the last receipt we signed (≥ what the chain has claimed). */
  promised: bigint;
  status: ChannelStatus;
  closesAt: number | null;
  /** Where a reused channel's signer continues. */
  lastReceipt?: ReceiptResume;
}

export type HopPlan =
  | { relay: string; action: 'reuse'; channelId: string; remaining: bigint; coversBytes: bigint | null; resume?: ReceiptResume }
  | { relay: string; action: 'open'; deposit: bigint; coversBytes: bigint | null };

export interface ChannelPlan {
  hops: HopPlan[];
  /** Σ new deposits. */
  newDeposits: bigint;
  /** Σ open tx fees. */
  fees: bigint;
  /** Coverage bought per new channel (null when no channel is opened or all new hops are free). */
  coverageBytes: bigint | null;
}

export interface PlanOptions {
  /** Most the user lets this plan lock or spend (new deposits + open fees), base units. */
  budget: bigint;
  /** Fee of one channel-open tx. */
  openFee: bigint;
  targetBytes?: bigint;
  minBytes?: bigint;
  reuseMinBytes?: bigint;
}

function remainingOf(c: KnownChannel): bigint {
  const r = c.deposit - c.promised;
  return r > 0n ? r : 0n;
}

export function planChannels(hops: HopQuote[], known: KnownChannel[], o: PlanOptions): ChannelPlan {
  if (hops.length === 0) throw new ChannelPlanError('no hops');
  for (const h of hops) if (typeof h.pricePerGiB !== 'bigint' || h.pricePerGiB < 0n) throw new ChannelPlanError(`bad price for ${h.relay.slice(0, 12)}`);
  if (o.budget < 0n || o.openFee < 0n) throw new ChannelPlanError('negative budget or fee');
  const target = o.targetBytes ?? DEFAULT_TARGET_BYTES;
  const minBytes = o.minBytes ?? DEFAULT_MIN_BYTES;
  const reuseMin = o.reuseMinBytes ?? DEFAULT_REUSE_MIN_BYTES;
  if (target < minBytes) throw new ChannelPlanError('targetBytes < minBytes');

  const used = new Set<string>();
  const reuse = new Map<number, KnownChannel>();
  hops.forEach((h, i) => {
    let pick: KnownChannel | undefined;
    for (const c of known) {
      if (c.relay !== h.relay || c.status !== 'open' || used.has(c.channelId)) continue;
      if (remainingOf(c) < amountForBytes(reuseMin, h.pricePerGiB) || remainingOf(c) === 0n) continue;
      if (!pick || remainingOf(c) > remainingOf(pick)) pick = c;
    }
    if (pick) {
      used.add(pick.channelId);
      reuse.set(i, pick);
    }
  });

  const fresh = hops.filter((_, i) => !reuse.has(i));
  const fees = o.openFee * BigInt(fresh.length);
  let coverage: bigint | null = null;
  if (fresh.length) {
    const priceSum = fresh.reduce((s, h) => s + h.pricePerGiB, 0n);
    const cost = (g: bigint): bigint => fresh.reduce((s, h) => s + depositFor(g, h.pricePerGiB), 0n);
    const available = o.budget - fees;
    let g = target;
    if (cost(g) > available) {
      // Σ ceil(g·p/2^30) ≤ g·Σp/2^30 + n: this g fits the budget (the free hops' 1-unit deposits included).
      const n = BigInt(fresh.length);
      g = priceSum === 0n ? 0n : pos(available - 2n * n) * GiB / priceSum;
      if (g > target) g = target;
    }
    if (g < minBytes || cost(g) > available) throw new BudgetTooSmallError(`budget ${o.budget} pays ${g} bytes per hop; at least ${minBytes} needed`);
    coverage = priceSum === 0n ? null : g;
  }

  const plans: HopPlan[] = hops.map((h, i) => {
    const c = reuse.get(i);
    if (c) {
      const p: HopPlan = { relay: h.relay, action: 'reuse', channelId: c.channelId, remaining: remainingOf(c), coversBytes: bytesCoveredBy(remainingOf(c), h.pricePerGiB) };
      if (c.lastReceipt) p.resume = c.lastReceipt;
      return p;
    }
    const deposit = depositFor(coverage ?? 0n, h.pricePerGiB);
    return { relay: h.relay, action: 'open', deposit, coversBytes: bytesCoveredBy(deposit, h.pricePerGiB) };
  });
  const newDeposits = plans.reduce((s, p) => s + (p.action === 'open' ? p.deposit : 0n), 0n);
  return { hops: plans, newDeposits, fees, coverageBytes: coverage };
}

function pos(v: bigint): bigint {
  return v > 0n ? v : 0n;
}

/** Deposit that pays `bytes` at `price` (≥ 1: the chain needs a positive deposit). */
export function depositFor(bytes: bigint, pricePerGiB: bigint): bigint {
  const a = amountForBytes(bytes, pricePerGiB);
  return a > 0n ? a : 1n;
}

export interface CleanupPlan {
  /** Send channel-close (the relay then has the challenge window to claim). */
  close: string[];
  /** Send channel-finalize (window over: the unclaimed rest comes back). */
  finalize: string[];
  /** Left alone: in use, kept for reuse, waiting for the window, or not worth the fees. */
  keep: { channelId: string; why: 'in_use' | 'kept_for_reuse' | 'window_open' | 'dust' | 'finalized' }[];
}

/**
 * Which channels to close/finalize at the end (or periodically). Close an open channel when it
 * is not in use and not kept for reuse (`keepRelays`, e.g. the guards), unless what would come
 * back (deposit − promised) does not exceed the close + finalize fees. Finalize a closing
 * channel once `height ≥ closesAt` (height of the channel's shard).
 */
export function planCleanup(known: KnownChannel[], o: { height: number; inUse: ReadonlySet<string>; keepRelays?: ReadonlySet<string>; fee: bigint }): CleanupPlan {
  const plan: CleanupPlan = { close: [], finalize: [], keep: [] };
  for (const c of known) {
    const keep = (why: CleanupPlan['keep'][number]['why']): void => void plan.keep.push({ channelId: c.channelId, why });
    if (c.status === 'finalized') keep('finalized');
    else if (c.status === 'closing') {
      if (c.closesAt !== null && o.height >= c.closesAt) plan.finalize.push(c.channelId);
      else keep('window_open');
    } else if (o.inUse.has(c.channelId)) keep('in_use');
    else if (remainingOf(c) <= 2n * o.fee) keep('dust');
    else if (o.keepRelays?.has(c.relay) && c.promised < c.deposit) keep('kept_for_reuse');
    else plan.close.push(c.channelId);
  }
  return plan;
}
