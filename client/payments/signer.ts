/**
 * The client's per-hop payment ledger and receipt signer (pure: no IO, no clock).
 *
 * The client counts the billed bytes of each hop itself (protocol/payment.ts billing contract:
 * sent = forward packets with this hop's layer outermost, received = backward packets whose
 * outermost layer it peels for this hop) and signs cumulative receipts:
 *  - at a cadence: every `cadenceBytes` measured (default 1 MiB, ¼ of the relay's default 4 MiB
 *    credit window, so a receipt is always on its way long before the relay pauses);
 *  - when the relay says PAYMENT_REQUIRED: for min(relay's count, allowance(measured)).
 *
 * Tolerance: allowance(m) = m + ceil(m × tolerancePpm / 10^6) + toleranceSlackBytes (default 1 %
 * + 64 KiB). The relay counts backward bytes when it sends them, the client when they arrive,
 * so the relay is ahead by what is in flight (and by what gets lost). The client never signs for
 * more than allowance(measured).
 *
 * Overclaim: an honest relay serves at most its credit window beyond what its best receipt pays
 * after writing off its stated loss allowance L (ppm), and its best receipt is at most the last
 * one we signed, itself ≤ allowance(measured). So a relay reporting more than
 * ceil((allowance(measured) + creditWindow) × 10^6 / (10^6 − L)) bytes for this session is
 * provably lying (whatever the in-flight volume and loss): `OverclaimError`, and the hop gets
 * nothing more (every later request throws again; the caller should tear the circuit down).
 * Whatever the relay reports, it is never paid beyond allowance(measured).
 *
 * Budget: no receipt exceeds the channel deposit; the receipt that reaches the deposit is the
 * last (`exhausted`): the client must open a bigger channel and rebuild the circuit.
 */
import type { PaymentReceipt } from '../../chain/state/payment-receipt.js';
import { receiptSigner, type ReceiptSignFn } from '../../protocol/payment-keys.js';
import { amountForBytes, bytesCoveredBy, KiB, MiB } from '../../protocol/payment-price.js';
import type { SignedPaymentReceipt } from '../../protocol/payment.js';
import { OverclaimError, SignerConfigError } from './errors.js';

/** Sign every 1 MiB per hop (see the module comment and the report for the measured cost). */
export const DEFAULT_SIGN_CADENCE_BYTES = 1n * MiB;
/** 1 % (in parts per million) ... */
export const DEFAULT_TOLERANCE_PPM = 10_000n;
/** ... plus 64 KiB. */
export const DEFAULT_TOLERANCE_SLACK_BYTES = 64n * KiB;
/** Assumed relay credit window when the relay did not state one (its default). */
export const DEFAULT_RELAY_CREDIT_WINDOW_BYTES = 4n * MiB;
/** Assumed relay loss allowance (ppm) when the relay did not state one (its default). */
export const DEFAULT_RELAY_LOSS_ALLOWANCE_PPM = 20_000;

/** Where a reused channel stands: the last receipt signed for it (ours, or the relay's best). */
export interface ReceiptResume {
  seq: number;
  cumulativeBytes: bigint;
  cumulativeAmount: bigint;
}

export interface HopSignerOptions {
  chainId: string;
  channelId: string;
  payerSeed: Uint8Array;
  deposit: bigint;
  pricePerGiB: bigint;
  cadenceBytes?: bigint;
  tolerancePpm?: bigint;
  toleranceSlackBytes?: bigint;
  /** The relay's credit window (CHANNEL_BOUND), used for the overclaim bound. */
  relayCreditWindowBytes?: bigint;
  /** The relay's loss allowance in ppm (CHANNEL_BOUND), used for the overclaim bound. */
  relayLossAllowancePpm?: number;
  /** A reused channel: continue after this receipt (seq, bytes and amount only grow). */
  resume?: ReceiptResume;
  /** Bytes the relay had already served on the channel when this circuit bound (CHANNEL_BOUND servedBytes). */
  relayBaselineBytes?: bigint;
}

export type SignerState = 'active' | 'exhausted' | 'overclaimed';

/** What the relay reports it served on the channel (PAYMENT_REQUIRED / RECEIPT_ACK). */
export interface RelayServed {
  servedForward: bigint;
  servedBackward: bigint;
}

