/**
 * X25519 (RFC 7748) through node:crypto with raw 32-byte keys, and HKDF-SHA256.
 * Raw keys become KeyObjects through their fixed DER prefixes (PKCS#8 / SPKI).
 * Contract: `x25519` throws `LowOrderPointError` when the shared secret is all zeros.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from 'node:crypto';


const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export class X25519Error extends Error {
  override readonly name = 'X25519Error';
}
export class LowOrderPointError extends X25519Error {
  constructor() {
    super('x25519: all-zero shared secret (low-order point)');
  }
}

export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
  /** The secret as a node KeyObject, when already at hand (saves an import per DH). */
  keyObject?: KeyObject;
}

const b64u = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

/**
 * Imports a raw secret. With its public key given, through JWK (~25x faster here than the
 * PKCS#8 path, which recomputes the public key); otherwise through PKCS#8 DER.
 */
export function privateKeyObject(secret: Uint8Array, pub?: Uint8Array): KeyObject {
  if (secret.length !== 32) throw new X25519Error('x25519 secret key must be 32 bytes');
  if (pub !== undefined && pub.length === 32) {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64u(secret), x: b64u(pub) }, format: 'jwk' });
  }
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
}

/** Imports a raw public key (JWK import; ~15x faster here than SPKI DER). */
export function publicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== 32) throw new X25519Error('x25519 public key must be 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(pub) }, format: 'jwk' });
}

function rawPublic(k: KeyObject): Uint8Array {
  const der = k.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/**
 * A fresh key pair. Raw bytes come out through DER, never JWK: on Node 20, a JWK export of a
 * key made by generateKeyPair(Sync) holds the key's mutex while allocating, and a GC that
 * finalizes the generating job then locks that same mutex — the thread deadlocks (seen in
 * CI and reproduced in a loop; the DER exports do not allocate on the JS heap under it).
 */
export function generateX25519(): X25519KeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  return { secretKey: rawSecret(privateKey), publicKey: rawPublic(createPublicKey(privateKey)), keyObject: privateKey };
}

function rawSecret(k: KeyObject): Uint8Array {
  const der = k.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** Public key of a raw secret. */
export function x25519Public(secret: Uint8Array): Uint8Array {
  return rawPublic(createPublicKey(privateKeyObject(secret)));
}

function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** X25519(secret, pub) -> 32-byte shared secret; throws LowOrderPointError on an all-zero result. */
export function x25519(secret: Uint8Array | KeyObject, pub: Uint8Array): Uint8Array {
  const privateKey = secret instanceof Uint8Array ? privateKeyObject(secret) : secret;
  let out: Buffer;
  try {
    out = diffieHellman({ privateKey, publicKey: publicKeyObject(pub) });
  } catch {
    // OpenSSL refuses an all-zero result itself; other failures are bad input too.
    throw new LowOrderPointError();
  }
  if (isZero(out)) throw new LowOrderPointError();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** HKDF-SHA256 (RFC 5869), extract-then-expand. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}
