/** Builders for hand-made consensus messages in unit tests. */
import { blockHash, genesisBlock, makeQC, signVote } from '../../../chain/consensus/certificate.js';
import { sha256Hex } from '../../../chain/consensus/encoding.js';
import { simSigners } from '../../../chain/consensus/sim.js';
import type { Signer } from '../../../chain/consensus/crypto.js';
import type { Block, ProposalMsg, QC, SignedVote } from '../../../chain/consensus/types.js';

export const CHAIN = { chainId: 'topvpn-test', chain: 'shard-0' } as const;
export const GENESIS_ID = 'unit-genesis';

export function committee(n: number): { signers: Signer[]; members: string[] } {
  const signers = simSigners(n);
  return { signers, members: signers.map((s) => s.publicKey) };
}

export const genesis = (): Block => genesisBlock(CHAIN, GENESIS_ID);

/** A block at `view` on top of `parent` (certified by `justify`), proposed by `proposer`. */
export function makeBlock(parent: Block, justify: QC, view: number, proposer: Signer, payloadText = `p${view}`): Block {
  const payload = new TextEncoder().encode(payloadText);
  const header = { ...CHAIN, height: parent.height + 1, view, parentHash: parent.hash, justify, proposer: proposer.publicKey, payloadHash: sha256Hex(payload) };
  return { ...header, hash: blockHash(header), payload };
}

export function voteFor(signer: Signer, b: Block): SignedVote {
  return signVote(signer, { ...CHAIN, height: b.height, view: b.view, blockHash: b.hash });
}

export function proposal(b: Block, proposer: Signer): ProposalMsg {
  return { type: 'proposal', block: b, signature: voteFor(proposer, b).signature };
}

export function qcFor(b: Block, signers: readonly Signer[]): QC {
  return makeQC(signers.map((s) => voteFor(s, b)));
}