export class HopSigner {
  /** Bytes measured this session (since the signer was created). */
  sentBytes = 0n;
  receivedBytes = 0n;
  /** Receipts signed by this signer. */
  signedCount = 0;
  private st: SignerState = 'active';
  private last: SignedPaymentReceipt | null = null;
  private lastSeq: number;
  /** Cumulative bytes/amount of the last receipt (or of the resume point). */
  private paidBytes: bigint;
  private paidAmount: bigint;
  private readonly baseBytes: bigint;
  readonly cadenceBytes: bigint;
  readonly tolerancePpm: bigint;
  readonly toleranceSlackBytes: bigint;
  readonly relayCreditWindowBytes: bigint;
  readonly relayBaselineBytes: bigint;
  readonly relayLossAllowancePpm: number;
  private readonly sign: ReceiptSignFn;

  constructor(readonly opts: HopSignerOptions) {
    const nonNeg = (v: bigint | undefined, what: string): void => {
      if (v !== undefined && (typeof v !== 'bigint' || v < 0n)) throw new SignerConfigError(`${what} must be a non-negative bigint`);
    };
    nonNeg(opts.deposit, 'deposit');
    nonNeg(opts.pricePerGiB, 'pricePerGiB');
    nonNeg(opts.tolerancePpm, 'tolerancePpm');
    nonNeg(opts.toleranceSlackBytes, 'toleranceSlackBytes');
    nonNeg(opts.relayCreditWindowBytes, 'relayCreditWindowBytes');
    nonNeg(opts.relayBaselineBytes, 'relayBaselineBytes');
    if (opts.payerSeed.length !== 32) throw new SignerConfigError('payer seed must be 32 bytes');
    this.sign = receiptSigner(opts.payerSeed);
    this.cadenceBytes = opts.cadenceBytes ?? DEFAULT_SIGN_CADENCE_BYTES;
    if (typeof this.cadenceBytes !== 'bigint' || this.cadenceBytes <= 0n) throw new SignerConfigError('cadenceBytes must be > 0');
    this.tolerancePpm = opts.tolerancePpm ?? DEFAULT_TOLERANCE_PPM;
    this.toleranceSlackBytes = opts.toleranceSlackBytes ?? DEFAULT_TOLERANCE_SLACK_BYTES;
    this.relayCreditWindowBytes = opts.relayCreditWindowBytes ?? DEFAULT_RELAY_CREDIT_WINDOW_BYTES;
    this.relayBaselineBytes = opts.relayBaselineBytes ?? 0n;
    this.relayLossAllowancePpm = opts.relayLossAllowancePpm ?? DEFAULT_RELAY_LOSS_ALLOWANCE_PPM;
    if (!Number.isInteger(this.relayLossAllowancePpm) || this.relayLossAllowancePpm < 0 || this.relayLossAllowancePpm > 500_000) throw new SignerConfigError('relayLossAllowancePpm must be an integer in 0..500000');
    const r = opts.resume ?? { seq: 0, cumulativeBytes: 0n, cumulativeAmount: 0n };
    if (!Number.isSafeInteger(r.seq) || r.seq < 0 || r.cumulativeBytes < 0n || r.cumulativeAmount < 0n) throw new SignerConfigError('bad resume point');
    if (r.cumulativeAmount > opts.deposit) throw new SignerConfigError('resume amount exceeds the deposit');
    this.lastSeq = r.seq;
    this.baseBytes = r.cumulativeBytes;
    this.paidBytes = r.cumulativeBytes;
    this.paidAmount = r.cumulativeAmount;
    if (this.paidAmount === opts.deposit && opts.deposit > 0n) this.st = 'exhausted';
  }

