/**
 * Binary form of a list of signed txs, as block payloads and tx gossip carry them. It is a
 * transport and storage form only: a tx's hash and signature stay defined over its canonical
 * JSON (chain/state/tx.ts), so the form can change without touching what anyone signed.
 *
 * A list is a u32be count, then one entry per tx:
 *   0x01 transfer: str8 chainId, str8 chain, from (32 B), nonce (u64be, at most 2^53 − 1),
 *        uint fee, to (32 B), uint amount, signature (64 B)   — ≈ 166 B against ≈ 425 B of wire JSON
 *   0x00 any other tx: u32be length + the SignedTx as wire JSON (wire.ts)
 * str8 = u8 byte length + UTF-8. uint = u8 byte length (0..32) + big-endian magnitude with no
 * leading zero byte (0 is length 0), so every value has exactly one encoding.
 *
 * A transfer takes the 0x01 form only if decoding gives it back exactly (as JSON does, a nonce
 * of -0 comes back as 0): a plain SignedTx with the six tx keys and three op keys of a transfer,
 * lowercase-hex addresses and signature of the right length, amounts in 0 … 2^256 − 1, chain
 * strings of at most 255 UTF-8 bytes without surrogates. Anything else (an invalid tx a
 * proposer included too) takes the 0x00 form. Decoding refuses with TxCodecError a truncated or over-long entry, a
 * non-minimal uint, an unknown tag and bytes after the last entry.
 */
import { isHex } from '../state/encoding.js';
import type { SignedTx, Tx } from '../state/types.js';
import { wireDecode, wireEncode } from './wire.js';

export class TxCodecError extends Error {
  override name = 'TxCodecError';
}

const TAG_JSON = 0x00;
const TAG_TRANSFER = 0x01;
/** Entries a list may declare (a block holds far fewer; a larger count is hostile). */
export const MAX_LIST_TXS = 1_000_000;
const MAX_UINT_BYTES = 32;
const MAX_NONCE = Number.MAX_SAFE_INTEGER;
/** UTF-16 surrogates: a lone one does not survive UTF-8; a string with any takes the JSON form. */
const SURROGATE = /[\ud800-\udfff]/;

/** The list's bytes. */
export function encodeTxList(txs: readonly SignedTx[]): Uint8Array {
  const w = new Writer(64 + txs.length * 180);
  writeTxList(w, txs);
  return w.done();
}

/** The txs of a list made by encodeTxList; throws TxCodecError on anything else. */
export function decodeTxList(bytes: Uint8Array): SignedTx[] {
  const r = new Reader(bytes);
  const txs = readTxList(r);
  r.end();
  return txs;
}

/** Reads a list at the reader's position (for formats that embed one, payload.ts). */
export function readTxList(r: Reader): SignedTx[] {
  const n = r.u32();
  if (n > MAX_LIST_TXS || n > r.left) throw new TxCodecError(`tx list: ${n} entries declared, ${r.left} bytes left`);
  const txs: SignedTx[] = new Array<SignedTx>(n);
  for (let i = 0; i < n; i++) {
    const tag = r.u8();
    if (tag === TAG_TRANSFER) txs[i] = readTransfer(r);
    else if (tag === TAG_JSON) txs[i] = readJsonTx(r);
    else throw new TxCodecError(`tx list: unknown entry tag ${tag}`);
  }
  return txs;
}

/** Writes a list at the writer's position. */
export function writeTxList(w: Writer, txs: readonly SignedTx[]): void {
  w.u32(txs.length);
  for (const stx of txs) {
    if (!writeTransfer(w, stx)) {
      w.u8(TAG_JSON);
      w.bytesWithLength(Buffer.from(wireEncode(stx), 'utf8'));
    }
  }
}

/** Whether `stx` round-trips through the 0x01 form (see the file comment). */
function compactTransfer(stx: SignedTx): boolean {
  if (typeof stx !== 'object' || stx === null || Object.keys(stx).length !== 2) return false;
  const tx = stx.tx as Tx | undefined;
  if (typeof tx !== 'object' || tx === null || typeof stx.signature !== 'string' || !isHex(stx.signature, 64)) return false;
  const op = tx.op;
  if (typeof op !== 'object' || op === null || op.type !== 'transfer' || Object.keys(tx).length !== 6 || Object.keys(op).length !== 3) return false;
  if (!str8Fits(tx.chainId) || !str8Fits(tx.chain)) return false;
  if (!isHex(tx.from, 32) || !isHex(op.to, 32)) return false;
  if (!Number.isSafeInteger(tx.nonce) || tx.nonce < 0) return false;
  return uintFits(tx.fee) && uintFits(op.amount);
}

/** A string str8 gives back exactly: at most 255 UTF-8 bytes, no surrogate. */
function str8Fits(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 255 && !SURROGATE.test(s) && Buffer.byteLength(s, 'utf8') <= 255;
}

function uintFits(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v < 1n << 256n;
}

