import { canonicalBytes, hashCanonical, sha256Hex, toHex } from './encoding.js';
import { ed25519Sign, ed25519VerifyHex } from './crypto.js';
import type { SignedTx, Tx } from './types.js';

export const TX_TAG = 'topvpn/tx/v1';

/** The exact bytes the sender signs: canonical JSON of the tx (incl. chain id) plus the type tag. */
export function txSigningBytes(tx: Tx): Uint8Array {
  return canonicalBytes({ type: TX_TAG, tx });
}

/** Transaction id: SHA-256 (hex) of the signing bytes. */
export function txHash(tx: Tx): string {
  return hashCanonical({ type: TX_TAG, tx });
}

/** Signing bytes and hash of a SignedTx object, computed together once (see txHashOf). */
const memo = new WeakMap<SignedTx, { readonly bytes: Uint8Array; readonly hash: string }>();

function memoOf(stx: SignedTx): { readonly bytes: Uint8Array; readonly hash: string } {
  let m = memo.get(stx);
  if (m === undefined) {
    const bytes = txSigningBytes(stx.tx);
    m = { bytes, hash: sha256Hex(bytes) };
    memo.set(stx, m);
  }
  return m;
}

/**
 * txHash of a signed tx, memoized per SignedTx object: a tx decoded from a block or the wire
 * is hashed by several steps (mempool, block building, execution, indexing) and its signature
 * checked once. Callers treat a SignedTx they pass here as immutable.
 */
export function txHashOf(stx: SignedTx): string {
  return memoOf(stx).hash;
}

/** txSigningBytes of a signed tx, memoized with its hash (same contract as txHashOf). */
export function txSigningBytesOf(stx: SignedTx): Uint8Array {
  return memoOf(stx).bytes;
}

export function signTx(tx: Tx, seed: Uint8Array): SignedTx {
  return { tx, signature: toHex(ed25519Sign(seed, txSigningBytes(tx))) };
}

/** Ed25519 check of `signature` by `tx.from` (node:crypto). The node calls this once per tx. */
export function verifyTxSignature(stx: SignedTx): boolean {
  try {
    return ed25519VerifyHex(stx.tx.from, txSigningBytes(stx.tx), stx.signature);
  } catch {
    return false; // not encodable (e.g. a non-integer number): not a valid tx
  }
}
