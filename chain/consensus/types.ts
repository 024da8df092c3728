/** Data types of the consensus core. Hashes, keys and signatures are lowercase hex strings. */
import type { SignedConsensusVote, VoteEvidence } from '../state/vote-evidence.js';
export type { ConsensusVote, SignedConsensusVote, VoteEvidence } from '../state/vote-evidence.js';

/** A committee: ordered member public keys (hex). Leader of view v is members[v mod n]. */
export interface Group {
  readonly members: readonly string[];
}

/** ⌊2n/3⌋+1: any two quorums of n ≥ 3f+1 members share an honest member. */
export function quorumSize(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

/** One member's Ed25519 signature (hex) over some canonical bytes. */
export interface SignatureShare {
  readonly signer: string;
  readonly signature: string;
}

/**
 * A vote, exactly chain/state's SignedConsensusVote: {vote:{chainId, chain, height, view, blockHash}, signer, signature},
 * signed over consensusVoteSigningBytes(vote). Two of them by one signer for one (height, view) are slashing evidence.
 */
export type SignedVote = SignedConsensusVote;

/** Quorum certificate: ≥ quorum distinct members' vote signatures for one (height, view, blockHash). */
export interface QC {
  readonly height: number;
  readonly view: number;
  readonly blockHash: string;
  /** Sorted by signer, distinct. Empty only for the genesis QC (view 0). */
  readonly votes: readonly SignatureShare[];
}

/** Timeout certificate: ≥ quorum members signed timeoutSigningBytes(chainId, chain, view). */
export interface TC {
  readonly view: number;
  readonly timeouts: readonly SignatureShare[];
}

/** The hashed part of a block; `hash` = sha256(canonical header) (see blockHash()). */
export interface BlockHeader {
  /** Network id (e.g. 'topvpn-devnet'). */
  readonly chainId: string;
  /** Committee chain: 'beacon' or 'shard-<i>'. */
  readonly chain: string;
  readonly height: number;
  readonly view: number;
  readonly parentHash: string;
  /** QC certifying the parent (justify.blockHash === parentHash). */
  readonly justify: QC;
  readonly proposer: string;
  readonly payloadHash: string;
  readonly hash: string;
}

export interface Block extends BlockHeader {
  /** Opaque application payload; payloadHash = sha256(payload). */
  readonly payload: Uint8Array;
}

/** Proof that `block` is committed: the certified chain of consecutive views above it. */
export interface CommitProof {
  /**
   * Headers above the committed block, consecutive views from it: [c1] under the 2-chain rule
   * (block ← c1); [c1, c2] in records stored under the earlier 3-chain rule, still accepted
   * (c2's justify certifies c1, so they prove the same commit).
   */
  readonly chain: readonly BlockHeader[];
  /** QC certifying the last header of `chain`. */
  readonly qc: QC;
}

// ---- wire messages ----

export interface ProposalMsg {
  readonly type: 'proposal';
  readonly block: Block;
  /** The proposer's vote signature for this block (counts toward its QC; equivocation evidence). */
  readonly signature: string;
  /** Present when the leader entered the view by a timeout certificate of view-1. */
  readonly tc?: TC;
}
export interface VoteMsg {
  readonly type: 'vote';
  readonly vote: SignedVote;
}
export interface TimeoutMsg {
  readonly type: 'timeout';
  readonly view: number;
  readonly signer: string;
  readonly signature: string;
  /** Sender's highest QC, so the next leader extends the highest certified block. */
  readonly highQC: QC;
}
/** Catch-up hint sent to a node that is behind: self-authenticating QC / TC. */
export interface SyncMsg {
  readonly type: 'sync';
  readonly highQC: QC;
  readonly tc?: TC;
}
export interface BlockRequestMsg {
  readonly type: 'blockRequest';
  readonly hash: string;
}
export interface BlockResponseMsg {
  readonly type: 'blockResponse';
  readonly block: Block;
}
export type Message = ProposalMsg | VoteMsg | TimeoutMsg | SyncMsg | BlockRequestMsg | BlockResponseMsg;

// ---- evidence ----

/** Equivocation: chain/state's VoteEvidence {a, b} (same signer, chain, height, view; different blocks). */
export type DoubleVoteEvidence = VoteEvidence;

// ---- events in, actions out ----

export type TimerKind = 'timeout' | 'propose';

export type ConsensusEvent =
  | { readonly type: 'start'; readonly now: number }
  /** `from` is the transport-level sender (member key) used only for replies; messages authenticate themselves. */
  | { readonly type: 'message'; readonly now: number; readonly from: string; readonly msg: Message }
  | { readonly type: 'timer'; readonly now: number; readonly kind: TimerKind; readonly view: number }
  /** Answer to requestPayload. */
  | { readonly type: 'payloadReady'; readonly now: number; readonly view: number; readonly parentHash: string; readonly payload: Uint8Array }
  /** Answer to requestValidation. */
  | { readonly type: 'validated'; readonly now: number; readonly blockHash: string; readonly valid: boolean }
  | { readonly type: 'tick'; readonly now: number };

export type ConsensusAction =
  | { readonly type: 'broadcast'; readonly msg: Message }
  | { readonly type: 'send'; readonly to: string; readonly msg: Message }
  /** Emitted in height order, each block exactly once. */
  | { readonly type: 'commit'; readonly block: Block; readonly qc: QC; readonly proof: CommitProof }
  /** Deliver {type:'timer', kind, view, now} back to step at time `at` (now ≥ at - min(50, base/10) ms is accepted). Later schedules do not cancel earlier ones; stale timers are ignored. */
  | { readonly type: 'schedule'; readonly at: number; readonly kind: TimerKind; readonly view: number }
  /** Build a payload on top of `parent`; answer with payloadReady(view, parent.hash). */
  | { readonly type: 'requestPayload'; readonly view: number; readonly height: number; readonly parent: BlockHeader }
  /** Check the payload (e.g. execute on top of parent); answer with validated(block.hash). */
  | { readonly type: 'requestValidation'; readonly block: Block }
  | { readonly type: 'evidence'; readonly evidence: DoubleVoteEvidence }
  /** Safety state to write durably BEFORE executing any later action of the same step. */
  | { readonly type: 'persist'; readonly safety: SafetyState }
  | { readonly type: 'enterView'; readonly view: number; readonly leader: string; readonly via: 'qc' | 'tc' | 'start' | 'timeouts' }
  | { readonly type: 'reject'; readonly from: string; readonly msgType: string; readonly reason: string };

/** What a member must never forget across restarts (or it could double-vote). */
export interface SafetyState {
  readonly lastVotedView: number;
  readonly lockedView: number;
  readonly highQC: QC;
  readonly lastTimeoutView: number;
  /**
   * The uncommitted blocks from above the committed one up to the block highQC certifies, oldest
   * first, as far as held (absent in states stored before it was kept). Not for safety but for
   * liveness: a certified block is uncommitted until its child is certified too, so when every
   * member of a group restarts, the only copies of the block the highest QC certifies (which the
   * next proposal must extend) are these.
   */
  readonly certified?: readonly Block[];
}
