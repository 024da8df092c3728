import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { fromHex, isHex, toHex } from './encoding.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Ed25519 public key (raw 32 bytes) → KeyObject; throws on malformed input. */
function publicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== 32) throw new Error('ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
}

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
    return nodeVerify(null, msg, publicKeyObject(pub), sig);
  } catch {
    return false;
  }
}

/** Hex convenience: pubkey and signature as lowercase hex. */
export function ed25519VerifyHex(pubHex: string, msg: Uint8Array, sigHex: string): boolean {
  if (!isHex(pubHex, 32) || !isHex(sigHex, 64)) return false;
  let k = publicKeys.get(pubHex);
  try {
    if (!k) {
      k = publicKeyObject(fromHex(pubHex));
      if (publicKeys.size >= 10_000) publicKeys.clear();
      publicKeys.set(pubHex, k);
    }
    return nodeVerify(null, msg, k, fromHex(sigHex));
  } catch {
    return false;
  }
}

/** Public KeyObjects by hex key (bounded): importing a key costs more than verifying. */
const publicKeys = new Map<string, KeyObject>();

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
