/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) for data at rest, via @noble/ciphers.
 * 32-byte key, 24-byte nonce (random nonces are safe at this size), 16-byte tag appended.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export const XCHACHA_KEY_BYTES = 32;
export const XCHACHA_NONCE_BYTES = 24;
export const XCHACHA_TAG_BYTES = 16;

/** Encrypts `plaintext`; returns ciphertext || tag. Throws RangeError on bad key/nonce sizes. */
export function xchachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkSizes(key, nonce);
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** Decrypts ciphertext || tag; returns null when the tag does not verify (never partial plaintext). */
export function xchachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  checkSizes(key, nonce);
  if (sealed.length < XCHACHA_TAG_BYTES) return null;
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

function checkSizes(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== XCHACHA_KEY_BYTES) throw new RangeError(`xchacha20-poly1305 key must be ${XCHACHA_KEY_BYTES} bytes`);
  if (nonce.length !== XCHACHA_NONCE_BYTES) throw new RangeError(`xchacha20-poly1305 nonce must be ${XCHACHA_NONCE_BYTES} bytes`);
}
