/**
 * Reference ChaCha20-Poly1305 from @noble/ciphers (pure JS). Not on the hot path: it is
 * what the node:crypto implementation (aead.ts) is cross-checked against.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';

/** Returns ciphertext||tag. */
export function nobleSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** Returns the plaintext, or null if the tag does not verify. */
export function nobleOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  try {
    return chacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}
