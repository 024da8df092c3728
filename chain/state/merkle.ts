import { fromHex, isHex, sha256Concat, toHex } from './encoding.js';

/**
 * RFC 6962/9162 Merkle tree: leaf = H(0x00 || data), node = H(0x01 || left || right),
 * split at the largest power of two below n; empty tree = H(""). Leaves here are hex strings
 * (receipt hashes) whose bytes are hashed.
 */
export interface MerkleProof {
  index: number;
  total: number;
  /** Audit path, leaf level first (hex). */
  siblings: string[];
}

function h(...parts: Uint8Array[]): Uint8Array {
  return sha256Concat(parts);
}
const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

export function merkleLeafHash(leafHex: string): string {
  return toHex(h(LEAF, fromHex(leafHex)));
}

function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return h();
  if (leaves.length === 1) return h(LEAF, leaves[0]!);
  const k = largestPow2Below(leaves.length);
  return h(NODE, mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

export function merkleRoot(leavesHex: string[]): string {
  return toHex(mth(leavesHex.map(fromHex)));
}

function path(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = largestPow2Below(leaves.length);
  if (m < k) return [...path(m, leaves.slice(0, k)), mth(leaves.slice(k))];
  return [...path(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}

export function merkleProof(leavesHex: string[], index: number): MerkleProof {
  if (!Number.isInteger(index) || index < 0 || index >= leavesHex.length) throw new RangeError(`leaf ${index} of ${leavesHex.length}`);
  return { index, total: leavesHex.length, siblings: path(index, leavesHex.map(fromHex)).map(toHex) };
}

/** RFC 9162 §2.1.3.2 inclusion verification. */
export function verifyMerkleProof(rootHex: string, leafHex: string, proof: MerkleProof): boolean {
  if (!isHex(rootHex, 32) || !isHex(leafHex)) return false;
  if (!Number.isInteger(proof.index) || !Number.isInteger(proof.total) || proof.index < 0 || proof.index >= proof.total) return false;
  let fn = proof.index;
  let sn = proof.total - 1;
  let r = h(LEAF, fromHex(leafHex));
  for (const pHex of proof.siblings) {
    if (!isHex(pHex, 32)) return false;
    const p = fromHex(pHex);
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = h(NODE, p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = h(NODE, r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && toHex(r) === rootHex;
}
