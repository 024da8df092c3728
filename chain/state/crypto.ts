import { createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { toHex } from './encoding.js';

/** Signature checks: the project's one Ed25519 verifier (common/ed25519.ts); `ed25519Verify` takes raw bytes. */
export { ed25519VerifyRaw as ed25519Verify, ed25519VerifyHex } from '../../common/ed25519.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * Private KeyObjects per seed object (importing a key costs far more than a signature). Keyed
 * by the seed's identity, so the secret is never copied into a map key; callers do not modify
 * a seed's bytes after signing with it.
 */
const privateKeys = new WeakMap<Uint8Array, KeyObject>();

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error('ed25519 seed must be 32 bytes');
  let k = privateKeys.get(seed);
  if (!k) {
    k = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    privateKeys.set(seed, k);
  }
  return k;
}

export function ed25519Sign(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, msg, privateKeyObject(seed)));
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' }); // DER, not JWK: see protocol/x25519.ts
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** A signing key: the 32-byte seed and its address (hex public key). */
export interface KeyPair {
  seed: Uint8Array;
  address: string;
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  return { seed, address: toHex(ed25519PublicKey(seed)) };
}
