/**
 * Payment control messages: what rides inside a hop's layer (DATA kind CONTROL) between the
 * client and ONE hop to pay that hop through its state channel. No IO.
 *
 * Control types (first byte of the CONTROL body, `ctype(1) | body`). The data plane owns 1–16
 * (EXTEND 1 … EXTEND_FAILED 9, the rest reserved); payments use 17–22:
 *   17 CHANNEL_BIND      client → hop  {chainId, channelId, payer}: bills this circuit to a channel
 *   18 CHANNEL_BOUND     hop → client  the hop's terms, its best receipt for the channel and the
 *                                     bytes it has served on the channel so far (the client's baseline)
 *   19 CHANNEL_REFUSED   hop → client  reason(1)
 *   20 RECEIPT           client → hop  the payer's signed cumulative receipt for THIS hop's channel
 *   21 RECEIPT_ACK       hop → client  outcome of the last receipt + bytes served both directions
 *   22 PAYMENT_REQUIRED  hop → client  the circuit is paused: bytes served and the amount due
 *
 * Layouts (integers little-endian as the rest of the wire; u128 = low u64 then high u64;
 * `cid` = chainIdLen(1, 1..64) | chainId (printable ASCII 0x21–0x7e)):
 *   CHANNEL_BIND      17 | cid | channelId(32) | payer(32)
 *   CHANNEL_BOUND     18 | pricePerGiB(u128) | creditWindowBytes(u64) | lossAllowancePpm(u32, ≤ 500000) | bestSeq(u64) | bestBytes(u64) | bestAmount(u128) | servedBytes(u64)
 *   CHANNEL_REFUSED   19 | reason(1)
 *   RECEIPT           20 | cid | channelId(32) | cumulativeBytes(u64) | cumulativeAmount(u128) | seq(u64, 1..2^53−1) | signature(64)
 *   RECEIPT_ACK       21 | outcome(1) | bestSeq(u64) | bestAmount(u128) | servedForward(u64) | servedBackward(u64)
 *   PAYMENT_REQUIRED  22 | servedForward(u64) | servedBackward(u64) | paidAmount(u128) | dueAmount(u128)
 * Every length is exact: trailing bytes are malformed. Seqs are ≤ 2^53−1 (JS safe integers, as
 * the chain's `seq`); a RECEIPT's seq is ≥ 1 (the chain only accepts seq > claimed seq ≥ 0).
 *
 * Billing contract (what both sides count, so their figures agree up to packets in flight):
 * the billed bytes of a hop are the lengths of the DATA packets whose OUTERMOST layer is that
 * hop's layer — forward, the packet the hop receives and authenticates (counted even if the hop
 * then drops it because the circuit is paused); backward, the packet the hop emits after adding
 * its layer (a packet held back by the pause is not emitted, so not counted). The client knows both sizes exactly (it builds the forward
 * onion and peels the backward one), every DATA kind counts (IP, FORWARD, CONTROL, PADDING).
 * The signed receipt is chain/state's `PaymentReceipt` with `paymentReceiptSigningBytes`.
 */
import type { PaymentReceipt } from '../chain/state/payment-receipt.js';

export const PaymentCtrl = {
  CHANNEL_BIND: 17,
  CHANNEL_BOUND: 18,
  CHANNEL_REFUSED: 19,
  RECEIPT: 20,
  RECEIPT_ACK: 21,
  PAYMENT_REQUIRED: 22,
} as const;
export type PaymentCtrl = (typeof PaymentCtrl)[keyof typeof PaymentCtrl];

/** True for the control types this module decodes (route these to decodePaymentControl). */
export function isPaymentCtrl(ctype: number): boolean {
  return ctype >= PaymentCtrl.CHANNEL_BIND && ctype <= PaymentCtrl.PAYMENT_REQUIRED;
}

/** What the relay's meter concluded about a receipt (see relay/payments/meter.ts). */
export const RECEIPT_OUTCOMES = ['accepted', 'stale', 'forged', 'foreign_chain', 'wrong_channel', 'underpaid', 'over_deposit'] as const;
export type ReceiptOutcome = (typeof RECEIPT_OUTCOMES)[number];

/** Why a hop refused a CHANNEL_BIND (see relay/payments/bind.ts). */
export const BIND_REFUSALS = ['unknown_channel', 'foreign_chain', 'wrong_relay', 'wrong_payer', 'not_open', 'deposit_exhausted', 'chain_unavailable'] as const;
export type BindRefusal = (typeof BIND_REFUSALS)[number];

/** A payer's receipt with its signature (hex, 64 bytes) as carried on the wire and claimed on chain. */
export interface SignedPaymentReceipt {
  receipt: PaymentReceipt;
  signature: string;
}

