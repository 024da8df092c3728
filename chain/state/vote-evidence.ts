import { canonicalBytes, hashCanonical, isHex, toHex } from './encoding.js';
import { ed25519Sign, ed25519VerifyHex } from './crypto.js';

export const CONSENSUS_VOTE_TAG = 'topvpn/consensus-vote/v1';

/**
 * The one message a consensus replica signs when it votes for a block. Consensus signs
 * exactly consensusVoteSigningBytes(vote). `chain` scopes it to one committee's chain
 * (beacon or shard-i), so votes on different chains never conflict.
 */
export interface ConsensusVote {
  chainId: string;
  chain: string;
  height: number;
  view: number;
  blockHash: string;
}

export interface SignedConsensusVote {
  vote: ConsensusVote;
  /** Ed25519 consensus public key (hex). */
  signer: string;
  signature: string;
}

/** Two conflicting votes: same signer, chain, height and view, different block hashes. */
export interface VoteEvidence {
  a: SignedConsensusVote;
  b: SignedConsensusVote;
}

export function consensusVoteSigningBytes(v: ConsensusVote): Uint8Array {
  return canonicalBytes({
    type: CONSENSUS_VOTE_TAG,
    chainId: v.chainId,
    chain: v.chain,
    height: v.height,
    view: v.view,
    blockHash: v.blockHash,
  });
}

export function signConsensusVote(v: ConsensusVote, seed: Uint8Array, signer: string): SignedConsensusVote {
  return { vote: v, signer, signature: toHex(ed25519Sign(seed, consensusVoteSigningBytes(v))) };
}

export function verifyConsensusVote(sv: SignedConsensusVote): boolean {
  try {
    return ed25519VerifyHex(sv.signer, consensusVoteSigningBytes(sv.vote), sv.signature);
  } catch {
    return false; // not encodable: not a valid vote
  }
}

export class InvalidEvidenceError extends Error {
  override name = 'InvalidEvidenceError';
}

/**
 * Checks evidence of double signing for `chainId`; throws InvalidEvidenceError saying why.
 * Returns the offending consensus key.
 */
export function checkVoteEvidence(e: VoteEvidence, chainId: string): string {
  try {
    return checkEvidence(e, chainId);
  } catch (err) {
    if (err instanceof InvalidEvidenceError) throw err;
    throw new InvalidEvidenceError('malformed evidence');
  }
}

function checkEvidence(e: VoteEvidence, chainId: string): string {
  const { a, b } = e;
  const fail = (m: string): never => {
    throw new InvalidEvidenceError(m);
  };
  if (a.signer !== b.signer) fail('votes are signed by different keys');
  if (!isHex(a.signer, 32)) fail('signer is not a 32-byte hex key');
  if (a.vote.chainId !== chainId || b.vote.chainId !== chainId) fail(`vote for foreign chain id (expected ${chainId})`);
  if (a.vote.chain !== b.vote.chain) fail('votes are on different chains');
  if (!Number.isSafeInteger(a.vote.height) || !Number.isSafeInteger(a.vote.view)) fail('height and view must be integers');
  if (a.vote.height !== b.vote.height) fail(`different heights ${a.vote.height} vs ${b.vote.height}`);
  if (a.vote.view !== b.vote.view) fail(`different views ${a.vote.view} vs ${b.vote.view}`);
  if (a.vote.blockHash === b.vote.blockHash) fail('votes are for the same block (no conflict)');
  if (!verifyConsensusVote(a)) fail('first vote signature invalid');
  if (!verifyConsensusVote(b)) fail('second vote signature invalid');
  return a.signer;
}

/** Identity of an offence (signer, chain, height, view): one slash per offence. */
export function evidenceKey(e: VoteEvidence): string {
  return hashCanonical({ signer: e.a.signer, chain: e.a.vote.chain, height: e.a.vote.height, view: e.a.vote.view });
}
