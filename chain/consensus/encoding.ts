/**
 * Canonical encoding shared by every signed consensus structure (chain/README.md conventions):
 * JSON with object keys sorted, bigints as decimal strings, bytes as lowercase hex, no whitespace;
 * hash = SHA-256 of the UTF-8 bytes.
 */
import { sha256Hex } from '../state/encoding.js';

export type CanonicalValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | Uint8Array
  | readonly CanonicalValue[]
  | { readonly [k: string]: CanonicalValue | undefined };

export class CanonicalEncodingError extends Error {
  override name = 'CanonicalEncodingError';
}

/** Canonical JSON text; undefined object fields are omitted, non-integer numbers rejected. */
export function canonicalJson(v: CanonicalValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new CanonicalEncodingError(`non-integer number ${v}`);
    return String(v);
  }
  if (typeof v === 'bigint') return JSON.stringify(v.toString(10));
  if (v instanceof Uint8Array) return JSON.stringify(toHex(v));
  if (Array.isArray(v)) return '[' + v.map((x) => canonicalJson(x as CanonicalValue)).join(',') + ']';
  const obj = v as { readonly [k: string]: CanonicalValue | undefined };
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k] as CanonicalValue)).join(',') + '}';
}

export function canonicalBytes(v: CanonicalValue): Uint8Array {
  const b = Buffer.from(canonicalJson(v), 'utf8');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export { sha256Hex };

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
export function isHex(s: unknown, bytes?: number): s is string {
  return typeof s === 'string' && HEX_RE.test(s) && (bytes === undefined || s.length === bytes * 2);
}

export function fromHex(s: string): Uint8Array {
  if (!isHex(s)) throw new CanonicalEncodingError('invalid hex');
  return new Uint8Array(Buffer.from(s, 'hex'));
}