export type PaymentControl =
  | { ctype: typeof PaymentCtrl.CHANNEL_BIND; chainId: string; channelId: string; payer: string }
  | {
      ctype: typeof PaymentCtrl.CHANNEL_BOUND;
      pricePerGiB: bigint;
      creditWindowBytes: bigint;
      /** Share of its served bytes (ppm) the hop writes off as lost before pausing (relay/payments/meter.ts). */
      lossAllowancePpm: number;
      bestSeq: number;
      bestBytes: bigint;
      bestAmount: bigint;
      /** Bytes served on this channel so far, both directions (before this circuit). */
      servedBytes: bigint;
    }
  | { ctype: typeof PaymentCtrl.CHANNEL_REFUSED; reason: BindRefusal }
  | ({ ctype: typeof PaymentCtrl.RECEIPT } & SignedPaymentReceipt)
  | {
      ctype: typeof PaymentCtrl.RECEIPT_ACK;
      outcome: ReceiptOutcome;
      bestSeq: number;
      bestAmount: bigint;
      servedForward: bigint;
      servedBackward: bigint;
    }
  | {
      ctype: typeof PaymentCtrl.PAYMENT_REQUIRED;
      servedForward: bigint;
      servedBackward: bigint;
      paidAmount: bigint;
      dueAmount: bigint;
    };

export type MalformedPaymentReason = 'empty' | 'unknown_control' | 'bad_length' | 'bad_field';

/** The one error decodePaymentControl throws (and encodePaymentControl for unencodable input). */
export class MalformedPaymentError extends Error {
  override readonly name = 'MalformedPaymentError';
  constructor(
    readonly reason: MalformedPaymentReason,
    detail?: string,
  ) {
    super(detail ? `malformed payment control: ${reason}: ${detail}` : `malformed payment control: ${reason}`);
  }
}

const U64_MAX = (1n << 64n) - 1n;
const U128_MAX = (1n << 128n) - 1n;
const MAX_CHAIN_ID = 64;
const HEX32 = /^[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{128}$/;

export const CHANNEL_BOUND_LEN = 1 + 16 + 8 + 4 + 8 + 8 + 16 + 8;
/** Largest loss allowance a CHANNEL_BOUND may state (50 %). */
export const MAX_LOSS_ALLOWANCE_PPM = 500_000;
export const CHANNEL_REFUSED_LEN = 2;
export const RECEIPT_ACK_LEN = 1 + 1 + 8 + 16 + 8 + 8;
export const PAYMENT_REQUIRED_LEN = 1 + 8 + 8 + 16 + 16;
/** RECEIPT length for a chain id of n bytes. */
export function receiptLen(chainIdLen: number): number {
  return 1 + 1 + chainIdLen + 32 + 8 + 16 + 8 + 64;
}
/** CHANNEL_BIND length for a chain id of n bytes. */
export function channelBindLen(chainIdLen: number): number {
  return 1 + 1 + chainIdLen + 32 + 32;
}

function isChainIdByte(c: number): boolean {
  return c >= 0x21 && c <= 0x7e;
}

/** Valid chain id for the wire: 1..64 printable ASCII characters. */
export function isWireChainId(s: unknown): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_CHAIN_ID) return false;
  for (let i = 0; i < s.length; i++) if (!isChainIdByte(s.charCodeAt(i))) return false;
  return true;
}

// ---------- writer ----------
class Writer {
  readonly out: Buffer;
  private off = 0;
  constructor(len: number) {
    this.out = Buffer.alloc(len);
  }
  u8(v: number): void {
    this.out[this.off++] = v;
  }
  u32(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new MalformedPaymentError('bad_field', `${what} out of range`);
    this.out.writeUInt32LE(v, this.off);
    this.off += 4;
  }
  u64(v: bigint, what: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw new MalformedPaymentError('bad_field', `${what} out of u64 range`);
    this.out.writeBigUInt64LE(v, this.off);
    this.off += 8;
  }
  u128(v: bigint, what: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > U128_MAX) throw new MalformedPaymentError('bad_field', `${what} out of u128 range`);
    this.out.writeBigUInt64LE(v & U64_MAX, this.off);
    this.out.writeBigUInt64LE(v >> 64n, this.off + 8);
    this.off += 16;
  }
  seq(v: number, min: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < min) throw new MalformedPaymentError('bad_field', `${what} must be a safe integer ≥ ${min}`);
    this.u64(BigInt(v), what);
  }
  chainId(s: string): void {
    if (!isWireChainId(s)) throw new MalformedPaymentError('bad_field', 'chain id must be 1..64 printable ASCII');
    this.u8(s.length);
    this.out.write(s, this.off, 'latin1');
    this.off += s.length;
  }
  hex(h: string, bytes: 32 | 64, what: string): void {
    const re = bytes === 32 ? HEX32 : HEX64;
    if (typeof h !== 'string' || !re.test(h)) throw new MalformedPaymentError('bad_field', `${what} must be lowercase hex of ${bytes} bytes`);
    this.out.write(h, this.off, 'hex');
    this.off += h.length / 2;
  }
}

