/** Verification of committed blocks for a node catching up (no trust in the peer that served them). */
import { sha256Hex } from './encoding.js';
import { VerifyCache } from './crypto.js';
import { blockHash, genesisHash, qcError, verifyContext, type ChainRef, type VerifyContext } from './certificate.js';
import type { Block, BlockHeader, CommitProof, QC } from './types.js';

export class ChainVerificationError extends Error {
  override name = 'ChainVerificationError';
}

export interface VerifyChainOptions extends ChainRef {
  readonly genesisId: string;
  /** Trusted starting point (already committed locally); default the genesis block. */
  readonly anchor?: { readonly height: number; readonly hash: string; readonly view: number };
  /** Commit proof for the last block of the list (the `proof` of its commit action). */
  readonly proof?: CommitProof;
  /** Leader schedule; default members[view mod n]. */
  readonly leaderOf?: (view: number) => string;
  readonly cache?: VerifyCache;
}

function headerCheck(b: BlockHeader | Block, ctx: VerifyContext, leader: (v: number) => string, what: string): void {
  const fail = (m: string): never => {
    throw new ChainVerificationError(`${what}: ${m}`);
  };
  if (b.chainId !== ctx.chainId || b.chain !== ctx.chain) fail('wrong chain id');
  if (blockHash(b) !== b.hash) fail('bad block hash');
  if ('payload' in b && b.payload instanceof Uint8Array && sha256Hex(b.payload) !== b.payloadHash) fail('bad payload hash');
  if (b.proposer !== leader(b.view)) fail('proposer is not the leader of its view');
  const j = b.justify;
  if (j.blockHash !== b.parentHash || j.height + 1 !== b.height || j.view >= b.view) fail('justify does not certify the parent');
  const e = qcError(j, ctx);
  if (e) fail(`bad QC: ${e}`);
}

function certifies(qc: QC, b: BlockHeader): boolean {
  return qc.blockHash === b.hash && qc.height === b.height && qc.view === b.view;
}

/**
 * Checks `blocks` (consecutive heights from anchor+1, each linked to its parent and carrying a valid QC
 * for it) and returns the prefix proven committed: up to the first block of the last 2-chain with
 * consecutive views whose second block is certified (by the next block's justify, or by `proof`
 * for the last block). Throws ChainVerificationError on any invalid link, hash, leader or signature.
 */
export function verifyCommittedChain(blocks: readonly Block[], members: readonly string[], opts: VerifyChainOptions): Block[] {
  const g = genesisHash(opts, opts.genesisId);
  const ctx = verifyContext(opts, members, g, opts.cache ?? new VerifyCache());
  const leader = opts.leaderOf ?? ((v: number) => members[v % members.length] as string);
  const anchor = opts.anchor ?? { height: 0, hash: g, view: 0 };
  let prev: { height: number; hash: string } = anchor;
  blocks.forEach((b, i) => {
    headerCheck(b, ctx, leader, `block ${i} (height ${b.height})`);
    if (b.parentHash !== prev.hash || b.height !== prev.height + 1) throw new ChainVerificationError(`block ${i}: does not extend height ${prev.height}`);
    prev = b;
  });
  const seq: BlockHeader[] = [...blocks];
  let qcForLast: QC | null = null;
  if (opts.proof) {
    const chain = opts.proof.chain;
    const last = blocks[blocks.length - 1];
    if (!last) throw new ChainVerificationError('proof without blocks');
    if (chain.length < 1 || chain.length > 2) throw new ChainVerificationError('proof must hold 1 or 2 headers');
    let prev: BlockHeader = last;
    chain.forEach((c, i) => {
      headerCheck(c, ctx, leader, `proof block ${i + 1}`);
      if (c.parentHash !== prev.hash) throw new ChainVerificationError('proof does not extend the last block');
      if (c.view !== prev.view + 1) throw new ChainVerificationError('proof views are not consecutive');
      prev = c;
    });
    if (!certifies(opts.proof.qc, prev)) throw new ChainVerificationError('proof QC does not certify its last block');
    const e = qcError(opts.proof.qc, ctx);
    if (e) throw new ChainVerificationError(`proof QC: ${e}`);
    seq.push(...chain);
    qcForLast = opts.proof.qc;
  }
  let committedUpTo = -1;
  for (let i = 0; i + 1 < seq.length; i++) {
    const [b0, b1] = [seq[i] as BlockHeader, seq[i + 1] as BlockHeader];
    if (b0.view + 1 !== b1.view) continue;
    const next = seq[i + 2];
    const qc = next ? next.justify : qcForLast;
    if (qc && certifies(qc, b1)) committedUpTo = i;
  }
  return blocks.slice(0, Math.min(committedUpTo + 1, blocks.length));
}
