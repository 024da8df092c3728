/**
 * Ed25519 through node:crypto (≈16x faster than pure JS here). Keys are raw 32-byte values;
 * an address / member id is the lowercase hex of the public key.
 */
import { BoundedCache } from '../../common/bounded-cache.js';
import { ed25519VerifyHex } from '../../common/ed25519.js';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { toHex } from './encoding.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Signs canonical bytes as one member. The secret never leaves the closure. */
export interface Signer {
  readonly publicKey: string;
  sign(message: Uint8Array): string;
}

export function createSigner(secretSeed: Uint8Array): Signer {
  if (secretSeed.length !== 32) throw new RangeError('Ed25519 seed must be 32 bytes');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretSeed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = toHex(new Uint8Array(spki.subarray(SPKI_PREFIX.length)));
  return {
    publicKey,
    sign: (message) => toHex(new Uint8Array(sign(null, message, key))),
  };
}

/** A fresh random key pair; `seed` feeds createSigner. */
export function generateKey(): { seed: Uint8Array; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = new Uint8Array(der.subarray(der.length - 32));
  return { seed, publicKey: createSigner(seed).publicKey };
}

/** Ed25519 verifications done by verifySignature in this process (the node exports it as a metric). */
export const signatureVerifications = { count: 0 };

/** True iff `signature` (hex, 64 bytes) is `publicKey`'s Ed25519 signature over `message`. */
export function verifySignature(publicKey: string, message: Uint8Array, signature: string): boolean {
  return ed25519VerifyHex(publicKey, message, signature, signatureVerifications);
}

/**
 * Remembers verification results so each signature is checked once per node.
 * Keyed by (signer, message, signature): a valid signature is never reused for another message.
 */
export class VerifyCache {
  private readonly map: BoundedCache<string, boolean>;
  hits = 0;
  misses = 0;
  constructor(capacity = 20_000) {
    this.map = new BoundedCache(capacity);
  }
  verify(publicKey: string, message: Uint8Array, signature: string): boolean {
    const key = publicKey + signature + Buffer.from(message).toString('latin1');
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const ok = verifySignature(publicKey, message, signature);
    this.map.set(key, ok);
    return ok;
  }
}
