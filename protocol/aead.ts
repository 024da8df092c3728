/**
 * ChaCha20-Poly1305 (RFC 8439) on the hot path, via OpenSSL: by default through the udp
 * addon's AeadKey (conn/native/aead.h: one reused OpenSSL context per key, ~5x cheaper per
 * packet than a node:crypto cipher object per call), else through node:crypto (the addon is
 * not built, fails its self-test at load, or TOPVPN_NATIVE_AEAD=0). Both give identical bytes.
 * Nonce = 4 zero bytes || 64-bit little-endian counter (as WireGuard).
 * Contract: `sealInto` writes ciphertext||tag into a caller-provided buffer (no extra
 * output buffer); `openTo` returns the plaintext only after the tag verified, else null.
 * Counters are JS numbers in [0, 2^53).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../common/paths.js';
import { KEY_LEN, NONCE_LEN, TAG_LEN } from './constants.js';

const ALG = 'chacha20-poly1305';
const OPTS = { authTagLength: TAG_LEN } as const;
// setAAD takes { plaintextLength } for every AEAD mode in @types/node; OpenSSL needs it only for CCM.

/** A key prepared for repeated use (a KeyObject: OpenSSL skips re-importing raw bytes). */
export type AeadKey = KeyObject;

export class AeadKeyError extends Error {
  override readonly name = 'AeadKeyError';
}

export class AeadError extends Error {
  override readonly name = 'AeadError';
}

/** The addon's per-key context (conn/native/aead.h states the contract). */
interface NativeAeadKey {
  seal(lo: number, hi: number, aad: Uint8Array, pt: Uint8Array, out: Uint8Array, outOff: number): number;
  open(lo: number, hi: number, aad: Uint8Array, sealed: Uint8Array, out: Uint8Array, outOff: number): number;
}
type NativeAeadCtor = new (key: Uint8Array) => NativeAeadKey;

/** Native contexts of the keys made by aeadKey() (or met first in sealInto/openTo). */
const nativeKeys = new WeakMap<KeyObject, NativeAeadKey>();

function loadNativeAead(): NativeAeadCtor | undefined {
  if (process.env['TOPVPN_NATIVE_AEAD'] === '0') return undefined;
  try {
    const path = join(repoRoot(), 'build', 'Release', 'udp.node');
    if (!existsSync(path)) return undefined;
    // The addon's exports are untyped; NativeAeadCtor states the contract from aead.h.
    const ctor = (createRequire(import.meta.url)(path) as { AeadKey?: NativeAeadCtor }).AeadKey;
    if (typeof ctor !== 'function') return undefined;
    // Self-test against node:crypto before trusting it.
    const key = Buffer.alloc(KEY_LEN, 7);
    const aad = Buffer.alloc(16, 1);
    const pt = Buffer.alloc(100, 2);
    const nonce = Buffer.alloc(NONCE_LEN);
    nonce.writeUInt32LE(3, 4);
    nonce.writeUInt32LE(1, 8);
    const c = createCipheriv(ALG, key, nonce, OPTS);
    c.setAAD(aad, { plaintextLength: pt.length });
    const ref = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    const k = new ctor(key);
    const out = Buffer.alloc(ref.length);
    if (k.seal(3, 1, aad, pt, out, 0) !== ref.length || !out.equals(ref)) return undefined;
    const back = Buffer.alloc(pt.length);
    if (k.open(3, 1, aad, out, back, 0) !== pt.length || !back.equals(pt)) return undefined;
    out[0]! ^= 1;
    if (k.open(3, 1, aad, out, back, 0) !== -1) return undefined;
    return ctor;
  } catch {
    return undefined;
  }
}

const NativeAead: NativeAeadCtor | undefined = loadNativeAead();

/** Which implementation seals and opens: 'native' (the addon's AeadKey) or 'node' (node:crypto). */
export function aeadBackend(): 'native' | 'node' {
  return NativeAead === undefined ? 'node' : 'native';
}

function nativeKey(key: KeyObject): NativeAeadKey | undefined {
  if (NativeAead === undefined) return undefined;
  let k = nativeKeys.get(key);
  if (k === undefined) {
    k = new NativeAead(key.export());
    nativeKeys.set(key, k);
  }
  return k;
}

export function aeadKey(raw: Uint8Array): AeadKey {
  if (raw.length !== KEY_LEN) throw new AeadKeyError(`key must be ${KEY_LEN} bytes, got ${raw.length}`);
  const key = createSecretKey(raw);
  if (NativeAead !== undefined) nativeKeys.set(key, new NativeAead(raw));
  return key;
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
  const nk = nativeKey(key);
  if (nk !== undefined) {
    const w = nk.seal(counter >>> 0, Math.floor(counter / 0x1_0000_0000), aad, plaintext, out, outOffset);
    if (w < 0) throw new AeadError(`seal failed (${plaintext.length} bytes into ${out.length - outOffset} at ${outOffset})`);
    return w;
  }
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
  const nk = nativeKey(key);
  if (nk !== undefined) {
    const pt = Buffer.allocUnsafe(n);
    return nk.open(counter >>> 0, Math.floor(counter / 0x1_0000_0000), aad, sealed, pt, 0) < 0 ? null : pt;
  }
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