  get state(): SignerState {
    return this.st;
  }
  /** Bytes measured this session, both directions. */
  get measuredBytes(): bigint {
    return this.sentBytes + this.receivedBytes;
  }
  /** The most an honest relay can report for this session (see module comment). */
  get overclaimBoundBytes(): bigint {
    const d = 1_000_000n - BigInt(this.relayLossAllowancePpm);
    return ((this.allowanceBytes + this.relayCreditWindowBytes) * 1_000_000n + d - 1n) / d;
  }
  /** The most this signer will pay for in this session: allowance(measured). */
  get allowanceBytes(): bigint {
    return allowance(this.measuredBytes, this.tolerancePpm, this.toleranceSlackBytes);
  }
  /** The last receipt this signer signed (null before the first). */
  get lastReceipt(): SignedPaymentReceipt | null {
    return this.last;
  }
  /** Cumulative amount promised so far (incl. the resume point). */
  get promisedAmount(): bigint {
    return this.paidAmount;
  }
  /** Deposit not yet promised. */
  get remainingAmount(): bigint {
    return this.opts.deposit - this.paidAmount;
  }
  /** Bytes the remaining deposit still pays at this hop's price (null: free hop). */
  get remainingBytes(): bigint | null {
    return bytesCoveredBy(this.remainingAmount, this.opts.pricePerGiB);
  }

  recordSent(bytes: number | bigint): void {
    this.sentBytes += BigInt(bytes);
  }
  recordReceived(bytes: number | bigint): void {
    this.receivedBytes += BigInt(bytes);
  }

  /** A receipt when `cadenceBytes` more were measured since the last one, else null. */
  maybeSign(): SignedPaymentReceipt | null {
    if (this.st !== 'active') return null;
    if (this.baseBytes + this.measuredBytes - this.paidBytes < this.cadenceBytes) return null;
    return this.signSession(this.measuredBytes);
  }

  /** A receipt for everything measured (end of a session, or before a rebuild); null if nothing new. */
  flush(): SignedPaymentReceipt | null {
    if (this.st !== 'active') return null;
    return this.signSession(this.measuredBytes);
  }

  /**
   * The relay paused this circuit. Checks its figures (OverclaimError, see module comment) and
   * signs for min(what it served this session, allowance(measured)); if that adds nothing, the
   * last receipt again (it may have been lost). Null when exhausted or nothing was ever signed.
   */
  onPaymentRequired(served: RelayServed): SignedPaymentReceipt | null {
    const claimed = this.checkRelay(served);
    if (this.st !== 'active') return null;
    const allow = this.allowanceBytes;
    const target = claimed < allow ? claimed : allow;
    return this.signSession(target) ?? this.last;
  }

  /** Checks the relay's figures in a RECEIPT_ACK (OverclaimError if it claims too much). */
  onAck(served: RelayServed): void {
    this.checkRelay(served);
  }

  /** The relay's claimed bytes for this session; throws OverclaimError beyond the provable bound. */
  private checkRelay(served: RelayServed): bigint {
    if (this.st === 'overclaimed') throw new OverclaimError(this.opts.channelId, -1n, this.measuredBytes, this.overclaimBoundBytes);
    const total = served.servedForward + served.servedBackward;
    const session = total > this.relayBaselineBytes ? total - this.relayBaselineBytes : 0n;
    const bound = this.overclaimBoundBytes;
    if (session > bound) {
      this.st = 'overclaimed';
      throw new OverclaimError(this.opts.channelId, session, this.measuredBytes, bound);
    }
    return session;
  }

  /** Signs for `sessionBytes` of this session (cumulative = resume base + sessionBytes), capped at the deposit. */
  private signSession(sessionBytes: bigint): SignedPaymentReceipt | null {
    const bytes = this.baseBytes + sessionBytes;
    if (bytes <= this.paidBytes) return null;
    let amount = amountForBytes(bytes, this.opts.pricePerGiB);
    if (amount < this.paidAmount) amount = this.paidAmount;
    if (amount >= this.opts.deposit) {
      amount = this.opts.deposit;
      this.st = 'exhausted';
    }
    const receipt: PaymentReceipt = {
      chainId: this.opts.chainId,
      channelId: this.opts.channelId,
      cumulativeBytes: bytes,
      cumulativeAmount: amount,
      seq: this.lastSeq + 1,
    };
    const signed = { receipt, signature: this.sign(receipt) };
    this.lastSeq = receipt.seq;
    this.paidBytes = bytes;
    this.paidAmount = amount;
    this.last = signed;
    this.signedCount++;
    return signed;
  }
}

/** allowance(m) = m + ceil(m × ppm / 10^6) + slack. */
export function allowance(measured: bigint, ppm: bigint = DEFAULT_TOLERANCE_PPM, slack: bigint = DEFAULT_TOLERANCE_SLACK_BYTES): bigint {
  return measured + (measured * ppm + 999_999n) / 1_000_000n + slack;
}
