/**
 * Chained BFT core (HotStuff family, 2-chain commit as in DiemBFT-v4/Jolteon), pure and event driven:
 * `step(state, event) → {state, actions}`. No IO, no timers, no randomness; time arrives on events.
 *
 * Protocol (n = 3f+1 members, quorum q = ⌊2n/3⌋+1):
 * - View v has leader leaderOf(v) (round-robin by default). The leader proposes a block extending
 *   the block of its highest QC; the proposal's signature is the leader's own vote for the block.
 * - Vote rule: a member votes for block B (broadcast to all members) iff B.view is its current view,
 *   B.view > lastVotedView, it has not timed out in B.view, B.justify.view ≥ lockedView, B's ancestry
 *   back to the last committed block is known, and the app validated the payload.
 * - Any node collecting q votes for (view, block) forms a QC; seeing a QC for view v moves it to view v+1.
 * - Lock: on any valid QC, lockedView ← max(lockedView, QC.view) (the lock is the highest QC seen).
 * - Commit (2-chain): B0 ← B1 with consecutive views and a QC for B1 commits B0 and its ancestors.
 * - View change: when the view timer fires a member broadcasts a signed timeout for the view with its
 *   highest QC, and rebroadcasts with exponential backoff; q timeouts form a TC that moves everyone to
 *   view v+1; f+1 timeouts for a view v ≥ its own make a member enter v and time out there too. A node that hears a timeout
 *   for an older view replies with a `sync` carrying its highest QC and last TC.
 * Safety sketch: honest members vote at most once per view, so each view has at most one certified block.
 * If B0 commits via B0←B1 (views v, v+1, QC for B1), each of the q voters of B1 had processed B1's
 * justify, QC(B0), before voting, so holds lockedView ≥ v from then on. Any QC for a view w > v+1
 * includes one of them, so its block's justify has view ≥ v: it certifies B0 (the one certified block
 * of view v) or, by induction over views, a block extending B0. Hence no conflicting block commits.
 * Liveness: a member refusing a proposal below its lock sends its highest QC to the next leader, and
 * every timeout carries the sender's highest QC, so after GST the next honest leader extends a QC no
 * honest lock is above (at worst one view after a TC formed without the highest lock's timeout).
 * State is linear: step consumes the state it is given (it may mutate it) and returns the next one.
 */
import { sha256Hex } from './encoding.js';
import { VerifyCache, type Signer } from './crypto.js';
import {
  blockHash,
  genesisBlock,
  makeQC,
  qcError,
  tcError,
  timeoutSigningBytes,
  signVote,
  verifyContext,
  verifyVoteSignature,
  type VerifyContext,
} from './certificate.js';
import {
  quorumSize,
  type Block,
  type BlockHeader,
  type CommitProof,
  type ConsensusAction,
  type ConsensusEvent,
  type Message,
  type ProposalMsg,
  type QC,
  type SafetyState,
  type SignedVote,
  type TC,
  type TimeoutMsg,
} from './types.js';

export interface ConsensusConfig {
  /** Network id, e.g. 'topvpn-devnet'. */
  readonly chainId: string;
  /** Committee chain, 'beacon' or 'shard-<i>'. */
  readonly chain: string;
  /** Committee members (hex public keys), in leader-rotation order. */
  readonly members: readonly string[];
  /** This node's key; omit (or use a non-member key) to follow the chain without voting. */
  readonly signer?: Signer;
  /** Identifies the genesis block (e.g. the genesis state root). */
  readonly genesisId: string;
  /** First view timeout; doubles on every consecutive local timeout. Default 1000 ms. */
  readonly baseTimeoutMs?: number;
  /** Cap on the view timeout. Default 30000 ms. */
  readonly maxTimeoutMs?: number;
  /** The leader waits this long after entering its view before asking for a payload. Default 0. */
  readonly blockIntervalMs?: number;
  /**
   * Extra time (ms) added to a view's timeout, given the view's justify QC (highQC on entry):
   * the time its leader may pause before proposing an empty block when the chain is idle
   * (chain/node/block-producer.ts). A replica's timer only decides when it gives up on the
   * leader, so nodes need not agree on it. Default none.
   */
  readonly idleGraceMs?: (justify: QC) => number;
  /** Votes/timeouts/proposals more than this many views ahead are rejected. Default 1000. */
  readonly viewWindow?: number;
  /** Committed blocks kept in memory to serve peers' block requests. Default 256. */
  readonly retainCommitted?: number;
  /** Leader of a view; default members[view mod n]. Must be deterministic and the same on all nodes. */
  readonly leaderOf?: (view: number) => string;
  /**
   * Resume from a committed block (after a restart, or as the anchor of a new committee's period):
   * the last committed block, the QC that certified it, and the persisted safety state. The
   * anchor's QC may be signed by a previous committee: a QC for exactly the anchor block
   * (same height, view and hash) is accepted without checking its signers, since the anchor is
   * already committed here.
   */
  readonly restore?: { readonly committed: Block; readonly committedQC: QC; readonly safety: SafetyState };
  /**
   * First view of this committee's period (default 1). The core starts no lower, and the
   * period's first block may sit at exactly this view justified by the anchor's QC (the view
   * jump replaces the usual "justify.view + 1 or a TC" rule once, at the handover).
   */
  readonly firstView?: number;
}