function outcomeCode(o: ReceiptOutcome): number {
  const i = RECEIPT_OUTCOMES.indexOf(o);
  if (i < 0) throw new MalformedPaymentError('bad_field', 'unknown receipt outcome');
  return i + 1;
}

function refusalCode(r: BindRefusal): number {
  const i = BIND_REFUSALS.indexOf(r);
  if (i < 0) throw new MalformedPaymentError('bad_field', 'unknown bind refusal');
  return i + 1;
}

/** Encodes a payment control message `ctype(1) | body` (without the CONTROL kind byte). */
export function encodePaymentControl(c: PaymentControl): Buffer {
  switch (c.ctype) {
    case PaymentCtrl.CHANNEL_BIND: {
      const w = new Writer(channelBindLen(isWireChainId(c.chainId) ? c.chainId.length : 0));
      w.u8(c.ctype);
      w.chainId(c.chainId);
      w.hex(c.channelId, 32, 'channelId');
      w.hex(c.payer, 32, 'payer');
      return w.out;
    }
    case PaymentCtrl.CHANNEL_BOUND: {
      const w = new Writer(CHANNEL_BOUND_LEN);
      w.u8(c.ctype);
      w.u128(c.pricePerGiB, 'pricePerGiB');
      w.u64(c.creditWindowBytes, 'creditWindowBytes');
      w.u32(c.lossAllowancePpm, MAX_LOSS_ALLOWANCE_PPM, 'lossAllowancePpm');
      w.seq(c.bestSeq, 0, 'bestSeq');
      w.u64(c.bestBytes, 'bestBytes');
      w.u128(c.bestAmount, 'bestAmount');
      w.u64(c.servedBytes, 'servedBytes');
      return w.out;
    }
    case PaymentCtrl.CHANNEL_REFUSED: {
      const w = new Writer(CHANNEL_REFUSED_LEN);
      w.u8(c.ctype);
      w.u8(refusalCode(c.reason));
      return w.out;
    }
    case PaymentCtrl.RECEIPT: {
      const r = c.receipt;
      const w = new Writer(receiptLen(isWireChainId(r.chainId) ? r.chainId.length : 0));
      w.u8(c.ctype);
      w.chainId(r.chainId);
      w.hex(r.channelId, 32, 'channelId');
      w.u64(r.cumulativeBytes, 'cumulativeBytes');
      w.u128(r.cumulativeAmount, 'cumulativeAmount');
      w.seq(r.seq, 1, 'seq');
      w.hex(c.signature, 64, 'signature');
      return w.out;
    }
    case PaymentCtrl.RECEIPT_ACK: {
      const w = new Writer(RECEIPT_ACK_LEN);
      w.u8(c.ctype);
      w.u8(outcomeCode(c.outcome));
      w.seq(c.bestSeq, 0, 'bestSeq');
      w.u128(c.bestAmount, 'bestAmount');
      w.u64(c.servedForward, 'servedForward');
      w.u64(c.servedBackward, 'servedBackward');
      return w.out;
    }
    case PaymentCtrl.PAYMENT_REQUIRED: {
      const w = new Writer(PAYMENT_REQUIRED_LEN);
      w.u8(c.ctype);
      w.u64(c.servedForward, 'servedForward');
      w.u64(c.servedBackward, 'servedBackward');
      w.u128(c.paidAmount, 'paidAmount');
      w.u128(c.dueAmount, 'dueAmount');
      return w.out;
    }
    default:
      throw new MalformedPaymentError('unknown_control', String((c as { ctype?: unknown }).ctype));
  }
}