function writeTransfer(w: Writer, stx: SignedTx): boolean {
  if (!compactTransfer(stx)) return false;
  const tx = stx.tx;
  const op = tx.op as { type: 'transfer'; to: string; amount: bigint };
  w.u8(TAG_TRANSFER);
  w.str8(tx.chainId);
  w.str8(tx.chain);
  w.hex(tx.from, 32);
  w.u64(tx.nonce);
  w.uint(tx.fee);
  w.hex(op.to, 32);
  w.uint(op.amount);
  w.hex(stx.signature, 64);
  return true;
}

function readTransfer(r: Reader): SignedTx {
  const chainId = r.str8();
  const chain = r.str8() as Tx['chain'];
  const from = r.hex(32);
  const nonce = r.u64();
  const fee = r.uint();
  const to = r.hex(32);
  const amount = r.uint();
  const signature = r.hex(64);
  return { tx: { chainId, chain, from, nonce, fee, op: { type: 'transfer', to, amount } }, signature };
}

function readJsonTx(r: Reader): SignedTx {
  const text = r.utf8(r.u32());
  try {
    return wireDecode<SignedTx>(text);
  } catch (e) {
    throw new TxCodecError(`tx list: bad JSON entry: ${(e as Error).message}`);
  }
}

/** Appends big-endian fields to a growing buffer. */
export class Writer {
  private buf: Buffer;
  private at = 0;

  constructor(initial: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, initial));
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32BE(v, this.at);
    this.at += 4;
  }

  u64(v: number): void {
    this.room(8);
    this.buf.writeUInt32BE(Math.floor(v / 0x1_0000_0000), this.at);
    this.buf.writeUInt32BE(v >>> 0, this.at + 4);
    this.at += 8;
  }

  /** uint form (see the file comment); v in 0 … 2^256 − 1. */
  uint(v: bigint): void {
    if (v < 0x1_0000_0000_0000n) {
      // Up to 6 bytes: the common case (fees, amounts), without a hex string.
      const n = Number(v);
      let len = 0;
      for (let x = n; x > 0; x = Math.floor(x / 256)) len++;
      this.u8(len);
      if (len === 0) return;
      this.room(len);
      this.buf.writeUIntBE(n, this.at, len);
      this.at += len;
      return;
    }
    let hex = v.toString(16);
    if (hex.length % 2 === 1) hex = '0' + hex;
    this.u8(hex.length / 2);
    this.hex(hex, hex.length / 2);
  }

  /** `hex` is lowercase hex of exactly `bytes` bytes (checked by the caller). */
  hex(hex: string, bytes: number): void {
    this.room(bytes);
    this.at += this.buf.write(hex, this.at, bytes, 'hex');
  }

  /** `s` is at most 255 UTF-8 bytes (checked by the caller); its length byte is what the write took. */
  str8(s: string): void {
    this.room(1 + 3 * s.length);
    const n = this.buf.write(s, this.at + 1, Math.min(255, 3 * s.length), 'utf8');
    this.buf[this.at] = n;
    this.at += 1 + n;
  }

  bytesWithLength(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.room(b.byteLength);
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }

  /** What was written, as a plain Uint8Array (copied to its exact size when the buffer grew well past it). */
  done(): Uint8Array {
    const view = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.at);
    return this.at * 4 < this.buf.length * 3 ? view.slice() : view;
  }
}

/** Reads big-endian fields; every read past the end throws TxCodecError. */
export class Reader {
  private readonly buf: Buffer;
  private at = 0;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get left(): number {
    return this.buf.length - this.at;
  }

  private take(n: number): number {
    if (n > this.buf.length - this.at) throw new TxCodecError(`truncated: ${n} bytes wanted at offset ${this.at}, ${this.left} left`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    return this.buf[this.take(1)]!;
  }

  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  u64(): number {
    const at = this.take(8);
    const v = this.buf.readUInt32BE(at) * 0x1_0000_0000 + this.buf.readUInt32BE(at + 4);
    if (v > MAX_NONCE) throw new TxCodecError('u64 above 2^53 − 1');
    return v;
  }

  uint(): bigint {
    const n = this.u8();
    if (n > MAX_UINT_BYTES) throw new TxCodecError(`uint of ${n} bytes`);
    if (n === 0) return 0n;
    const at = this.take(n);
    if (this.buf[at] === 0) throw new TxCodecError('uint with a leading zero byte');
    if (n <= 6) return BigInt(this.buf.readUIntBE(at, n));
    return BigInt('0x' + this.buf.toString('hex', at, at + n));
  }

  hex(bytes: number): string {
    const at = this.take(bytes);
    return this.buf.toString('hex', at, at + bytes);
  }

  str8(): string {
    return this.utf8(this.u8());
  }

  utf8(n: number): string {
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }

  /** Throws if bytes are left over. */
  end(): void {
    if (this.at !== this.buf.length) throw new TxCodecError(`${this.left} bytes after the last entry`);
  }
}