export class SafetyViolationError extends Error {
  override name = 'SafetyViolationError';
}

interface Params {
  readonly baseTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly blockIntervalMs: number;
  readonly viewWindow: number;
  readonly retainCommitted: number;
}

export interface ConsensusState {
  readonly cfg: ConsensusConfig;
  readonly p: Params;
  readonly ctx: VerifyContext;
  readonly n: number;
  readonly quorum: number;
  /** This node's key if it is a member, else null (observer). */
  readonly self: string | null;
  readonly genesis: Block;
  /** The block the core started from (genesis or restore.committed); QCs for it are trusted. */
  readonly anchor: BlockHeader;
  readonly firstView: number;
  started: boolean;
  now: number;
  view: number;
  lastVotedView: number;
  lockedView: number;
  lastTimeoutView: number;
  highQC: QC;
  lastTC: TC | null;
  /** Consecutive local timeouts, drives the backoff; decays by one per view entered by QC. */
  streak: number;
  timerAt: number;
  proposeReadyView: number;
  requestedView: number;
  proposedView: number;
  /** Last view in which this member told the next leader about a lock above a proposal's justify. */
  lockHintView: number;
  /** This member's signed timeout for the current view, kept to resend while the view lasts. */
  ownTimeout: TimeoutMsg | null;
  committed: Block;
  committedQC: QC;
  readonly blocks: Map<string, Block>;
  readonly committedByHeight: Map<number, string>;
  /** Best known QC certifying each uncommitted block. */
  readonly qcs: Map<string, QC>;
  /** First vote seen per view per signer (also used for equivocation detection). */
  readonly votes: Map<number, Map<string, SignedVote>>;
  readonly qcFormedViews: Set<number>;
  readonly timeouts: Map<number, Map<string, TimeoutMsg>>;
  /** First valid proposal per view. */
  readonly candidates: Map<number, string>;
  readonly awaitingValidation: Map<string, number>;
  readonly invalid: Set<string>;
  /** Requested block hashes → peer asked (null: broadcast) and the view of the last request. */
  readonly wanted: Map<string, { readonly peer: string | null; readonly view: number }>;
  readonly evidenceKeys: Set<string>;
  readonly cache: VerifyCache;
}

export interface StepResult {
  readonly state: ConsensusState;
  readonly actions: ConsensusAction[];
}

export function createConsensus(cfg: ConsensusConfig): ConsensusState {
  if (cfg.members.length < 1) throw new RangeError('empty committee');
  if (new Set(cfg.members).size !== cfg.members.length) throw new RangeError('duplicate committee member');
  const genesis = genesisBlock(cfg, cfg.genesisId);
  const cache = new VerifyCache();
  const ctx = verifyContext(cfg, cfg.members, genesis.hash, cache);
  const self = cfg.signer && ctx.members.has(cfg.signer.publicKey) ? cfg.signer.publicKey : null;
  const r = cfg.restore;
  const committed = r ? r.committed : genesis;
  const committedQC = r ? r.committedQC : genesis.justify;
  const s: ConsensusState = {
    cfg,
    p: {
      baseTimeoutMs: cfg.baseTimeoutMs ?? 1000,
      maxTimeoutMs: cfg.maxTimeoutMs ?? 30_000,
      blockIntervalMs: cfg.blockIntervalMs ?? 0,
      viewWindow: cfg.viewWindow ?? 1000,
      retainCommitted: cfg.retainCommitted ?? 256,
    },
    ctx,
    n: cfg.members.length,
    quorum: quorumSize(cfg.members.length),
    self,
    genesis,
    anchor: headerOf(committed),
    firstView: Math.max(1, cfg.firstView ?? 1),
    started: false,
    now: 0,
    view: 0,
    lastVotedView: r ? r.safety.lastVotedView : 0,
    lockedView: r ? r.safety.lockedView : 0,
    lastTimeoutView: r ? r.safety.lastTimeoutView : 0,
    highQC: r && r.safety.highQC.view >= committedQC.view ? r.safety.highQC : committedQC,
    lastTC: null,
    streak: 0,
    timerAt: 0,
    proposeReadyView: 0,
    requestedView: 0,
    proposedView: 0,
    lockHintView: 0,
    ownTimeout: null,
    committed,
    committedQC,
    // The stored certified chain above our committed block (SafetyState.certified): after a
    // restart of the whole group these may be the only copies of the blocks highQC stands on.
    blocks: new Map([[committed.hash, committed], ...(r?.safety.certified ?? []).filter((b) => b.height > committed.height).map((b) => [b.hash, b] as const)]),
    committedByHeight: new Map([[committed.height, committed.hash]]),
    qcs: new Map(),
    votes: new Map(),
    qcFormedViews: new Set(),
    timeouts: new Map(),
    candidates: new Map(),
    awaitingValidation: new Map(),
    invalid: new Set(),
    wanted: new Map(),
    evidenceKeys: new Set(),
    cache,
  };
  return s;
}

