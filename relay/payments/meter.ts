/**
 * The relay's per-circuit payment meter (pure, no IO, no clock).
 *
 * Billing unit: the bytes of the protocol/payment.ts billing contract, counted both directions.
 * Receipts are cumulative per CHANNEL, so the served/paid figures live in a `ChannelAccount`
 * shared by every circuit billed to that channel (a client may reuse a channel for a new
 * circuit); a `CircuitMeter` is one circuit's handle on its channel's account plus its own
 * counters.
 *
 * Loss allowance: backward bytes are counted when sent, so packets lost further down (links,
 * other hops' queues and pauses) are counted here but never reach the client, which pays only
 * what it measured (+ its 1 % + 64 KiB tolerance). Losses accumulate, so without a write-off a
 * long session on a link losing more than the client's tolerance would end paused for good.
 * The meter bills billable(s) = s − floor(s × lossAllowancePpm / 10^6) (default 2 %), stated to
 * the client in CHANNEL_BOUND; the ledger still reports every byte served.
 *
 * Credit window: the relay serves at most `creditWindowBytes` bytes beyond what the best receipt
 * pays for. unpaidBytes = max(0, billable(served) − bytesCoveredBy(paid)), paid = min(best amount,
 * deposit). `mayForward(n)` is true iff billable(served + n) − bytesCoveredBy(paid) ≤
 * creditWindowBytes (prepaid bytes count as credit too); otherwise the circuit pauses (counted
 * once per pause episode) until a receipt raises `paid`.
 *
 * Amount due for b bytes = ceil(b × pricePerGiB / 2^30) (protocol/payment-price.ts).
 */
import type { Channel } from '../../chain/state/types.js';
import type { PaymentReceipt } from '../../chain/state/payment-receipt.js';
import { amountForBytes, bytesCoveredBy, MiB } from '../../protocol/payment-price.js';
import { receiptVerifier, type ReceiptVerifyFn } from '../../protocol/payment-keys.js';
import { MAX_LOSS_ALLOWANCE_PPM, RECEIPT_OUTCOMES, type ReceiptOutcome, type SignedPaymentReceipt } from '../../protocol/payment.js';
import { MeterConfigError } from './errors.js';

/**
 * Default unpaid credit per channel: 4 MiB. With the client's 1 MiB signing cadence a circuit
 * never stalls while the bandwidth-delay product stays under ~3 MiB (≈ 240 Mbit/s at 100 ms RTT);
 * the most a payer can take unpaid is 4 MiB × price (0.4 % of a GiB).
 */
export const DEFAULT_CREDIT_WINDOW_BYTES = 4n * MiB;
/** Default write-off for bytes lost after we counted them: 2 % (see module comment). */
export const DEFAULT_LOSS_ALLOWANCE_PPM = 20_000;
/** While paused, a PAYMENT_REQUIRED is re-offered after this many refused packets (it may be lost). */
export const DEFAULT_REREQUEST_EVERY_REFUSALS = 64;

/** What the meter needs to know about the channel (chain/state's Channel fields). */
export type ChannelInfo = Pick<Channel, 'id' | 'payer' | 'relay' | 'deposit'>;

export interface MeterTerms {
  /** The chain id receipts must carry. */
  chainId: string;
  /** Our relay address (hex Ed25519 public key): the channel's relay must be us. */
  relay: string;
  pricePerGiB: bigint;
  /** Unpaid bytes served per channel before pausing (default DEFAULT_CREDIT_WINDOW_BYTES). */
  creditWindowBytes?: bigint;
  /** Share of served bytes written off as lost, ppm (default DEFAULT_LOSS_ALLOWANCE_PPM; 0 = bill every byte). */
  lossAllowancePpm?: number;
}

export type Direction = 'forward' | 'backward';

/** The PAYMENT_REQUIRED figures (protocol/payment.ts). */
export interface PaymentRequest {
  servedForward: bigint;
  servedBackward: bigint;
  paidAmount: bigint;
  dueAmount: bigint;
}

/** The CHANNEL_BOUND figures (protocol/payment.ts). */
export interface ChannelBound {
  pricePerGiB: bigint;
  creditWindowBytes: bigint;
  lossAllowancePpm: number;
  bestSeq: number;
  bestBytes: bigint;
  bestAmount: bigint;
  servedBytes: bigint;
}

