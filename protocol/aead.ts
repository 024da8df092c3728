/**
 * ChaCha20-Poly1305 (RFC 8439) on the hot path, via node:crypto (OpenSSL).
 * Nonce = 4 zero bytes || 64-bit little-endian counter (as WireGuard).
 * Contract: `sealInto` writes ciphertext||tag into a caller-provided buffer (no extra
 * output buffer); `openTo` returns the plaintext only after the tag verified, else null.
 * Counters are JS numbers in [0, 2^53).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { KEY_LEN, NONCE_LEN, TAG_LEN } from './constants.js';

const ALG = 'chacha20-poly1305';
const OPTS = { authTagLength: TAG_LEN } as const;
// setAAD takes { plaintextLength } for every AEAD mode in @types/node; OpenSSL needs it only for CCM.

/** A key prepared for repeated use (a KeyObject: OpenSSL skips re-importing raw bytes). */
export type AeadKey = KeyObject;

export class AeadKeyError extends Error {
  override readonly name = 'AeadKeyError';
}

export function aeadKey(raw: Uint8Array): AeadKey {
  if (raw.length !== KEY_LEN) throw new AeadKeyError(`key must be ${KEY_LEN} bytes, got ${raw.length}`);
  return createSecretKey(raw);
}

// One nonce buffer per module: createCipheriv copies the nonce, so reuse is safe.
const nonceBuf = Buffer.alloc(NONCE_LEN);

function setNonce(counter: number): Buffer {
  nonceBuf.writeUInt32LE(counter >>> 0, 4);
  nonceBuf.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
  return nonceBuf;
}

/**
 * Encrypts `plaintext` with AAD `aad` under (key, counter) and writes ciphertext||tag to
 * `out` at `outOffset`. `plaintext` may alias `out` at exactly `outOffset` (in place).
 * Returns the number of bytes written (plaintext.length + 16).
 */
export function sealInto(key: AeadKey, counter: number, aad: Uint8Array, plaintext: Uint8Array, out: Buffer, outOffset: number): number {
  const c = createCipheriv(ALG, key, setNonce(counter), OPTS);
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = c.update(plaintext);
  ct.copy(out, outOffset);
  c.final();
  const tag = c.getAuthTag();
  tag.copy(out, outOffset + ct.length);
  return ct.length + TAG_LEN;
}

/**
 * Decrypts ciphertext||tag (`sealed`, at least 16 bytes) with AAD `aad`.
 * Returns the plaintext (a fresh Buffer) if the tag verifies, else null. Never throws on
 * forged input.
 */
export function openTo(key: AeadKey, counter: number, aad: Uint8Array, sealed: Uint8Array): Buffer | null {
  const n = sealed.length - TAG_LEN;
  if (n < 0) return null;
  const d = createDecipheriv(ALG, key, setNonce(counter), OPTS);
  d.setAAD(aad, { plaintextLength: n });
  d.setAuthTag(sealed.subarray(n));
  const pt = d.update(sealed.subarray(0, n));
  try {
    d.final();
  } catch {
    return null;
  }
  return pt;
}

/** General form with an explicit 12-byte nonce (tests, vectors). Returns ciphertext||tag. */
export function sealNonce(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv(ALG, key, nonce, OPTS);
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const ct = c.update(plaintext);
  c.final();
  return Buffer.concat([ct, c.getAuthTag()]);
}

/** General form with an explicit 12-byte nonce. Returns the plaintext or null. */
export function openNonce(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer | null {
  const n = sealed.length - TAG_LEN;
  if (n < 0) return null;
  const d = createDecipheriv(ALG, key, nonce, OPTS);
  d.setAAD(aad, { plaintextLength: n });
  d.setAuthTag(sealed.subarray(n));
  const pt = d.update(sealed.subarray(0, n));
  try {
    d.final();
  } catch {
    return null;
  }
  return pt;
}

/** The nonce for a counter as a fresh 12-byte array. */
export function counterNonce(counter: number): Uint8Array {
  return Uint8Array.from(setNonce(counter));
}