// ---- read-only helpers for the driver ----

export function leaderOf(s: ConsensusState, view: number): string {
  return s.cfg.leaderOf ? s.cfg.leaderOf(view) : (s.cfg.members[view % s.n] as string);
}
/**
 * The view this member leads and has not asked a payload for yet because the block interval has
 * not elapsed (the app may cut the wait short with a 'propose' timer event for it), or null.
 */
export function waitingToPropose(s: ConsensusState): number | null {
  const v = s.view;
  if (s.self === null || !s.started || leaderOf(s, v) !== s.self) return null;
  if (s.p.blockIntervalMs <= 0 || s.proposeReadyView >= v || s.requestedView >= v || s.proposedView >= v) return null;
  return v;
}
export function getSafetyState(s: ConsensusState): SafetyState {
  const certified: Block[] = [];
  for (let b = s.blocks.get(s.highQC.blockHash); b && b.height > s.committed.height; b = s.blocks.get(b.parentHash)) certified.push(b);
  certified.reverse();
  return { lastVotedView: s.lastVotedView, lockedView: s.lockedView, highQC: s.highQC, lastTimeoutView: s.lastTimeoutView, ...(certified.length > 0 ? { certified } : {}) };
}
export function lookupBlock(s: ConsensusState, hash: string): Block | undefined {
  return s.blocks.get(hash);
}
export function headerOf(b: BlockHeader): BlockHeader {
  return { chainId: b.chainId, chain: b.chain, height: b.height, view: b.view, parentHash: b.parentHash, justify: b.justify, proposer: b.proposer, payloadHash: b.payloadHash, hash: b.hash };
}

// ---- the transition ----

type Out = ConsensusAction[];

export function step(s: ConsensusState, ev: ConsensusEvent): StepResult {
  const out: Out = [];
  if (ev.now > s.now) s.now = ev.now;
  switch (ev.type) {
    case 'start':
      if (!s.started) {
        processQC(s, s.highQC, null, out);
        s.started = true;
        enterView(s, Math.max(s.highQC.view, s.lastVotedView, s.lastTimeoutView, s.firstView - 1) + 1, 'start', out);
        progress(s, out);
      }
      break;
    case 'message':
      if (s.started) onMessage(s, ev.from, ev.msg, out);
      break;
    case 'timer':
      if (ev.kind === 'timeout') onTimer(s, ev.view, out);
      else if (ev.view === s.view) {
        s.proposeReadyView = Math.max(s.proposeReadyView, ev.view);
        progress(s, out);
      }
      break;
    case 'payloadReady':
      onPayload(s, ev.view, ev.parentHash, ev.payload, out);
      break;
    case 'validated':
      onValidated(s, ev.blockHash, ev.valid, out);
      break;
    case 'tick':
      break;
  }
  return { state: s, actions: out };
}

function reject(out: Out, from: string, msgType: string, reason: string): void {
  out.push({ type: 'reject', from, msgType, reason });
}

function timeoutDuration(s: ConsensusState): number {
  return Math.min(s.p.baseTimeoutMs * 2 ** Math.min(s.streak, 30), s.p.maxTimeoutMs);
}

/** Arms the view timer; on entering a view (`entering`) the leader's idle pause is added (cfg.idleGraceMs). */
function scheduleTimeout(s: ConsensusState, out: Out, entering = false): void {
  const grace = entering ? Math.max(0, s.cfg.idleGraceMs?.(s.highQC) ?? 0) : 0;
  armTimer(s, out, timeoutDuration(s) + grace);
}