/** The RECEIPT_ACK figures (protocol/payment.ts). */
export interface ReceiptAck {
  outcome: ReceiptOutcome;
  bestSeq: number;
  bestAmount: bigint;
  servedForward: bigint;
  servedBackward: bigint;
}

function zeroOutcomes(): Record<ReceiptOutcome, number> {
  const o = {} as Record<ReceiptOutcome, number>;
  for (const k of RECEIPT_OUTCOMES) o[k] = 0;
  return o;
}

/** One channel's served bytes and best receipt, shared by the circuits billed to it. */
export class ChannelAccount {
  servedForward = 0n;
  servedBackward = 0n;
  /** Highest-value valid receipt seen (ties: the newest seq). Claimable as is. */
  best: SignedPaymentReceipt | null = null;
  /** Deposit as last known from the chain (the cap of what receipts can pay). */
  deposit: bigint;
  /** Times a circuit of this channel entered the paused state. */
  pauses = 0;
  refusedPackets = 0;
  refusedBytes = 0n;
  readonly outcomes: Record<ReceiptOutcome, number> = zeroOutcomes();
  /** Cached bytesCoveredBy(paid) (null = unlimited, price 0). */
  paidBytes: bigint | null;
  private verifier: { payer: string; verify: ReceiptVerifyFn } | null = null;

  constructor(
    readonly channelId: string,
    readonly payer: string,
    deposit: bigint,
    readonly pricePerGiB: bigint,
    readonly lossAllowancePpm: number = 0,
  ) {
    this.deposit = deposit;
    this.paidBytes = bytesCoveredBy(0n, pricePerGiB);
  }

  get served(): bigint {
    return this.servedForward + this.servedBackward;
  }
  /** What the best receipt pays on chain: min(amount, deposit). */
  get paid(): bigint {
    const a = this.best?.receipt.cumulativeAmount ?? 0n;
    return a < this.deposit ? a : this.deposit;
  }
  get due(): bigint {
    return amountForBytes(this.served, this.pricePerGiB);
  }
  /** s minus the loss write-off. */
  billable(s: bigint): bigint {
    return this.lossAllowancePpm === 0 ? s : s - (s * BigInt(this.lossAllowancePpm)) / 1_000_000n;
  }
  get unpaidBytes(): bigint {
    if (this.paidBytes === null) return 0n;
    const u = this.billable(this.served) - this.paidBytes;
    return u > 0n ? u : 0n;
  }
  /** Ed25519 check by `payer` (the key object is built once per payer, not per receipt). */
  verify(r: PaymentReceipt, signature: string, payer: string): boolean {
    if (this.verifier?.payer !== payer) this.verifier = { payer, verify: receiptVerifier(payer) };
    return this.verifier.verify(r, signature);
  }

  /** Recomputes the cache after `best` or `deposit` changed. */
  refresh(): void {
    this.paidBytes = bytesCoveredBy(this.paid, this.pricePerGiB);
  }
}

/** The relay-wide table of channel accounts (one per channel id). */
export class ReceiptBook {
  private readonly accounts = new Map<string, ChannelAccount>();

  /** The account of `channel`, created on first use; the deposit follows the latest chain view. */
  account(channel: ChannelInfo, pricePerGiB: bigint, lossAllowancePpm = 0): ChannelAccount {
    let a = this.accounts.get(channel.id);
    if (!a) {
      a = new ChannelAccount(channel.id, channel.payer, channel.deposit, pricePerGiB, lossAllowancePpm);
      this.accounts.set(channel.id, a);
    } else if (a.deposit !== channel.deposit) {
      a.deposit = channel.deposit;
      a.refresh();
    }
    return a;
  }
  /**
   * Restores a channel after a restart from what the relay persisted: its best receipt (checked
   * against the payer's key; false if it does not verify) and its served counters. If the counters
   * were lost, pass the receipt's cumulativeBytes as served, or a restored receipt would read as
   * prepaid credit for bytes already carried.
   */
  restore(channel: ChannelInfo, best: SignedPaymentReceipt, served: { forward: bigint; backward: bigint }, pricePerGiB: bigint, lossAllowancePpm = 0): boolean {
    const a = this.account(channel, pricePerGiB, lossAllowancePpm);
    if (best.receipt.channelId !== channel.id || !a.verify(best.receipt, best.signature, channel.payer)) return false;
    if (!a.best || best.receipt.cumulativeAmount > a.best.receipt.cumulativeAmount || (best.receipt.cumulativeAmount === a.best.receipt.cumulativeAmount && best.receipt.seq > a.best.receipt.seq)) {
      a.best = { receipt: { ...best.receipt }, signature: best.signature };
    }
    if (served.forward > a.servedForward) a.servedForward = served.forward;
    if (served.backward > a.servedBackward) a.servedBackward = served.backward;
    a.refresh();
    return true;
  }
  get(channelId: string): ChannelAccount | undefined {
    return this.accounts.get(channelId);
  }
  accountsList(): ChannelAccount[] {
    return [...this.accounts.values()];
  }
  /** Best receipt per channel (what the claim worker works from). */
  bestReceipts(): Map<string, SignedPaymentReceipt> {
    const out = new Map<string, SignedPaymentReceipt>();
    for (const a of this.accounts.values()) if (a.best) out.set(a.channelId, a.best);
    return out;
  }
}

