/**
 * Ed25519 through node:crypto (OpenSSL) for every verifier in the project: chain txs and
 * consensus signatures, node keys, payment receipts, relay descriptors. Each of those checks a
 * signature through one of the verify functions here, which the Wycheproof vectors test
 * (test/unit/common/ed25519.test.ts).
 *
 * Public keys are imported through JWK (`{kty: 'OKP', crv: 'Ed25519', x}`), not SPKI DER: on
 * Node 20 the DER path goes through OpenSSL 3's generic decoder and costs more than the
 * verification itself, so a signature from a key not seen before cost import + verify.
 * `node dist/bench/crypto.js` prints both (`ed25519_import_der_us`, `ed25519_import_jwk_us`).
 * Only imports use JWK; raw keys are never exported through it (a JWK export can deadlock
 * Node 20, see protocol/x25519.ts).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { BoundedCache } from './bounded-cache.js';

export class Ed25519KeyError extends Error {
  override readonly name = 'Ed25519KeyError';
}

const HEX32 = /^[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{128}$/;

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

/** Counts the signatures a verify function actually checked (well-formed input only). */
export interface VerifyCounter {
  count: number;
}

/** The check itself, on well-formed input: a 64-byte signature and an imported key. */
function check(key: KeyObject, msg: Uint8Array, sig: Uint8Array, counter: VerifyCounter | undefined): boolean {
  if (counter) counter.count++;
  try {
    return verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

/**
 * Whether `sigHex` (64 bytes as lowercase hex) is `key`'s Ed25519 signature over `msg`. A
 * malformed signature gives false without a check; `counter`, if given, counts each check.
 */
export function ed25519VerifyWithKey(key: KeyObject, msg: Uint8Array, sigHex: string, counter?: VerifyCounter): boolean {
  if (typeof sigHex !== 'string' || !HEX64.test(sigHex)) return false;
  return check(key, msg, Buffer.from(sigHex, 'hex'), counter);
}

/**
 * Whether `sigHex` is `pubHex`'s Ed25519 signature over `msg`, both as lowercase hex (32 and
 * 64 bytes). Malformed input of any type gives false without a check; `counter` as above.
 */
export function ed25519VerifyHex(pubHex: string, msg: Uint8Array, sigHex: string, counter?: VerifyCounter): boolean {
  if (typeof sigHex !== 'string' || !HEX64.test(sigHex)) return false;
  let key: KeyObject;
  try {
    key = ed25519PublicKey(pubHex);
  } catch {
    return false;
  }
  return check(key, msg, Buffer.from(sigHex, 'hex'), counter);
}

/** ed25519VerifyHex for raw bytes: a 32-byte public key and a 64-byte signature; any other length gives false. */
export function ed25519VerifyRaw(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array, counter?: VerifyCounter): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  return check(ed25519PublicKey(Buffer.from(pub.buffer, pub.byteOffset, 32).toString('hex')), msg, sig, counter);
}