/** The view timer fires `delayMs` from now (an earlier arming of it is void). */
function armTimer(s: ConsensusState, out: Out, delayMs: number): void {
  s.timerAt = s.now + delayMs;
  out.push({ type: 'schedule', at: s.timerAt, kind: 'timeout', view: s.view });
}

function enterView(s: ConsensusState, v: number, via: 'qc' | 'tc' | 'start' | 'timeouts', out: Out): void {
  if (v <= s.view) return;
  s.view = v;
  if (via === 'qc') s.streak = Math.max(0, s.streak - 1);
  out.push({ type: 'enterView', view: v, leader: leaderOf(s, v), via });
  scheduleTimeout(s, out, true);
  for (const m of [s.votes, s.timeouts, s.candidates]) for (const k of m.keys()) if (k < v - 2) m.delete(k);
  for (const k of s.qcFormedViews) if (k < v - 2) s.qcFormedViews.delete(k);
  if (s.self !== null && leaderOf(s, v) === s.self && s.p.blockIntervalMs > 0) {
    out.push({ type: 'schedule', at: s.now + s.p.blockIntervalMs, kind: 'propose', view: v });
  }
}

/** Re-evaluate everything that may have become possible: commits, proposing, voting. */
function progress(s: ConsensusState, out: Out): void {
  for (const [h, qc] of s.qcs) {
    const b = s.blocks.get(h);
    if (b) tryCommit(s, b, qc, out);
  }
  maybePropose(s, out);
  const cand = s.candidates.get(s.view);
  if (cand !== undefined) tryVote(s, cand, out);
}

/**
 * Asks for a missing block: first from the peer that referred to it, then (at most once per view, while
 * it is still missing) from everyone, so a peer that never answers cannot starve a node whose views
 * advance by QC before its own timer would retry.
 */
function fetchBlock(s: ConsensusState, hash: string, from: string | null, out: Out): void {
  if (s.blocks.has(hash)) return;
  const prev = s.wanted.get(hash);
  if (prev !== undefined && prev.view >= s.view) return;
  const peer = prev === undefined && from !== null && from !== s.self ? from : null;
  s.wanted.set(hash, { peer, view: s.view });
  const msg: Message = { type: 'blockRequest', hash };
  out.push(peer !== null ? { type: 'send', to: peer, msg } : { type: 'broadcast', msg });
}

/** Walks from `hash` to the committed block: 'ok', 'conflict', or the first missing hash. */
function ancestry(s: ConsensusState, hash: string): { kind: 'ok' } | { kind: 'conflict' } | { kind: 'missing'; hash: string } {
  let h = hash;
  for (;;) {
    if (h === s.committed.hash) return { kind: 'ok' };
    const b = s.blocks.get(h);
    if (!b) return { kind: 'missing', hash: h };
    if (b.height <= s.committed.height) return { kind: 'conflict' };
    h = b.parentHash;
  }
}

function addBlock(s: ConsensusState, b: Block): void {
  if (s.blocks.has(b.hash)) return;
  s.blocks.set(b.hash, b);
  noteQC(s, b.justify);
}

function noteQC(s: ConsensusState, qc: QC): void {
  if (qc.height <= s.committed.height) return;
  const prev = s.qcs.get(qc.blockHash);
  if (!prev || prev.view < qc.view) s.qcs.set(qc.blockHash, qc);
}

/** A verified QC: update highQC, lock, commit, and move to view qc.view+1. */
function processQC(s: ConsensusState, qc: QC, from: string | null, out: Out): void {
  if (qc.view > s.highQC.view) s.highQC = qc;
  if (qc.view > s.lockedView) s.lockedView = qc.view;
  if (qc.view > 0 && qc.view + 2 >= s.view && !s.qcFormedViews.has(qc.view)) {
    // Each share is a signed vote: remembering them exposes members who signed another block in this view.
    s.qcFormedViews.add(qc.view);
    for (const sh of qc.votes) {
      const vote = { chainId: s.cfg.chainId, chain: s.cfg.chain, height: qc.height, view: qc.view, blockHash: qc.blockHash };
      recordVote(s, { vote, signer: sh.signer, signature: sh.signature }, out);
    }
  }
  noteQC(s, qc);
  const b = s.blocks.get(qc.blockHash);
  if (b) tryCommit(s, b, qc, out);
  else if (qc.height > s.committed.height) fetchBlock(s, qc.blockHash, from, out);
  if (qc.view >= s.view && s.started) enterView(s, qc.view + 1, 'qc', out);
}

function processTC(s: ConsensusState, tc: TC, out: Out): void {
  if (!s.lastTC || tc.view > s.lastTC.view) s.lastTC = tc;
  if (tc.view >= s.view && s.started) enterView(s, tc.view + 1, 'tc', out);
}

