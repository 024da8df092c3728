/**
 * Verification of a committed block received from a peer (commit message or sync): the block,
 * its QC and its 2-chain commit proof, all checked against the validator group that ran the
 * block's height (epochs.ts): a block of an earlier period is verified against that period's
 * group, a block after a handover against the new group. Pure.
 */
import { blockHash, qcError, type VerifyContext } from '../consensus/certificate.js';
import { sha256Hex } from '../consensus/encoding.js';
import type { Block, BlockHeader, CommitProof, QC } from '../consensus/types.js';

/** A commit proof, optionally extended with the headers between the block and the 2-chain's first block. */
export type ExtCommitProof = CommitProof & { readonly ext?: readonly BlockHeader[] };

/** Reason the proof does not show `block` committed by the group of `vctx`, or null. */
export function commitProofError(block: Block, qc: QC, proof: ExtCommitProof, chainId: string, chain: string, vctx: VerifyContext): string | null {
  if (blockHash(block) !== block.hash) return 'bad block hash';
  if (sha256Hex(block.payload) !== block.payloadHash) return 'bad payload hash';
  if (block.chainId !== chainId || block.chain !== chain) return 'wrong chain';
  if (!proof?.chain || !Array.isArray(proof.chain) || proof.chain.length < 1 || proof.chain.length > 2 || !proof.qc) return 'malformed proof';
  // block ← ext[0] ← … ← ext[k-1] = b0 ← c1 (← c2 in records stored under the 3-chain rule): a QC
  // for the last header of a chain of consecutive views above b0 proves b0 committed under either
  // rule, and block is b0's ancestor.
  let b0: BlockHeader = block;
  for (const h of proof.ext ?? []) {
    if (h.parentHash !== b0.hash || blockHash(h) !== h.hash || h.height !== b0.height + 1) return 'proof extension does not link';
    b0 = h;
  }
  let prev = b0;
  for (const c of proof.chain) {
    if (c.parentHash !== prev.hash) return 'proof does not link';
    if (c.view !== prev.view + 1) return 'proof views not consecutive';
    if (blockHash(c) !== c.hash) return 'proof header hash';
    prev = c;
  }
  if (proof.qc.blockHash !== prev.hash) return 'proof QC not for the last header';
  if (qc.blockHash !== block.hash) return 'QC not for the block';
  const e1 = qcError(proof.qc, vctx);
  if (e1) return `proof QC: ${e1}`;
  const e2 = qcError(qc, vctx);
  return e2 ? `block QC: ${e2}` : null;
}
