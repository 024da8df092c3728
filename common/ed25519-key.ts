/**
 * Ed25519 public keys from their raw 32 bytes as node:crypto KeyObjects, for every verifier in
 * the project (chain txs and consensus votes, node keys, payment receipts, relay descriptors).
 *
 * Imported through JWK (`{kty: 'OKP', crv: 'Ed25519', x}`), not SPKI DER: on Node 20 the DER path
 * goes through OpenSSL 3's generic decoder and costs more than the verification itself, so a
 * signature from a key not seen before cost import + verify. `node dist/bench/crypto.js` prints
 * both (`ed25519_import_der_us`, `ed25519_import_jwk_us`). Only imports use JWK; raw keys are never exported through it (a JWK
 * export can deadlock Node 20, see protocol/x25519.ts).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { BoundedCache } from './bounded-cache.js';

export class Ed25519KeyError extends Error {
  override readonly name = 'Ed25519KeyError';
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Imports a raw 32-byte Ed25519 public key. Throws Ed25519KeyError on a wrong length. */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Ed25519KeyError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url') }, format: 'jwk' });
}

/** Keys imported by this process, by lowercase hex: keys in use stay (BoundedCache), others are imported again. */
const cache = new BoundedCache<string, KeyObject>(8192);

/**
 * The KeyObject of a lowercase-hex Ed25519 public key, imported once per process while it is in
 * recent use. Throws Ed25519KeyError if `hex` is not 32 bytes of lowercase hex.
 */
export function ed25519PublicKey(hex: string): KeyObject {
  let k = cache.get(hex);
  if (k === undefined) {
    if (!HEX32.test(hex)) throw new Ed25519KeyError('an Ed25519 public key is 32 bytes of lowercase hex');
    k = ed25519PublicKeyFromRaw(Buffer.from(hex, 'hex'));
  }
  cache.set(hex, k); // each use moves the key to the current generation: one used at least every 4096 new keys stays
  return k;
}