/** `qc` certifies `b1`: if b1's parent b0 has the view just before b1's, b0 and its ancestors commit. */
function tryCommit(s: ConsensusState, b1: Block, qc: QC, out: Out): void {
  const b0 = s.blocks.get(b1.parentHash);
  if (!b0 || b0.view + 1 !== b1.view) return;
  if (b0.height <= s.committed.height) {
    if (s.committedByHeight.has(b0.height) && s.committedByHeight.get(b0.height) !== b0.hash) {
      throw new SafetyViolationError(`conflicting commit at height ${b0.height}`);
    }
    return;
  }
  const chain: Block[] = [];
  let cur: Block | undefined = b0;
  while (cur && cur.hash !== s.committed.hash) {
    if (cur.height <= s.committed.height) throw new SafetyViolationError(`commit of ${b0.hash} does not extend the committed chain`);
    chain.push(cur);
    cur = s.blocks.get(cur.parentHash);
  }
  if (!cur) {
    const last = chain[chain.length - 1] as Block;
    fetchBlock(s, last.parentHash, null, out);
    return;
  }
  chain.reverse();
  const proof: CommitProof = { chain: [headerOf(b1)], qc };
  for (let i = 0; i < chain.length; i++) {
    const blk = chain[i] as Block;
    const certifying = i + 1 < chain.length ? (chain[i + 1] as Block).justify : b1.justify;
    out.push({ type: 'commit', block: blk, qc: certifying, proof });
    s.committed = blk;
    s.committedQC = certifying;
    s.committedByHeight.set(blk.height, blk.hash);
  }
  prune(s);
}

function prune(s: ConsensusState): void {
  const h = s.committed.height;
  for (const k of s.committedByHeight.keys()) if (k < h - s.p.retainCommitted) s.committedByHeight.delete(k);
  for (const [hash, b] of s.blocks) {
    if (b.height <= h && s.committedByHeight.get(b.height) !== hash) s.blocks.delete(hash);
  }
  for (const [hash, qc] of s.qcs) if (qc.height <= h) s.qcs.delete(hash);
  for (const hash of s.wanted.keys()) if (s.blocks.has(hash)) s.wanted.delete(hash);
  for (const hash of s.wanted.keys()) if (s.wanted.size > 64) s.wanted.delete(hash);
  if (s.evidenceKeys.size > 10_000) s.evidenceKeys.clear();
  for (const [hash, v] of s.awaitingValidation) if (v < s.view - 2) s.awaitingValidation.delete(hash);
  if (s.invalid.size > 1024) s.invalid.clear();
}

function maybePropose(s: ConsensusState, out: Out): void {
  const v = s.view;
  if (s.self === null || leaderOf(s, v) !== s.self || s.requestedView >= v || s.proposedView >= v) return;
  if (s.p.blockIntervalMs > 0 && s.proposeReadyView < v) return;
  if (v <= s.lastVotedView || v <= s.lastTimeoutView) return;
  const parent = s.blocks.get(s.highQC.blockHash);
  if (!parent) {
    fetchBlock(s, s.highQC.blockHash, null, out);
    return;
  }
  if (ancestry(s, parent.hash).kind !== 'ok') return;
  s.requestedView = v;
  out.push({ type: 'requestPayload', view: v, height: parent.height + 1, parent: headerOf(parent) });
}

function onPayload(s: ConsensusState, view: number, parentHash: string, payload: Uint8Array, out: Out): void {
  if (view !== s.view || s.self === null || s.proposedView >= view || view <= s.lastVotedView || view <= s.lastTimeoutView) return;
  const signer = s.cfg.signer as Signer;
  const parent = s.blocks.get(parentHash);
  if (!parent || parentHash !== s.highQC.blockHash) {
    // The highest QC moved while the app was building: ask again on top of the new one.
    s.requestedView = 0;
    maybePropose(s, out);
    return;
  }
  const header = {
    chainId: s.cfg.chainId,
    chain: s.cfg.chain,
    height: parent.height + 1,
    view,
    parentHash,
    justify: s.highQC,
    proposer: s.self,
    payloadHash: sha256Hex(payload),
  };
  const block: Block = { ...header, hash: blockHash(header), payload };
  const vote = signVote(signer, { chainId: block.chainId, chain: block.chain, height: block.height, view, blockHash: block.hash });
  s.proposedView = view;
  s.lastVotedView = view;
  addBlock(s, block);
  s.candidates.set(view, block.hash);
  recordVote(s, vote, out);
  const tc = s.lastTC && s.lastTC.view === view - 1 && s.highQC.view < view - 1 ? s.lastTC : undefined;
  out.push({ type: 'persist', safety: getSafetyState(s) });
  out.push({ type: 'broadcast', msg: { type: 'proposal', block, signature: vote.signature, ...(tc ? { tc } : {}) } });
  countVotes(s, view, block.hash, out);
}