/** One circuit's meter on its channel's account. */
export class CircuitMeter {
  readonly account: ChannelAccount;
  readonly creditWindowBytes: bigint;
  /** This circuit's own counters (the account sums all circuits of the channel). */
  forwardBytes = 0n;
  backwardBytes = 0n;
  private pausedNow = false;
  private refusalsSinceRequest = 0;
  private requestDue = false;

  constructor(
    readonly terms: MeterTerms,
    readonly channel: ChannelInfo,
    book: ReceiptBook,
    readonly rerequestEvery: number = DEFAULT_REREQUEST_EVERY_REFUSALS,
  ) {
    if (typeof terms.pricePerGiB !== 'bigint' || terms.pricePerGiB < 0n) throw new MeterConfigError('pricePerGiB must be a non-negative bigint');
    const w = terms.creditWindowBytes ?? DEFAULT_CREDIT_WINDOW_BYTES;
    if (typeof w !== 'bigint' || w < 0n) throw new MeterConfigError('creditWindowBytes must be a non-negative bigint');
    if (channel.relay !== terms.relay) throw new MeterConfigError(`channel ${channel.id.slice(0, 12)} is not ours (relay ${channel.relay.slice(0, 12)})`);
    if (!Number.isSafeInteger(rerequestEvery) || rerequestEvery < 1) throw new MeterConfigError('rerequestEvery must be ≥ 1');
    const loss = terms.lossAllowancePpm ?? DEFAULT_LOSS_ALLOWANCE_PPM;
    if (!Number.isInteger(loss) || loss < 0 || loss > MAX_LOSS_ALLOWANCE_PPM) throw new MeterConfigError(`lossAllowancePpm must be an integer in 0..${MAX_LOSS_ALLOWANCE_PPM}`);
    this.creditWindowBytes = w;
    this.account = book.account(channel, terms.pricePerGiB, loss);
  }

  get paused(): boolean {
    return this.pausedNow;
  }

  /**
   * May this circuit forward `bytes` more? False once the channel's unpaid bytes would exceed the
   * credit window: the circuit pauses (a pause episode is counted once; refused packets each).
   */
  mayForward(bytes: number | bigint): boolean {
    const n = BigInt(bytes);
    const a = this.account;
    // served − paidBytes may be negative (prepaid): that credit counts too
    if (a.paidBytes === null || a.billable(a.served + n) - a.paidBytes <= this.creditWindowBytes) {
      this.pausedNow = false;
      return true;
    }
    if (!this.pausedNow) {
      this.pausedNow = true;
      a.pauses++;
      this.requestDue = true;
      this.refusalsSinceRequest = 0;
    } else if (++this.refusalsSinceRequest >= this.rerequestEvery) {
      this.requestDue = true;
      this.refusalsSinceRequest = 0;
    }
    a.refusedPackets++;
    a.refusedBytes += n;
    return false;
  }

  /** Counts `bytes` forwarded (authenticated) in `direction`. */
  record(direction: Direction, bytes: number | bigint): void {
    const n = BigInt(bytes);
    if (direction === 'forward') {
      this.forwardBytes += n;
      this.account.servedForward += n;
    } else {
      this.backwardBytes += n;
      this.account.servedBackward += n;
    }
  }

  /**
   * The hot-path call for an authenticated DATA packet of this circuit: true if it may go on.
   * Billing contract (protocol/payment.ts): a backward packet counts only if we send it; a
   * forward packet counts once authenticated, even when the pause makes us drop it (the client
   * counted it when sending and cannot tell; it should hold traffic after PAYMENT_REQUIRED).
   */
  admit(direction: Direction, bytes: number | bigint): boolean {
    const ok = this.mayForward(bytes);
    if (ok || direction === 'forward') this.record(direction, bytes);
    return ok;
  }

