/**
 * All inclusion proofs of an RFC 6962 tree at once (same tree and proof format as
 * chain/state/merkle.ts, whose merkleProof costs O(n) hashes per leaf): subtree hashes are
 * memoized by range, so n proofs cost O(n log n) hashes.
 */
import { sha256Concat } from '../state/encoding.js';
import type { MerkleProof } from '../state/merkle.js';

function h(...parts: Uint8Array[]): Buffer {
  return sha256Concat(parts);
}
const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);

function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function merkleProofsAll(leavesHex: readonly string[]): MerkleProof[] {
  const n = leavesHex.length;
  const leaves = leavesHex.map((x) => Buffer.from(x, 'hex'));
  const memo = new Map<number, Buffer>(); // key lo * (n + 1) + hi
  const mth = (lo: number, hi: number): Buffer => {
    const key = lo * (n + 1) + hi;
    const hit = memo.get(key);
    if (hit) return hit;
    let out: Buffer;
    if (hi - lo === 0) out = h();
    else if (hi - lo === 1) out = h(LEAF, leaves[lo]!);
    else {
      const k = largestPow2Below(hi - lo);
      out = h(NODE, mth(lo, lo + k), mth(lo + k, hi));
    }
    memo.set(key, out);
    return out;
  };
  const path = (m: number, lo: number, hi: number): Buffer[] => {
    if (hi - lo <= 1) return [];
    const k = largestPow2Below(hi - lo);
    if (m < k) return [...path(m, lo, lo + k), mth(lo + k, hi)];
    return [...path(m - k, lo + k, hi), mth(lo, lo + k)];
  };
  return leaves.map((_, i) => ({ index: i, total: n, siblings: path(i, 0, n).map((b) => b.toString('hex')) }));
}
