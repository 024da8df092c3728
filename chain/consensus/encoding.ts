/**
 * Canonical encoding shared by every signed consensus structure (chain/README.md conventions):
 * JSON with object keys sorted, bigints as decimal strings, bytes as lowercase hex, no whitespace;
 * hash = SHA-256 of the UTF-8 bytes.
 */
import { canonicalBytes as stateCanonicalBytes, canonicalJson as stateCanonicalJson, fromHex, isHex, sha256Hex, toHex } from '../state/encoding.js';

export type CanonicalValue =
  | string
  | number
  | boolean
  | null
  | bigint
  | Uint8Array
  | readonly CanonicalValue[]
  | { readonly [k: string]: CanonicalValue | undefined };

/**
 * One canonical encoding for the whole chain: consensus signs with the same canonical JSON,
 * SHA-256 and hex helpers as the state (chain/state/encoding.ts); this module types them for
 * consensus structures.
 */
export function canonicalJson(v: CanonicalValue): string {
  return stateCanonicalJson(v);
}

export function canonicalBytes(v: CanonicalValue): Uint8Array {
  return stateCanonicalBytes(v);
}

export { fromHex, isHex, sha256Hex, toHex };
