import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519PublicKey as publicKeyObject } from '../../common/ed25519-key.js';
import { fromHex, isHex, toHex } from './encoding.js';

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

/** Verifies an Ed25519 signature (node:crypto / OpenSSL). Any malformed input gives false. */
export function ed25519Verify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pub.length !== 32 || sig.length !== 64) return false;
  try {
    return nodeVerify(null, msg, publicKeyObject(toHex(pub)), sig);
  } catch {
    return false;
  }
}

/** Hex convenience: pubkey and signature as lowercase hex. */
export function ed25519VerifyHex(pubHex: string, msg: Uint8Array, sigHex: string): boolean {
  if (!isHex(pubHex, 32) || !isHex(sigHex, 64)) return false;
  try {
    return nodeVerify(null, msg, publicKeyObject(pubHex), fromHex(sigHex));
  } catch {
    return false;
  }
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