function tryVote(s: ConsensusState, hash: string, out: Out): void {
  const b = s.blocks.get(hash);
  if (!b || s.self === null) return;
  if (b.view === s.view && b.justify.view < s.lockedView && s.lockHintView < b.view) {
    // The leader built below our lock (it missed our highest QC): hand it to the next leader.
    s.lockHintView = b.view;
    const next = leaderOf(s, b.view + 1);
    if (next !== s.self) out.push({ type: 'send', to: next, msg: { type: 'sync', highQC: s.highQC, ...(s.lastTC ? { tc: s.lastTC } : {}) } });
  }
  if (b.view !== s.view || b.view <= s.lastVotedView || b.view <= s.lastTimeoutView || b.justify.view < s.lockedView) return;
  if (s.invalid.has(hash) || s.awaitingValidation.has(hash)) return;
  const anc = ancestry(s, b.parentHash);
  if (anc.kind === 'missing') {
    fetchBlock(s, anc.hash, s.wanted.get(hash)?.peer ?? b.proposer, out);
    return;
  }
  if (anc.kind === 'conflict') return;
  s.awaitingValidation.set(hash, b.view);
  out.push({ type: 'requestValidation', block: b });
}

function onValidated(s: ConsensusState, hash: string, valid: boolean, out: Out): void {
  if (!s.awaitingValidation.has(hash)) return;
  s.awaitingValidation.delete(hash);
  const b = s.blocks.get(hash);
  if (!b) return;
  if (!valid) {
    s.invalid.add(hash);
    reject(out, b.proposer, 'proposal', 'payload rejected by application');
    return;
  }
  if (s.self === null || b.view !== s.view || b.view <= s.lastVotedView || b.view <= s.lastTimeoutView || b.justify.view < s.lockedView) return;
  const vote = signVote(s.cfg.signer as Signer, { chainId: b.chainId, chain: b.chain, height: b.height, view: b.view, blockHash: b.hash });
  s.lastVotedView = b.view;
  out.push({ type: 'persist', safety: getSafetyState(s) });
  out.push({ type: 'broadcast', msg: { type: 'vote', vote } });
  recordVote(s, vote, out);
  countVotes(s, b.view, b.hash, out);
}

/** Remembers the first vote per (view, signer); a conflicting second one yields evidence. Returns true if new. */
function recordVote(s: ConsensusState, v: SignedVote, out: Out): boolean {
  let m = s.votes.get(v.vote.view);
  if (!m) s.votes.set(v.vote.view, (m = new Map()));
  const first = m.get(v.signer);
  if (!first) {
    m.set(v.signer, v);
    return true;
  }
  if (first.vote.blockHash !== v.vote.blockHash) {
    const key = `${v.signer}:${v.vote.view}`;
    if (!s.evidenceKeys.has(key)) {
      s.evidenceKeys.add(key);
      if (first.vote.height === v.vote.height) out.push({ type: 'evidence', evidence: { a: first, b: v } });
      else reject(out, v.signer, 'vote', `conflicting votes at view ${v.vote.view} for different heights`);
    }
  }
  return false;
}

function countVotes(s: ConsensusState, view: number, hash: string, out: Out): void {
  if (s.qcFormedViews.has(view)) return;
  const m = s.votes.get(view);
  if (!m) return;
  const forBlock: SignedVote[] = [];
  for (const v of m.values()) if (v.vote.blockHash === hash) forBlock.push(v);
  if (forBlock.length < s.quorum) return;
  s.qcFormedViews.add(view);
  processQC(s, makeQC(forBlock), null, out);
  progress(s, out);
}

function onTimer(s: ConsensusState, view: number, out: Out): void {
  // Real timers may fire a little early relative to the event clock: tolerate a small slack.
  const slack = Math.min(50, Math.floor(s.p.baseTimeoutMs / 10));
  if (view !== s.view || s.now + slack < s.timerAt) return;
  const own = s.ownTimeout;
  if (own !== null && own.view === view) {
    // Still stuck in a view this member gave up on: its timeout may have been lost, so resend it
    // (with the current highQC, which the signature does not cover) every base timeout. The backoff
    // grows once per view given up, not per resend.
    armTimer(s, out, s.p.baseTimeoutMs);
    out.push({ type: 'broadcast', msg: { ...own, highQC: s.highQC } });
  } else localTimeout(s, out);
  // Retry outstanding block fetches from everyone.
  for (const hash of s.wanted.keys()) {
    if (s.blocks.has(hash)) s.wanted.delete(hash);
    else out.push({ type: 'broadcast', msg: { type: 'blockRequest', hash } });
  }
}