// ---------- reader ----------
class Reader {
  private off = 0;
  constructor(private readonly b: Buffer) {}
  u8(): number {
    return this.b[this.off++]!;
  }
  u32(max: number, what: string): number {
    const v = this.b.readUInt32LE(this.off);
    this.off += 4;
    if (v > max) throw new MalformedPaymentError('bad_field', `${what} out of range`);
    return v;
  }
  u64(): bigint {
    const v = this.b.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }
  u128(): bigint {
    const lo = this.b.readBigUInt64LE(this.off);
    const hi = this.b.readBigUInt64LE(this.off + 8);
    this.off += 16;
    return (hi << 64n) | lo;
  }
  seq(min: number, what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(min)) throw new MalformedPaymentError('bad_field', `${what} out of range`);
    return Number(v);
  }
  hex(n: number): string {
    const s = this.b.toString('hex', this.off, this.off + n);
    this.off += n;
    return s;
  }
  /** Reads `len(1) | chainId` after the caller checked the length byte. */
  chainId(): string {
    const n = this.u8();
    for (let i = 0; i < n; i++) if (!isChainIdByte(this.b[this.off + i]!)) throw new MalformedPaymentError('bad_field', 'chain id byte');
    const s = this.b.toString('latin1', this.off, this.off + n);
    this.off += n;
    return s;
  }
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length !== n) throw new MalformedPaymentError('bad_length', `${what}: ${b.length} != ${n}`);
}

/** Length byte of a chain id at offset 1 (after ctype), validated to 1..64. */
function chainIdLenAt(b: Buffer, what: string): number {
  if (b.length < 2) throw new MalformedPaymentError('bad_length', `${what}: no chain id`);
  const n = b[1]!;
  if (n === 0 || n > MAX_CHAIN_ID) throw new MalformedPaymentError('bad_field', `${what}: chain id length ${n}`);
  return n;
}

/**
 * Decodes `ctype(1) | body` of a payment control message. Strict: exact lengths, known codes,
 * ranges as in the header comment. Throws only MalformedPaymentError. Returned strings are
 * copies (lowercase hex); nothing aliases the input.
 */
export function decodePaymentControl(p: Uint8Array): PaymentControl {
  if (p.length === 0) throw new MalformedPaymentError('empty');
  const b = Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  const r = new Reader(b);
  const ctype = r.u8();
  switch (ctype) {
    case PaymentCtrl.CHANNEL_BIND: {
      need(b, channelBindLen(chainIdLenAt(b, 'CHANNEL_BIND')), 'CHANNEL_BIND');
      const chainId = r.chainId();
      return { ctype, chainId, channelId: r.hex(32), payer: r.hex(32) };
    }
    case PaymentCtrl.CHANNEL_BOUND: {
      need(b, CHANNEL_BOUND_LEN, 'CHANNEL_BOUND');
      const pricePerGiB = r.u128();
      const creditWindowBytes = r.u64();
      const lossAllowancePpm = r.u32(MAX_LOSS_ALLOWANCE_PPM, 'lossAllowancePpm');
      const bestSeq = r.seq(0, 'bestSeq');
      const bestBytes = r.u64();
      const bestAmount = r.u128();
      return { ctype, pricePerGiB, creditWindowBytes, lossAllowancePpm, bestSeq, bestBytes, bestAmount, servedBytes: r.u64() };
    }
    case PaymentCtrl.CHANNEL_REFUSED: {
      need(b, CHANNEL_REFUSED_LEN, 'CHANNEL_REFUSED');
      const reason = BIND_REFUSALS[r.u8() - 1];
      if (reason === undefined) throw new MalformedPaymentError('bad_field', 'refusal reason');
      return { ctype, reason };
    }
    case PaymentCtrl.RECEIPT: {
      need(b, receiptLen(chainIdLenAt(b, 'RECEIPT')), 'RECEIPT');
      const chainId = r.chainId();
      const channelId = r.hex(32);
      const cumulativeBytes = r.u64();
      const cumulativeAmount = r.u128();
      const seq = r.seq(1, 'seq');
      const signature = r.hex(64);
      return { ctype, receipt: { chainId, channelId, cumulativeBytes, cumulativeAmount, seq }, signature };
    }
    case PaymentCtrl.RECEIPT_ACK: {
      need(b, RECEIPT_ACK_LEN, 'RECEIPT_ACK');
      const outcome = RECEIPT_OUTCOMES[r.u8() - 1];
      if (outcome === undefined) throw new MalformedPaymentError('bad_field', 'receipt outcome');
      const bestSeq = r.seq(0, 'bestSeq');
      return { ctype, outcome, bestSeq, bestAmount: r.u128(), servedForward: r.u64(), servedBackward: r.u64() };
    }
    case PaymentCtrl.PAYMENT_REQUIRED: {
      need(b, PAYMENT_REQUIRED_LEN, 'PAYMENT_REQUIRED');
      return { ctype, servedForward: r.u64(), servedBackward: r.u64(), paidAmount: r.u128(), dueAmount: r.u128() };
    }
    default:
      throw new MalformedPaymentError('unknown_control', String(ctype));
  }
}
