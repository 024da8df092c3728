import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { fromHex, isHex, toHex } from './encoding.js';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Ed25519 public key (raw 32 bytes) → KeyObject; throws on malformed input. */
function publicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== 32) throw new Error('ed25519 public key must be 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new Error('ed25519 seed must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
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
  return ed25519Verify(fromHex(pubHex), msg, fromHex(sigHex));
}

export function ed25519Sign(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, msg, privateKeyObject(seed)));
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  const jwk = createPublicKey(privateKeyObject(seed)).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
}

/** A signing key: the 32-byte seed and its address (hex public key). */
export interface KeyPair {
  seed: Uint8Array;
  address: string;
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  return { seed, address: toHex(ed25519PublicKey(seed)) };
}