/** Gives up on the current view: backoff grows, and a member signs and broadcasts its timeout, resent every base timeout until the view ends. */
function localTimeout(s: ConsensusState, out: Out): void {
  s.streak++;
  if (s.self === null) {
    scheduleTimeout(s, out);
    return;
  }
  const view = s.view;
  armTimer(s, out, s.p.baseTimeoutMs);
  if (s.lastTimeoutView < view) s.lastTimeoutView = view;
  const msg: TimeoutMsg = { type: 'timeout', view, signer: s.self, signature: (s.cfg.signer as Signer).sign(timeoutSigningBytes(s.ctx, view)), highQC: s.highQC };
  s.ownTimeout = msg;
  out.push({ type: 'persist', safety: getSafetyState(s) });
  out.push({ type: 'broadcast', msg });
  addTimeout(s, msg, out);
}

function addTimeout(s: ConsensusState, m: TimeoutMsg, out: Out): void {
  let map = s.timeouts.get(m.view);
  if (!map) s.timeouts.set(m.view, (map = new Map()));
  if (map.has(m.signer)) return;
  map.set(m.signer, m);
  if (m.view < s.view) return;
  if (map.size >= s.quorum) {
    const timeouts = [...map.values()].map((t) => ({ signer: t.signer, signature: t.signature })).sort((a, b) => (a.signer < b.signer ? -1 : 1));
    processTC(s, { view: m.view, timeouts }, out);
    progress(s, out);
  } else if (map.size >= s.n - s.quorum + 1 && s.self !== null && s.lastTimeoutView < m.view) {
    // f+1 members gave up on view m.view ≥ ours: at least one honest did, so join rather than
    // wait, entering that view first if it is ahead. Without the jump, members that resumed in
    // different views (restarts after the group lost its quorum) would each wait for a TC of
    // their own view that the others, past it, never sign.
    enterView(s, m.view, 'timeouts', out);
    localTimeout(s, out);
  }
}

function oldView(s: ConsensusState, view: number): boolean {
  return view + 1 < s.view;
}

function onMessage(s: ConsensusState, from: string, msg: Message, out: Out): void {
  switch (msg.type) {
    case 'proposal':
      return onProposal(s, from, msg, out);
    case 'vote': {
      const v = msg.vote;
      if (v.vote.chainId !== s.cfg.chainId || v.vote.chain !== s.cfg.chain) return reject(out, from, 'vote', 'wrong chain id');
      if (!s.ctx.members.has(v.signer)) return reject(out, from, 'vote', 'signer not a member');
      if (oldView(s, v.vote.view)) return reject(out, from, 'vote', 'old view');
      if (v.vote.view > s.view + s.p.viewWindow) return reject(out, from, 'vote', 'view too far ahead');
      if (v.vote.height < 1 || v.vote.view < 1) return reject(out, from, 'vote', 'bad height or view');
      if (!verifyVoteSignature(v, s.cache)) return reject(out, from, 'vote', 'bad signature');
      if (recordVote(s, v, out)) countVotes(s, v.vote.view, v.vote.blockHash, out);
      return;
    }
    case 'timeout': {
      if (!s.ctx.members.has(msg.signer)) return reject(out, from, 'timeout', 'signer not a member');
      if (msg.view < s.view) {
        // The sender is behind: help it catch up (QC and TC authenticate themselves).
        if (from !== s.self) out.push({ type: 'send', to: from, msg: { type: 'sync', highQC: s.highQC, ...(s.lastTC ? { tc: s.lastTC } : {}) } });
        return;
      }
      if (msg.view > s.view + s.p.viewWindow) return reject(out, from, 'timeout', 'view too far ahead');
      if (s.timeouts.get(msg.view)?.has(msg.signer)) return;
      if (!s.cache.verify(msg.signer, timeoutSigningBytes(s.ctx, msg.view), msg.signature)) return reject(out, from, 'timeout', 'bad signature');
      if (msg.highQC.view >= msg.view) return reject(out, from, 'timeout', 'highQC not below timeout view');
      const qe = qcCheck(s, msg.highQC);
      if (qe) return reject(out, from, 'timeout', `bad QC: ${qe}`);
      processQC(s, msg.highQC, from, out);
      addTimeout(s, msg, out);
      progress(s, out);
      return;
    }
    case 'sync': {
      const qe = qcCheck(s, msg.highQC);
      if (qe) return reject(out, from, 'sync', `bad QC: ${qe}`);
      if (msg.tc) {
        const te = tcError(msg.tc, s.ctx);
        if (te) return reject(out, from, 'sync', `bad TC: ${te}`);
      }
      processQC(s, msg.highQC, from, out);
      if (msg.tc) processTC(s, msg.tc, out);
      progress(s, out);
      return;
    }
    case 'blockRequest': {
      const b = s.blocks.get(msg.hash);
      if (b && b.height > 0) out.push({ type: 'send', to: from, msg: { type: 'blockResponse', block: b } });
      return;
    }
    case 'blockResponse': {
      const b = msg.block;
      if (s.blocks.has(b.hash)) return;
      if (!s.wanted.has(b.hash)) return reject(out, from, 'blockResponse', 'unsolicited block');
      if (b.height <= s.committed.height) {
        s.wanted.delete(b.hash);
        return;
      }
      const err = blockError(s, b);
      if (err) return reject(out, from, 'blockResponse', err);
      s.wanted.delete(b.hash);
      addBlock(s, b);
      processQC(s, b.justify, from, out);
      if (b.height - 1 > s.committed.height) fetchBlock(s, b.parentHash, from, out);
      progress(s, out);
      return;
    }
  }
}