  /** A PAYMENT_REQUIRED to send now (once per pause, then every `rerequestEvery` refusals), else null. */
  takePaymentRequest(): PaymentRequest | null {
    if (!this.requestDue) return null;
    this.requestDue = false;
    const a = this.account;
    return { servedForward: a.servedForward, servedBackward: a.servedBackward, paidAmount: a.paid, dueAmount: a.due };
  }

  /**
   * Checks a receipt for this circuit's channel. `channel` is the latest chain view of it
   * (deposit may have been read again). Checks, in order:
   *   foreign_chain  receipt.chainId ≠ ours
   *   wrong_channel  receipt or `channel` is not this circuit's channel, or the channel's relay is not us
   *   stale          seq ≤ best seq (or seq 0)
   *   forged         not a valid Ed25519 signature of the channel's payer (or malformed fields)
   *   over_deposit   amount > deposit
   *   underpaid      amount < best amount, or amount < due(billable(served) − creditWindow)
   *   accepted       otherwise
   * The receipt becomes the channel's best (claimable) iff it passed the first four checks and its
   * amount ≥ the best amount: an over_deposit receipt (worth the whole deposit) or an underpaid
   * one that still raises the amount is kept, though the outcome tells the client it is wrong.
   */
  onReceipt(receipt: PaymentReceipt, signature: string, channel: ChannelInfo): ReceiptOutcome {
    const o = this.check(receipt, signature, channel);
    this.account.outcomes[o]++;
    return o;
  }

  private check(r: PaymentReceipt, signature: string, channel: ChannelInfo): ReceiptOutcome {
    const a = this.account;
    if (r.chainId !== this.terms.chainId) return 'foreign_chain';
    if (r.channelId !== a.channelId || channel.id !== a.channelId || channel.relay !== this.terms.relay) return 'wrong_channel';
    if (!Number.isSafeInteger(r.seq) || typeof r.cumulativeAmount !== 'bigint' || typeof r.cumulativeBytes !== 'bigint' || r.cumulativeAmount < 0n || r.cumulativeBytes < 0n) return 'forged';
    if (r.seq <= (a.best?.receipt.seq ?? 0)) return 'stale'; // the chain never pays seq 0
    if (!a.verify(r, signature, channel.payer)) return 'forged';
    if (channel.deposit !== a.deposit) a.deposit = channel.deposit;
    const bestAmount = a.best?.receipt.cumulativeAmount ?? 0n;
    const raises = r.cumulativeAmount >= bestAmount;
    if (raises) a.best = { receipt: { ...r }, signature };
    a.refresh();
    if (r.cumulativeAmount > channel.deposit) return 'over_deposit';
    if (!raises) return 'underpaid';
    const billable = a.billable(a.served);
    const mustCover = billable > this.creditWindowBytes ? billable - this.creditWindowBytes : 0n;
    if (r.cumulativeAmount < amountForBytes(mustCover, this.terms.pricePerGiB)) return 'underpaid';
    this.pausedNow = false; // accepted ⇒ paid ≥ due(served − window) ⇒ unpaid ≤ window
    return 'accepted';
  }

  /** The CHANNEL_BOUND figures for this circuit (terms, best receipt, bytes served so far). */
  bound(): ChannelBound {
    const a = this.account;
    return {
      pricePerGiB: this.terms.pricePerGiB,
      creditWindowBytes: this.creditWindowBytes,
      lossAllowancePpm: a.lossAllowancePpm,
      bestSeq: a.best?.receipt.seq ?? 0,
      bestBytes: a.best?.receipt.cumulativeBytes ?? 0n,
      bestAmount: a.best?.receipt.cumulativeAmount ?? 0n,
      servedBytes: a.served,
    };
  }

  /** The RECEIPT_ACK figures after `outcome`. */
  ack(outcome: ReceiptOutcome): ReceiptAck {
    const a = this.account;
    return {
      outcome,
      bestSeq: a.best?.receipt.seq ?? 0,
      bestAmount: a.best?.receipt.cumulativeAmount ?? 0n,
      servedForward: a.servedForward,
      servedBackward: a.servedBackward,
    };
  }
}