/** The anchor's QC is accepted as is (the anchor is committed); any other QC must be signed by this committee. */
function qcCheck(s: ConsensusState, qc: QC): string | null {
  const a = s.anchor;
  if (a.height > 0 && qc.blockHash === a.hash && qc.height === a.height && qc.view === a.view) return null;
  return qcError(qc, s.ctx);
}

/** The period's first block: at exactly firstView, on the anchor. */
function opensPeriod(s: ConsensusState, b: BlockHeader): boolean {
  return s.firstView > 1 && b.view === s.firstView && b.justify.blockHash === s.anchor.hash && b.height === s.anchor.height + 1;
}

/** Structural and cryptographic checks shared by proposals and fetched blocks (not the proposer's signature). */
function blockError(s: ConsensusState, b: Block): string | null {
  if (b.chainId !== s.cfg.chainId || b.chain !== s.cfg.chain) return 'wrong chain id';
  if (b.view < 1 || b.height < 1) return 'bad height or view';
  if (b.proposer !== leaderOf(s, b.view)) return 'proposer is not the leader of the view';
  if (blockHash(b) !== b.hash) return 'bad block hash';
  if (sha256Hex(b.payload) !== b.payloadHash) return 'bad payload hash';
  const j = b.justify;
  if (j.blockHash !== b.parentHash || j.height + 1 !== b.height || j.view >= b.view) return 'justify does not certify the parent';
  const qe = qcCheck(s, j);
  return qe ? `bad QC: ${qe}` : null;
}

function onProposal(s: ConsensusState, from: string, m: ProposalMsg, out: Out): void {
  const b = m.block;
  if (b.chainId !== s.cfg.chainId || b.chain !== s.cfg.chain) return reject(out, from, 'proposal', 'wrong chain id');
  if (!s.ctx.members.has(b.proposer)) return reject(out, from, 'proposal', 'proposer not a member');
  if (b.height <= s.committed.height || oldView(s, b.view)) return reject(out, from, 'proposal', 'old view');
  if (b.view > s.view + s.p.viewWindow) return reject(out, from, 'proposal', 'view too far ahead');
  const vote: SignedVote = { vote: { chainId: b.chainId, chain: b.chain, height: b.height, view: b.view, blockHash: b.hash }, signer: b.proposer, signature: m.signature };
  if (s.blocks.has(b.hash)) return;
  const err = blockError(s, b);
  if (err) return reject(out, from, 'proposal', err);
  if (!verifyVoteSignature(vote, s.cache)) return reject(out, from, 'proposal', 'bad signature');
  if (b.justify.view + 1 !== b.view && !m.tc && !opensPeriod(s, b)) return reject(out, from, 'proposal', 'view not justified by a QC or TC of the previous view');
  if (m.tc) {
    if (m.tc.view + 1 !== b.view) return reject(out, from, 'proposal', 'TC not for the previous view');
    const te = tcError(m.tc, s.ctx);
    if (te) return reject(out, from, 'proposal', `bad TC: ${te}`);
  }
  const fresh = recordVote(s, vote, out);
  addBlock(s, b);
  if (fresh && !s.candidates.has(b.view)) s.candidates.set(b.view, b.hash);
  processQC(s, b.justify, from, out);
  if (m.tc) processTC(s, m.tc, out);
  if (!s.blocks.has(b.parentHash)) fetchBlock(s, b.parentHash, from, out);
  if (fresh) countVotes(s, b.view, b.hash, out);
  progress(s, out);
}
