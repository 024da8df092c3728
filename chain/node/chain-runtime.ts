/**
 * One chain (beacon or a shard) inside a node process. Every node follows every chain:
 * it applies each committed block (verified by its commit proof), so any node can answer
 * RPC for any account and check the supply over all chains. On top of that:
 * - members of the chain's validator group run the BFT core (chain/consensus/core.ts) and
 *   build/validate payloads by executing them (chain/state applyBlock);
 * - members of its auditor group re-execute each committed block and sign an audit share;
 *   ⌊2n/3⌋+1 shares make the audit certificate; a shard block is final with its validator QC
 *   and its audit certificate (beacon blocks are final on commit);
 * - final outgoing receipts are offered to the destination chain's proposers with the source
 *   block reference and a Merkle path; the destination applies each exactly once.
 * - the groups of every height come from the node's committee schedule (epochs.ts): blocks,
 *   QCs, commit proofs and audit certificates are checked against the group of their height;
 *   at a handover the core of the old group is dropped once the period's last height is
 *   committed and the new group's core starts anchored there (see maybeSwitch).
 * Events are processed one at a time (a serial queue) so the core's actions (persist before
 * send) keep their order.
 */
import type { Logger } from 'pino';
import { createConsensus, getSafetyState, lookupBlock, step, type ConsensusState } from '../consensus/core.js';
import { blockHash, certificateError, genesisBlock, makeCertificate, signCertificateShare, verifyContext, certificateSigningBytes, type Certificate, type VerifyContext } from '../consensus/certificate.js';
import { decodeMessage, encodeMessage } from '../consensus/messages.js';
import type { Signer } from '../consensus/crypto.js';
import { VerifyCache } from '../consensus/crypto.js';
import { quorumSize, type Block, type BlockHeader, type CommitProof, type ConsensusAction, type ConsensusEvent, type QC, type SafetyState } from '../consensus/types.js';
import { applyBlock } from '../state/apply.js';
import { verifyMerkleProof, type MerkleProof } from '../state/merkle.js';
import { merkleProofsAll } from './merkle-batch.js';
import type { ChainParams } from '../state/params.js';
import { receiptHash } from '../state/receipts.js';
import { txHashOf } from '../state/tx.js';
import type { BlockBody, BlockResult, ChainState, CrossReceipt, ReceiptConfirm, SignedTx } from '../state/types.js';
import type { VoteEvidence } from '../state/vote-evidence.js';
import { sha256Hex } from '../consensus/encoding.js';
import { Mempool } from './mempool.js';
import type { Network } from './net.js';
import { decodePayload, encodePayload, type AuditRecord, type BlockRecord, type PayloadV1, type ReceiptRef } from './payload.js';
import { heightKey, type BatchOp, type KvStore } from './store.js';
import { ScheduleError, VIEW_EPOCH_STRIDE, sameMembers, type GroupAt } from './epochs.js';
import { commitProofError, type ExtCommitProof } from './commit-proof.js';
import { isStaleClaim } from './claims.js';
import { ByzantineHooks, type ByzantineOptions } from './test-hooks.js';

/** Payload of a block above the last height of its committee's period (never applied, see commit). */
const TAIL_PAYLOAD = new Uint8Array(0);

export interface RuntimeTiming {
  baseTimeoutMs: number;
  /** Leader waits this long in its view before building a block (batches txs). */
  blockIntervalMs: number;
  /** Extra wait before an empty block when the two before it were empty too (idle chains). */
  idleBlockMs: number;
  maxTxsPerBlock: number;
  maxReceiptsPerBlock: number;
  /** State snapshot every this many blocks (blocks in between are replayed on restart). */
  snapshotEvery: number;
}

export const DEFAULT_TIMING: RuntimeTiming = { baseTimeoutMs: 1500, blockIntervalMs: 150, idleBlockMs: 400, maxTxsPerBlock: 2000, maxReceiptsPerBlock: 2000, snapshotEvery: 20 };

/** Test-only misbehaviour (chain/node/test-hooks.ts); absent unless a test sets it. */
export type { ByzantineOptions } from './test-hooks.js';

/** What a runtime needs from its node (other chains, shared caches, events). */
export interface RuntimeHost {
  readonly chainId: string;
  readonly params: ChainParams;
  readonly self: string;
  readonly signer: Signer;
  readonly net: Network;
  readonly store: KvStore;
  readonly log: Logger;
  readonly allNodes: readonly string[];
  runtime(chain: string): ChainRuntime | undefined;
  /** Committee of a height (epochs.ts); undefined while the beacon election it needs is not final here. */
  groupAt(chain: string, height: number): GroupAt | undefined;
  /** Extra writes stored atomically with a committed block (the beacon's election records). */
  commitOps?(rt: ChainRuntime, block: Block, state: ChainState): BatchOp[];
  /** Verifies a tx signature once per node (cached by hash + signature). */
  verifyTx(stx: SignedTx, hash: string): boolean;
  onCommitted(rt: ChainRuntime, rec: BlockRecord, payload: PayloadV1): void;
  onFinal(rt: ChainRuntime, height: number): void;
  onIncident?(kind: 'view_change' | 'commit_refused' | 'validation' | 'store' | 'sync' | 'internal', chain: string): void;
  /** New double-vote evidence detected by this runtime's core (the node reports it in a `slash` tx). */
  onEvidence?(rt: ChainRuntime, evidence: VoteEvidence): void;
  readonly byzantine?: ByzantineOptions;
}

interface ExecEntry {
  readonly payloadHash: string;
  readonly payload: PayloadV1;
  readonly result: BlockResult;
  readonly height: number;
}

export type { ExtCommitProof } from './commit-proof.js';

function headerOnly(b: Block): BlockHeader {
  return { chainId: b.chainId, chain: b.chain, height: b.height, view: b.view, parentHash: b.parentHash, justify: b.justify, proposer: b.proposer, payloadHash: b.payloadHash, hash: b.hash };
}

/** View a consensus message belongs to (undefined for block requests/responses). */
function messageView(m: ReturnType<typeof decodeMessage>): number | undefined {
  switch (m.type) {
    case 'proposal':
      return m.block.view;
    case 'vote':
      return m.vote.vote.view;
    case 'timeout':
      return m.view;
    case 'sync':
      return m.tc?.view ?? m.highQC.view;
    default:
      return undefined;
  }
}

/** txHash memoized per decoded tx object (shared with chain/state's applyBlock). */
export function hashOf(stx: SignedTx): string {
  return txHashOf(stx);
}

type QueueItem = { kind: 'event'; ev: ConsensusEvent } | { kind: 'fn'; fn: () => Promise<void> | void };

export class ChainRuntime {
  readonly chain: string;
  readonly mempool = new Mempool<SignedTx>();
  readonly timing: RuntimeTiming;

  /** Committed state and tip. */
  state: ChainState;
  tipHash: string;
  tipBlock: Block;
  tipQC: QC;
  /** Highest height h such that every block ≤ h is final. */
  finalHeight = 0;
  /** Inbox of this chain as of finalHeight (what other chains may confirm). */
  finalInbox: Record<string, number> = {};
  /** Highest height seen announced by peers (drives sync). */
  knownHeight = 0;

  private readonly genesis: Block;
  /** Committee of the next height (height + 1), the last one known. */
  private group: GroupAt;
  /** Committee the running core (if any) belongs to. */
  private coreGroup?: GroupAt;
  private readonly vctxs = new Map<string, VerifyContext>();
  /** Consensus messages for a period whose core is not running here yet (replayed when it starts). */
  private readonly stash: Array<{ from: string; msg: ReturnType<typeof decodeMessage> }> = [];
  private core?: ConsensusState;
  private readonly queue: QueueItem[] = [];
  private running = false;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly exec = new Map<string, ExecEntry>(); // payloadHash → result
  private readonly blockPayload = new Map<string, string>(); // blockHash → payloadHash
  private readonly recent = new Map<number, BlockRecord>();
  /** receiptsRoot per recent height (avoids re-decoding payloads for every receipt proof). */
  private readonly receiptsRoots = new Map<number, string>();
  private tipEmpty = true;
  /** Merkle proofs of recent final blocks' outgoing receipts, keyed `${destination}#${id}`. */
  private readonly proofCache = new Map<number, Map<string, MerkleProof>>();
  private readonly audits = new Map<number, AuditRecord>();
  private readonly shares = new Map<number, Map<string, { hash: string; signature: string }>>();
  private readonly pendingCommits = new Map<number, { block: Block; qc: QC; proof: ExtCommitProof }>();
  private readonly verifyCache = new VerifyCache(50_000);
  private syncTimer?: NodeJS.Timeout;
  private lastSyncAt = 0;
  private sinceSnapshot = 0;
  private readonly coreStartAt: number;
  txsCommitted = 0;
  /** Test-only fault injection (chain/node/test-hooks.ts), when the host asks for it. */
  private readonly byz?: ByzantineHooks;
  /** Double-vote evidence this node's core detected (slashing material). */
  readonly evidence: VoteEvidence[] = [];

  constructor(
    private readonly host: RuntimeHost,
    chain: string,
    genesisState: ChainState,
    private readonly genesisId: string,
    timing: Partial<RuntimeTiming> = {},
  ) {
    this.chain = chain;
    const g = host.groupAt(chain, 1);
    if (!g) throw new ScheduleError(`${chain}: no genesis committee`);
    this.group = g;
    this.timing = { ...DEFAULT_TIMING, ...timing };
    this.state = genesisState;
    this.genesis = genesisBlock({ chainId: host.chainId, chain }, genesisId);
    this.tipHash = this.genesis.hash;
    this.tipBlock = this.genesis;
    this.tipQC = this.genesis.justify;
    this.coreStartAt = Date.now();
    if (host.byzantine) this.byz = new ByzantineHooks(host.byzantine, { chain, signer: host.signer, isJailed: () => host.runtime('beacon')?.state.nodes[host.self]?.status === 'jailed', log: (m, f) => host.log.warn(f, m) });
  }

  get height(): number {
    return this.state.height;
  }

  /** Validator group of the next height (the one proposing now). */
  get validators(): readonly string[] {
    return this.group.validators;
  }

  /** Auditor group of the next height. */
  get auditors(): readonly string[] {
    return this.group.auditors;
  }

  get isValidator(): boolean {
    return this.group.validators.includes(this.host.self);
  }

  get isAuditor(): boolean {
    return this.group.auditors.includes(this.host.self);
  }

  /** Epoch of the next height and its committee (RPC). */
  get committee(): GroupAt {
    return this.group;
  }

  /** Committee of a height (see epochs.ts), undefined while its election is not final here. */
  groupAt(height: number): GroupAt | undefined {
    return this.host.groupAt(this.chain, height);
  }

  private vctxOf(g: GroupAt): VerifyContext {
    const key = g.validators.join(',');
    let c = this.vctxs.get(key);
    if (!c) {
      if (this.vctxs.size > 16) this.vctxs.clear();
      c = verifyContext({ chainId: this.host.chainId, chain: this.chain }, g.validators, this.genesis.hash, this.verifyCache);
      this.vctxs.set(key, c);
    }
    return c;
  }

  /** True iff heights of `g` and `h` are run by the same validator group (one consensus period). */
  private samePeriod(g: GroupAt, h: GroupAt): boolean {
    return g.periodStart === h.periodStart && sameMembers(g.validators, h.validators);
  }

  get log(): Logger {
    return this.host.log;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads the last snapshot and replays stored blocks after it. */
  async load(): Promise<void> {
    const snap = await this.host.store.get<{ height: number; state: ChainState }>(`st/${this.chain}`);
    if (snap) this.state = snap.state;
    // Replay committed blocks stored after the snapshot.
    for (let h = this.state.height + 1; ; h++) {
      const rec = await this.host.store.get<BlockRecord>(heightKey('blk', this.chain, h));
      if (!rec) break;
      const payload = decodePayload(rec.block.payload);
      const res = applyBlock(this.state, payload.body, this.host.params);
      if (res.stateRoot !== payload.stateRoot) throw new Error(`${this.chain}: stored block ${h} does not replay to its state root`);
      this.state = res.state;
      // Records written with the block (elections) are rebuilt if the write was lost.
      const extra = this.host.commitOps?.(this, rec.block, res.state) ?? [];
      if (extra.length > 0) await this.host.store.batch(extra);
    }
    const h = this.state.height;
    if (h > 0) {
      const rec = await this.host.store.get<BlockRecord>(heightKey('blk', this.chain, h));
      if (!rec) throw new Error(`${this.chain}: block ${h} missing from store`);
      this.tipBlock = rec.block;
      this.tipHash = rec.block.hash;
      this.tipQC = rec.qc;
      this.recent.set(h, rec);
    }
    // Final height: beacon = committed; shards = contiguous audited heights.
    const fin = await this.host.store.get<{ height: number }>(`fin/${this.chain}`);
    this.finalHeight = this.chain === 'beacon' ? h : Math.min(fin?.height ?? 0, h);
    if (this.finalHeight > 0) {
      const rec = await this.record(this.finalHeight);
      this.finalInbox = { ...(rec?.inbox ?? {}) };
    }
    this.knownHeight = h;
    // The next height's group, or (its election not final here yet) the tip's: maybeSwitch moves on.
    this.group = this.groupAt(h + 1) ?? this.groupAt(h) ?? this.group;
  }

  start(): void {
    this.syncTimer = setInterval(() => this.maybeSync(), 700);
    this.syncTimer.unref();
    this.coreGroup = this.group;
    if (this.isValidator) {
      // Catch up from peers first (bounded wait), then start the core on the latest tip.
      const startCore = (): void => {
        if (this.stopped || this.core) return;
        const behind = this.knownHeight > this.height;
        // Wait (bounded) until a quorum of the group is reachable, so view 1 is not lost to dials.
        const peers = new Set(this.host.net.connectedPeers());
        const reachable = this.validators.filter((v) => v === this.host.self || peers.has(v)).length;
        const waited = Date.now() - this.coreStartAt;
        if ((behind && waited < 8000) || (reachable < quorumSize(this.validators.length) && waited < 5000)) {
          this.later(300, startCore);
          return;
        }
        this.enqueueFn(() => this.startCore());
      };
      this.later(this.height > 0 ? 800 : 50, startCore);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // Let the in-flight queue item finish.
    for (let i = 0; i < 100 && this.running; i++) await new Promise((r) => setTimeout(r, 10));
    await this.snapshot();
  }

  private async snapshot(): Promise<void> {
    await this.host.store.batch([{ type: 'put', key: `st/${this.chain}`, value: { height: this.state.height, state: this.state } }]);
    this.sinceSnapshot = 0;
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, Math.max(0, ms));
    this.timers.add(t);
  }

  /** Where the safety state of a consensus period is kept (period 0 keeps the historic key). */
  private safetyKey(g: GroupAt): string {
    return g.periodStart === 0 ? `cs/${this.chain}` : `cs/${this.chain}/p${g.periodStart}`;
  }

  /**
   * Starts the core of the committee of the next height, anchored at our tip: the tip's QC
   * may be the previous committee's (handover); views start at the period's first view.
   */
  private async startCore(): Promise<void> {
    if (this.core || this.stopped) return;
    const g = this.group;
    if (!g.validators.includes(this.host.self)) return;
    this.coreGroup = g;
    const safety = await this.host.store.get<SafetyState>(this.safetyKey(g));
    const fresh: SafetyState = { lastVotedView: g.periodStart === 0 ? this.tipQC.view : 0, lockedView: 0, highQC: this.tipQC, lastTimeoutView: 0 };
    const restore = this.height > 0 ? { committed: this.tipBlock, committedQC: this.tipQC, safety: safety ?? fresh } : undefined;
    this.core = createConsensus({
      chainId: this.host.chainId,
      chain: this.chain,
      members: g.validators,
      signer: this.host.signer,
      genesisId: this.genesisIdOf(),
      baseTimeoutMs: this.timing.baseTimeoutMs,
      blockIntervalMs: this.timing.blockIntervalMs,
      firstView: g.firstView,
      ...(restore ? { restore } : {}),
    });
    this.log.info({ chain: this.chain, height: this.height, epoch: g.epoch, period: g.periodStart }, 'consensus started');
    await this.runEvent({ type: 'start', now: Date.now() });
    const stashed = this.stash.splice(0);
    for (const m of stashed) await this.runEvent({ type: 'message', now: Date.now(), from: m.from, msg: m.msg });
  }

  /**
   * After the tip moved or an election became known: if the next height belongs to another
   * validator group, the current core stops (this node no longer votes in the old period) and,
   * if this node is in the new group, a new core starts anchored at the tip.
   */
  private maybeSwitch(): void {
    const next = this.groupAt(this.height + 1);
    if (!next) return;
    const prev = this.group;
    this.group = next;
    if (this.coreGroup && this.samePeriod(this.coreGroup, next)) return;
    if (!this.coreGroup && !next.validators.includes(this.host.self)) {
      if (!sameMembers(prev.validators, next.validators)) this.log.info({ chain: this.chain, height: this.height + 1, epoch: next.epoch }, 'committee changed');
      return;
    }
    const wasMember = this.core !== undefined;
    this.core = undefined;
    this.coreGroup = undefined;
    this.exec.clear();
    this.blockPayload.clear();
    this.log.info({ chain: this.chain, height: this.height + 1, epoch: next.epoch, member: next.validators.includes(this.host.self), validators: next.validators.map((v) => v.slice(0, 8)) }, 'committee switch');
    if (next.validators.includes(this.host.self)) {
      this.enqueueFn(() => this.startCore());
    } else if (wasMember && this.mempool.size > 0) {
      // Rotated out: hand the pending txs to the new group.
      const pending = this.mempool.select((a) => this.state.accounts[a]?.nonce ?? 0, this.mempool.size).map((p) => p.tx);
      for (const stx of pending) this.mempool.remove(hashOf(stx));
      for (let i = 0; i < pending.length; i += 500) this.host.net.multicast(next.validators, { k: 'txs', c: this.chain, body: pending.slice(i, i + 500) });
    }
  }

  /** An election became final on the beacon: buffered blocks of its epoch may now apply. */
  onScheduleChanged(): void {
    this.enqueueFn(async () => {
      this.maybeSwitch();
      const next = this.pendingCommits.get(this.height + 1);
      if (next && this.groupAt(this.height + 1)) {
        this.pendingCommits.delete(this.height + 1);
        await this.commit(next.block, next.qc, next.proof, 'peer');
      }
    });
  }

  private genesisIdOf(): string {
    return this.genesisId;
  }

  // ------------------------------------------------------------------ queue

  private enqueueEvent(ev: ConsensusEvent): void {
    this.queue.push({ kind: 'event', ev });
    void this.pump();
  }

  enqueueFn(fn: () => Promise<void> | void): void {
    this.queue.push({ kind: 'fn', fn });
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const item = this.queue.shift()!;
        try {
          if (item.kind === 'event') await this.runEvent(item.ev);
          else await item.fn();
        } catch (e) {
          this.log.error({ chain: this.chain, err: (e as Error).message, stack: (e as Error).stack }, 'chain runtime error');
          this.host.onIncident?.('internal', this.chain);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async runEvent(ev: ConsensusEvent): Promise<void> {
    if (!this.core) return;
    const group = this.coreGroup;
    const r = step(this.core, ev);
    this.core = r.state;
    // A step may commit several blocks with one 3-chain proof (for the last of them); give each
    // earlier block the headers of the committed blocks after it so its proof links too.
    const commits = r.actions.filter((a): a is Extract<ConsensusAction, { type: 'commit' }> => a.type === 'commit');
    const ext = new Map<string, BlockHeader[]>();
    for (let i = 0; i < commits.length; i++) {
      const later = commits.slice(i + 1).filter((c) => c.proof === commits[i]!.proof).map((c) => headerOnly(c.block));
      ext.set(commits[i]!.block.hash, later);
    }
    for (const a of r.actions) {
      if (this.core !== r.state) {
        // The committee switched during this step: the old core only keeps its safety state.
        if (a.type === 'persist' && group) await this.host.store.batch([{ type: 'put', key: this.safetyKey(group), value: a.safety }]);
        continue;
      }
      if (a.type === 'commit') {
        const e = ext.get(a.block.hash) ?? [];
        await this.commit(a.block, a.qc, e.length > 0 ? { ...a.proof, ext: e } : a.proof, 'consensus');
      } else await this.runAction(a, group);
    }
  }

  private async runAction(a: ConsensusAction, group: GroupAt | undefined): Promise<void> {
    switch (a.type) {
      case 'persist':
        if (group) await this.host.store.batch([{ type: 'put', key: this.safetyKey(group), value: a.safety }]);
        return;
      case 'broadcast':
        if (a.msg.type === 'proposal') this.blockPayload.set(a.msg.block.hash, a.msg.block.payloadHash);
        for (const m of this.byz ? this.byz.broadcast(a.msg) : [a.msg]) this.host.net.multicast(group?.validators ?? this.validators, { k: 'cons', c: this.chain, body: encodeMessage(m) });
        return;
      case 'send':
        this.host.net.send(a.to, { k: 'cons', c: this.chain, body: encodeMessage(a.msg) });
        return;
      case 'schedule': {
        const { kind, view } = a;
        this.later(a.at - Date.now(), () => this.enqueueEvent({ type: 'timer', now: Date.now(), kind, view }));
        return;
      }
      case 'requestPayload':
        this.log.debug({ chain: this.chain, view: a.view }, 'build payload');
        await this.buildPayload(a.view, a.parent);
        return;
      case 'requestValidation': {
        const b = a.block;
        this.blockPayload.set(b.hash, b.payloadHash);
        void this.validate(b).then((valid) => this.enqueueEvent({ type: 'validated', now: Date.now(), blockHash: b.hash, valid }));
        return;
      }
      case 'commit':
        await this.commit(a.block, a.qc, a.proof, 'consensus');
        return;
      case 'evidence': {
        // Kept (memory + store) and served over RPC (evidence_list): any funded account can
        // turn it into a `slash` tx on its home shard; the beacon burns the slashed deposit.
        const key = `ev/${this.chain}/${a.evidence.a.signer}/${a.evidence.a.vote.view}`;
        this.log.warn({ chain: this.chain, signer: a.evidence.a.signer.slice(0, 12), view: a.evidence.a.vote.view }, 'equivocation evidence');
        if (this.evidence.length < 1000) this.evidence.push(a.evidence);
        await this.host.store.batch([{ type: 'put', key, value: a.evidence }]);
        this.host.onEvidence?.(this, a.evidence);
        return;
      }
      case 'enterView':
        this.log.debug({ chain: this.chain, view: a.view, via: a.via, leader: a.leader.slice(0, 8) }, 'enter view');
        if (a.via === 'tc') {
          this.log.debug({ chain: this.chain, view: a.view }, 'view entered by timeout certificate');
          this.host.onIncident?.('view_change', this.chain);
        }
        return;
      case 'reject':
        this.log.debug({ chain: this.chain, from: a.from.slice(0, 12), msg: a.msgType, reason: a.reason }, 'consensus rejected message');
        return;
    }
  }

  // ------------------------------------------------------------- messages

  onMessage(from: string, k: string, body: unknown): void {
    if (this.stopped) return;
    switch (k) {
      case 'cons': {
        if (!(body instanceof Uint8Array)) return;
        let msg;
        try {
          msg = decodeMessage(body);
        } catch {
          return;
        }
        // A message of a later period (its core is not running here yet) waits for it.
        const view = messageView(msg);
        const later = view !== undefined && this.coreGroup !== undefined && view >= (this.coreGroup.periodStart + 1) * VIEW_EPOCH_STRIDE;
        if (!this.core || later) {
          if (view !== undefined) {
            this.stash.push({ from, msg });
            if (this.stash.length > 256) this.stash.shift();
          }
          return;
        }
        this.enqueueEvent({ type: 'message', now: Date.now(), from, msg });
        return;
      }
      case 'commit':
        this.onCommitMsg(body as { block: Block; qc: QC; proof: ExtCommitProof });
        return;
      case 'audit':
        this.onAuditShare(body as { height: number; blockHash: string; signer: string; signature: string });
        return;
      case 'sync-req':
        if (this.stopped) return;
        this.onSyncRequest(from, body as { from: number; max: number }).catch((e: unknown) => {
          this.log.debug({ chain: this.chain, err: (e as Error).message }, 'sync request failed');
          this.host.onIncident?.('sync', this.chain);
        });
        return;
      case 'sync-res':
        this.onSyncResponse(body as { records: Array<{ rec: BlockRecord; audit?: AuditRecord }>; tip: number });
        return;
      case 'txs':
        if (this.isValidator && Array.isArray(body)) for (const stx of body as SignedTx[]) this.admitGossiped(stx);
        return;
    }
  }

  // --------------------------------------------------------------- payload

  private parentState(parentHash: string): ChainState | undefined {
    if (parentHash === this.tipHash) return this.state;
    const ph = this.blockPayload.get(parentHash);
    const known = ph ? this.exec.get(ph)?.result.state : undefined;
    return known ?? this.executeAncestors(parentHash);
  }

  /**
   * State after an uncommitted block the core holds but we never executed (e.g. certified
   * without our vote): executes it and its unexecuted ancestors back to our tip. Such blocks are
   * certified (a quorum validated them), so a root mismatch means we diverged: give up.
   */
  private executeAncestors(hash: string, depth = 0): ChainState | undefined {
    if (!this.core || depth > 64) return undefined;
    if (hash === this.tipHash) return this.state;
    const b = lookupBlock(this.core, hash);
    if (!b || b.height <= this.height) return undefined;
    const ph = this.blockPayload.get(hash);
    const done = ph ? this.exec.get(ph) : undefined;
    if (done) return done.result.state;
    const base = this.executeAncestors(b.parentHash, depth + 1);
    if (!base) return undefined;
    try {
      const payload = decodePayload(b.payload);
      const result = applyBlock(base, payload.body, this.host.params);
      if (result.stateRoot !== payload.stateRoot || result.receiptsRoot !== payload.receiptsRoot) return undefined;
      this.blockPayload.set(b.hash, b.payloadHash);
      this.exec.set(b.payloadHash, { payloadHash: b.payloadHash, payload, result, height: b.height });
      return result.state;
    } catch {
      return undefined;
    }
  }

  private bodyEmpty(b: BlockBody): boolean {
    return b.txs.length === 0 && b.receipts.length === 0 && b.confirms.length === 0;
  }

  /** True if the block with this hash carried nothing (unknown blocks count as empty). */
  private blockEmpty(hash: string): boolean {
    if (hash === this.genesis.hash) return true;
    if (hash === this.tipHash) return this.tipEmpty;
    const ph = this.blockPayload.get(hash);
    const e = ph ? this.exec.get(ph) : undefined;
    return e ? this.bodyEmpty(e.payload.body) : true;
  }

  /** How the running core treats height h: its own period, a tail above the period's end, or not known yet. */
  private periodRole(h: number): 'own' | 'tail' | 'wait' {
    const g = this.groupAt(h);
    if (!g) return 'wait';
    return this.coreGroup && this.samePeriod(g, this.coreGroup) ? 'own' : 'tail';
  }

  private async buildPayload(view: number, parent: BlockHeader, retry = false): Promise<void> {
    const role = this.periodRole(parent.height + 1);
    if (role === 'wait') {
      // The election deciding this height's group is not final here yet: try again shortly.
      const core = this.core;
      this.later(200, () => this.enqueueFn(() => (this.core === core && core?.view === view ? this.buildPayload(view, parent, retry) : undefined)));
      return;
    }
    if (role === 'tail') {
      // Above the period's last height: an empty tail block that only helps commit that height.
      await this.runEvent({ type: 'payloadReady', now: Date.now(), view, parentHash: parent.hash, payload: TAIL_PAYLOAD });
      return;
    }
    const base = this.parentState(parent.hash);
    if (!base) {
      this.log.debug({ chain: this.chain, view }, 'no parent state to build on');
      return;
    }
    const height = parent.height + 1;
    // Txs already in uncommitted ancestors (nonce-free claims) are excluded.
    const inFlight = new Set<string>();
    for (const e of this.exec.values()) if (e.height > this.height && e.height <= parent.height) for (const t of e.payload.body.txs) inFlight.add(hashOf(t));
    let picked = this.chain === 'beacon' ? [] : this.mempool.select((a) => base.accounts[a]?.nonce ?? 0, this.timing.maxTxsPerBlock, inFlight);
    if (picked.some((p) => p.nonceFree && isStaleClaim(base, p.tx))) {
      for (const p of picked) if (p.nonceFree && isStaleClaim(base, p.tx)) this.mempool.remove(p.hash);
      picked = picked.filter((p) => this.mempool.has(p.hash));
    }
    const txs = picked.map((p) => p.tx);
    const receipts: CrossReceipt[] = [];
    const refs: ReceiptRef[] = [];
    for (const src of this.otherChains()) {
      const rt = this.host.runtime(src);
      if (!rt) continue;
      const next = (base.inbox[src] ?? 0) + 1;
      for (const { receipt, ref } of rt.finalReceiptsFor(this.chain, next, this.timing.maxReceiptsPerBlock - receipts.length)) {
        receipts.push(receipt);
        refs.push(ref);
      }
    }
    const confirms: ReceiptConfirm[] = [];
    for (const dest of Object.keys(base.outbox).sort()) {
      const rt = this.host.runtime(dest);
      const applied = rt?.finalInbox[this.chain] ?? 0;
      const box = base.outbox[dest]!;
      if (applied > box.confirmedUpTo && applied < box.nextId) confirms.push({ from: dest as ReceiptConfirm['from'], appliedUpTo: applied });
    }
    const body: BlockBody = { chain: this.chain as BlockBody['chain'], height, txs, receipts, confirms };
    if (!retry && this.timing.idleBlockMs > 0 && this.bodyEmpty(body) && this.blockEmpty(parent.hash) && this.blockEmpty(parent.parentHash)) {
      // Idle: wait a little for work before proposing another empty block (still well inside the view timeout).
      this.later(this.timing.idleBlockMs, () => this.enqueueFn(() => this.buildPayload(view, parent, true)));
      return;
    }
    const result = applyBlock(base, body, this.host.params);
    const honest: PayloadV1 = { v: 1, stateRoot: result.stateRoot, receiptsRoot: result.receiptsRoot, body, refs };
    const payload = this.byz ? this.byz.payload(honest) : honest;
    const bytes = encodePayload(payload);
    const ph = sha256Hex(bytes);
    this.exec.set(ph, { payloadHash: ph, payload, result, height });
    await this.runEvent({ type: 'payloadReady', now: Date.now(), view, parentHash: parent.hash, payload: bytes });
  }

  private otherChains(): string[] {
    const out = ['beacon'];
    for (let i = 0; i < this.state.shardCount; i++) out.push(`shard-${i}`);
    return out.filter((c) => c !== this.chain);
  }

  /** Validates a proposed block's payload: signatures, receipt proofs, confirms, and execution roots. */
  private async validate(b: Block): Promise<boolean> {
    try {
      let role = this.periodRole(b.height);
      for (let i = 0; role === 'wait' && i < 40 && !this.stopped; i++) {
        await new Promise((r) => setTimeout(r, 100));
        role = this.periodRole(b.height);
      }
      if (role !== 'own') return role === 'tail' && b.payload.length === 0;
      const payload = decodePayload(b.payload);
      const body = payload.body;
      if (body.chain !== this.chain || body.height !== b.height) return false;
      if (this.chain === 'beacon' && body.txs.length > 0) return false;
      for (const stx of body.txs) {
        const h = hashOf(stx);
        if (!this.host.verifyTx(stx, h)) return false;
      }
      // Receipts and confirms depend on other chains' finality; wait briefly for it.
      for (let i = 0; ; i++) {
        const why = this.crossChainError(payload);
        if (why === null) break;
        if (why !== 'wait' || i >= 40) {
          this.log.debug({ chain: this.chain, height: b.height, why }, 'payload refused');
          this.host.onIncident?.('validation', this.chain);
          return false;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      let base = this.parentState(b.parentHash);
      for (let i = 0; !base && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 50));
        base = this.parentState(b.parentHash);
      }
      if (!base) return false;
      const result = applyBlock(base, body, this.host.params);
      if (result.stateRoot !== payload.stateRoot || result.receiptsRoot !== payload.receiptsRoot) return false;
      this.exec.set(b.payloadHash, { payloadHash: b.payloadHash, payload, result, height: b.height });
      return true;
    } catch (e) {
      this.log.debug({ chain: this.chain, err: (e as Error).message }, 'validation error');
      return false;
    }
  }

  /** null = ok; 'wait' = a referenced source block is not final here yet; else the reason. */
  private crossChainError(p: PayloadV1): string | null {
    for (let i = 0; i < p.body.receipts.length; i++) {
      const r = p.body.receipts[i]!;
      const ref = p.refs[i]!;
      if (r.destination !== this.chain) return 'receipt for another chain';
      const src = this.host.runtime(r.source);
      if (!src) return 'unknown source chain';
      const e = src.checkReceiptRef(r, ref);
      if (e) return e;
    }
    for (const c of p.body.confirms) {
      const rt = this.host.runtime(c.from);
      if (!rt) return 'unknown confirm chain';
      if ((rt.finalInbox[this.chain] ?? 0) < c.appliedUpTo) return 'wait';
    }
    return null;
  }

  /** Checks a receipt against this (source) chain's final blocks; 'wait' if not final yet. */
  checkReceiptRef(r: CrossReceipt, ref: ReceiptRef): string | null {
    if (r.source !== this.chain) return 'receipt source mismatch';
    if (ref.sourceHeight > this.finalHeight) return 'wait';
    const rec = this.recent.get(ref.sourceHeight);
    if (!rec) return 'wait'; // not in memory: treat as not yet available (the caller retries)
    if (rec.block.hash !== ref.blockHash) return 'receipt ref: block hash mismatch';
    let root = this.receiptsRoots.get(ref.sourceHeight);
    if (root === undefined) {
      root = decodePayload(rec.block.payload).receiptsRoot;
      this.receiptsRoots.set(ref.sourceHeight, root);
    }
    return verifyMerkleProof(root, receiptHash(r), ref.proof) ? null : 'receipt ref: bad Merkle proof';
  }

  /** Final receipts to `dest` with ids from `fromId`, consecutive, at most `max`. */
  finalReceiptsFor(dest: string, fromId: number, max: number): Array<{ receipt: CrossReceipt; ref: ReceiptRef }> {
    const box = this.state.outbox[dest];
    if (!box || max <= 0) return [];
    const out: Array<{ receipt: CrossReceipt; ref: ReceiptRef }> = [];
    let want = fromId;
    for (const r of box.pending) {
      if (r.id < want) continue;
      if (r.id !== want || r.sourceHeight > this.finalHeight || out.length >= max) break;
      const rec = this.recent.get(r.sourceHeight);
      if (!rec) break;
      let proofs = this.proofCache.get(r.sourceHeight);
      if (!proofs) {
        const all = merkleProofsAll(rec.outgoing.map(receiptHash));
        proofs = new Map(rec.outgoing.map((x, i) => [`${x.destination}#${x.id}`, all[i]!]));
        this.proofCache.set(r.sourceHeight, proofs);
        if (this.proofCache.size > 256) this.proofCache.delete(this.proofCache.keys().next().value!);
      }
      const proof = proofs.get(`${r.destination}#${r.id}`);
      if (!proof) break;
      out.push({ receipt: r, ref: { sourceHeight: r.sourceHeight, blockHash: rec.block.hash, proof } });
      want++;
    }
    return out;
  }

  // ---------------------------------------------------------------- commit

  /** Verifies a commit proof for `block` against this chain's validator group. */
  private proofError(block: Block, qc: QC, proof: ExtCommitProof, g: GroupAt): string | null {
    return commitProofError(block, qc, proof, this.host.chainId, this.chain, this.vctxOf(g));
  }

  private onCommitMsg(m: { block: Block; qc: QC; proof: ExtCommitProof }): void {
    if (!m?.block || typeof m.block.height !== 'number') return;
    const h = m.block.height;
    if (h > this.knownHeight) this.knownHeight = h;
    if (h <= this.height) return;
    if (h > this.height + 1) {
      if (this.pendingCommits.size < 512) this.pendingCommits.set(h, m);
      this.maybeSync();
      return;
    }
    this.enqueueFn(async () => {
      await this.commit(m.block, m.qc, m.proof, 'peer');
    });
  }

  /**
   * Applies a committed block at tip+1 and stores it atomically with its tx index
   * (and periodically a state snapshot). Source 'consensus' = our own core committed it.
   */
  private async commit(block: Block, qc: QC, proof: ExtCommitProof, source: 'consensus' | 'peer' | 'sync'): Promise<boolean> {
    if (block.height <= this.height) return false;
    if (block.height !== this.height + 1) {
      if (this.pendingCommits.size < 512) this.pendingCommits.set(block.height, { block, qc, proof });
      this.maybeSync();
      return false;
    }
    const g = this.groupAt(block.height);
    if (!g) {
      // Its epoch's election is not final here yet: keep it until it is (onScheduleChanged).
      if (this.pendingCommits.size < 512) this.pendingCommits.set(block.height, { block, qc, proof });
      return false;
    }
    // A block our core committed above the last height of its period (a tail block that only
    // served to commit that height) is never applied: the next group builds on the period's end.
    if (source === 'consensus' && (!this.coreGroup || !this.samePeriod(g, this.coreGroup))) return false;
    if (block.parentHash !== this.tipHash) {
      this.log.error({ chain: this.chain, height: block.height }, 'committed block does not extend our tip');
      return false;
    }
    if (source !== 'consensus') {
      const err = this.proofError(block, qc, proof, g);
      if (err) {
        this.log.warn({ chain: this.chain, height: block.height, err }, 'commit refused');
        this.host.onIncident?.('commit_refused', this.chain);
        return false;
      }
    }
    const known = this.exec.get(block.payloadHash);
    const payload = known && known.height === block.height ? known.payload : decodePayload(block.payload);
    const auditing = g.auditors.includes(this.host.self);
    if (auditing && source !== 'sync') {
      // Auditing re-checks everything the validators checked: every tx signature (once per node).
      for (const stx of payload.body.txs) {
        if (!this.host.verifyTx(stx, hashOf(stx))) {
          this.log.error({ chain: this.chain, height: block.height }, 'audit: committed block carries a bad tx signature; not signing');
          return false;
        }
      }
    }
    let result = this.exec.get(block.payloadHash)?.result;
    if (!result || result.state.height !== block.height) result = applyBlock(this.state, payload.body, this.host.params);
    if (result.stateRoot !== payload.stateRoot || result.receiptsRoot !== payload.receiptsRoot) {
      this.log.error({ chain: this.chain, height: block.height }, 'execution does not match the committed roots: block refused');
      return false;
    }
    const now = Date.now();
    const rec: BlockRecord = { block, qc, proof, outgoing: result.outgoingReceipts, results: result.results, inbox: { ...result.state.inbox }, committedAt: now };
    const ops: BatchOp[] = [{ type: 'put', key: heightKey('blk', this.chain, block.height), value: rec }];
    for (let i = 0; i < payload.body.txs.length; i++) {
      const stx = payload.body.txs[i]!;
      const r = result.results[payload.body.confirms.length + payload.body.receipts.length + i];
      const key = `tx/${hashOf(stx)}`;
      // A tx re-included after it was applied (e.g. a nonce-free claim gossiped again) is
      // `invalid` there and changes nothing: the index keeps pointing at where it took effect.
      if (r?.status === 'invalid') {
        const prev = await this.host.store.get<{ height: number; result?: { status?: string } }>(key);
        if (prev && prev.height < block.height && prev.result?.status !== 'invalid') continue;
      }
      ops.push({ type: 'put', key, value: { chain: this.chain, height: block.height, index: i, result: r } });
    }
    this.sinceSnapshot++;
    if (this.sinceSnapshot >= this.timing.snapshotEvery) {
      ops.push({ type: 'put', key: `st/${this.chain}`, value: { height: block.height, state: result.state } });
      this.sinceSnapshot = 0;
    }
    if (g.auditors.length === 0) ops.push({ type: 'put', key: `fin/${this.chain}`, value: { height: block.height } });
    ops.push(...(this.host.commitOps?.(this, block, result.state) ?? []));
    await this.host.store.batch(ops);
    this.state = result.state;
    this.tipHash = block.hash;
    this.tipBlock = block;
    this.tipQC = qc;
    if (block.height > this.knownHeight) this.knownHeight = block.height;
    this.txsCommitted += payload.body.txs.length;
    this.recent.set(block.height, rec);
    this.receiptsRoots.set(block.height, payload.receiptsRoot);
    this.tipEmpty = this.bodyEmpty(payload.body);
    for (const k of this.recent.keys()) {
      if (k < block.height - 1024 && k < this.finalHeight - 64) {
        this.recent.delete(k);
        this.receiptsRoots.delete(k);
      }
    }
    for (const stx of payload.body.txs) this.mempool.remove(hashOf(stx));
    if (payload.body.txs.length > 0) this.mempool.pruneStale((a) => this.state.accounts[a]?.nonce ?? 0);
    for (const [ph, e] of this.exec) if (e.height <= block.height) this.exec.delete(ph);
    for (const [bh, ph] of this.blockPayload) if (!this.exec.has(ph) && bh !== block.hash) this.blockPayload.delete(bh);
    this.host.onCommitted(this, rec, payload);
    // Announce to everyone outside the validator group (two senders per height for redundancy).
    if (source === 'consensus') {
      const n = g.validators.length;
      const i = g.validators.indexOf(this.host.self);
      if (i === block.height % n || i === (block.height + 1) % n) {
        this.host.net.multicast(this.host.allNodes.filter((a) => !g.validators.includes(a)), { k: 'commit', c: this.chain, body: { block, qc, proof } });
      }
    }
    if (g.auditors.length === 0) this.advanceFinal(block.height);
    else {
      if (auditing) this.signAudit(block);
      this.tryAudit(block.height);
    }
    this.maybeSwitch();
    // A buffered next block may now apply.
    const next = this.pendingCommits.get(this.height + 1);
    if (next) {
      this.pendingCommits.delete(this.height + 1);
      this.enqueueFn(() => this.commit(next.block, next.qc, next.proof, 'peer').then(() => undefined));
    }
    for (const k of this.pendingCommits.keys()) if (k <= this.height) this.pendingCommits.delete(k);
    return true;
  }

  // ---------------------------------------------------------------- audit

  private signAudit(block: Block): void {
    // We executed the block ourselves in commit(): its roots matched, so we attest to it.
    if (this.byz?.withholdAudit()) return;
    const share = signCertificateShare(this.host.signer, { chainId: this.host.chainId, chain: this.chain, height: block.height, blockHash: block.hash, kind: 'audit' });
    const msg = { height: block.height, blockHash: block.hash, signer: share.signer, signature: share.signature };
    this.host.net.multicast(this.host.allNodes, { k: 'audit', c: this.chain, body: msg });
    this.onAuditShare(msg);
  }

  private onAuditShare(m: { height: number; blockHash: string; signer: string; signature: string }): void {
    if (!m || typeof m.height !== 'number' || typeof m.signer !== 'string' || typeof m.signature !== 'string' || typeof m.blockHash !== 'string') return;
    // Auditors of the share's height; while that epoch's election is unknown here, any directory node (filtered in tryAudit).
    const g = this.groupAt(m.height);
    if (!(g ? g.auditors : this.host.allNodes).includes(m.signer) || m.height <= this.finalHeight || this.audits.has(m.height)) return;
    if (m.height > this.knownHeight) this.knownHeight = m.height;
    const bytes = certificateSigningBytes({ chainId: this.host.chainId, chain: this.chain, height: m.height, blockHash: m.blockHash, kind: 'audit' });
    if (!this.verifyCache.verify(m.signer, bytes, m.signature)) return;
    let s = this.shares.get(m.height);
    if (!s) this.shares.set(m.height, (s = new Map()));
    s.set(m.signer, { hash: m.blockHash, signature: m.signature });
    this.tryAudit(m.height);
  }

  private tryAudit(height: number): void {
    if (this.audits.has(height)) return;
    const rec = this.recent.get(height);
    const s = this.shares.get(height);
    const g = this.groupAt(height);
    if (!rec || !s || !g || height > this.height) return;
    const matching = [...s].filter(([signer, v]) => v.hash === rec.block.hash && g.auditors.includes(signer)).map(([signer, v]) => ({ signer, signature: v.signature }));
    if (matching.length < quorumSize(g.auditors.length)) return;
    const cert = makeCertificate({ chainId: this.host.chainId, chain: this.chain, height, blockHash: rec.block.hash, kind: 'audit' }, matching);
    this.acceptAudit(height, { cert, finalAt: Date.now() });
  }

  private acceptAudit(height: number, a: AuditRecord): void {
    if (this.audits.has(height)) return;
    this.audits.set(height, a);
    this.shares.delete(height);
    const ops: BatchOp[] = [{ type: 'put', key: heightKey('aud', this.chain, height), value: a }];
    let h = this.finalHeight;
    while (this.audits.has(h + 1) && h + 1 <= this.height) h++;
    if (h > this.finalHeight) ops.push({ type: 'put', key: `fin/${this.chain}`, value: { height: h } });
    this.host.store.batch(ops).then(
      () => this.advanceFinal(h),
      (e: unknown) => {
        this.log.warn({ chain: this.chain, err: (e as Error).message }, 'audit write failed');
        this.host.onIncident?.('store', this.chain);
      },
    );
  }

  private advanceFinal(h: number): void {
    if (h <= this.finalHeight) return;
    const from = this.finalHeight + 1;
    this.finalHeight = h;
    const rec = this.recent.get(h);
    if (rec) this.finalInbox = { ...rec.inbox };
    for (const k of this.audits.keys()) if (k < h - 1024) this.audits.delete(k);
    for (let x = from; x <= h; x++) this.host.onFinal(this, x);
  }

  /** Audit certificate of a height (memory or store). */
  async auditOf(height: number): Promise<AuditRecord | undefined> {
    return this.audits.get(height) ?? (await this.host.store.get<AuditRecord>(heightKey('aud', this.chain, height)));
  }

  verifyAudit(cert: Certificate, height: number, hash: string): boolean {
    return cert.kind === 'audit' && cert.chain === this.chain && cert.chainId === this.host.chainId && cert.height === height && cert.blockHash === hash && this.auditCertError(cert, height) === null;
  }

  /** Reason an audit certificate is not signed by a quorum of the auditor group of `height`, or null. */
  private auditCertError(cert: Certificate, height: number): string | null {
    const g = this.groupAt(height);
    return g ? certificateError(cert, g.auditors) : 'auditor group not known yet';
  }

  async record(height: number): Promise<BlockRecord | undefined> {
    return this.recent.get(height) ?? (await this.host.store.get<BlockRecord>(heightKey('blk', this.chain, height)));
  }

  // ----------------------------------------------------------------- sync

  private maybeSync(): void {
    if (this.stopped) return;
    const behind = this.knownHeight > this.height || this.pendingCommits.size > 0;
    const now = Date.now();
    // Also poll now and then: a node that restarted knows nothing of the network's height.
    if (!behind && now - this.lastSyncAt < 3000) return;
    if (now - this.lastSyncAt < 500) return;
    this.lastSyncAt = now;
    const peers = this.host.net.connectedPeers();
    const prefer = peers.filter((p) => this.validators.includes(p));
    const pool = prefer.length > 0 ? prefer : peers;
    if (pool.length === 0) return;
    const peer = pool[Math.floor(Math.random() * pool.length)]!;
    this.host.net.send(peer, { k: 'sync-req', c: this.chain, body: { from: this.height + 1, max: 32, auditFrom: this.finalHeight + 1 } });
  }

  private async onSyncRequest(from: string, req: { from: number; max: number; auditFrom?: number }): Promise<void> {
    if (typeof req?.from !== 'number' || typeof req.max !== 'number') return;
    const records: Array<{ rec: BlockRecord; audit?: AuditRecord }> = [];
    const start = Math.max(1, Math.min(req.from, typeof req.auditFrom === 'number' ? req.auditFrom : req.from));
    const end = Math.min(this.height, req.from + Math.min(64, Math.max(1, req.max)) - 1);
    for (let h = start; h <= end; h++) {
      const rec = await this.record(h);
      if (!rec) break;
      const audit = await this.auditOf(h);
      if (h < req.from && !audit) continue; // already-held block: only its audit is useful
      records.push(audit ? { rec, audit } : { rec });
    }
    this.host.net.send(from, { k: 'sync-res', c: this.chain, body: { records, tip: this.height } });
  }

  private onSyncResponse(m: { records: Array<{ rec: BlockRecord; audit?: AuditRecord }>; tip: number }): void {
    if (!m || !Array.isArray(m.records)) return;
    if (typeof m.tip === 'number' && m.tip > this.knownHeight) this.knownHeight = m.tip;
    this.enqueueFn(async () => {
      for (const { rec, audit } of m.records) {
        if (!rec?.block || !rec.proof) continue;
        const h = rec.block.height;
        if (h === this.height + 1) {
          if (!(await this.commit(rec.block, rec.qc, rec.proof, 'sync'))) break;
        }
        if (audit && h <= this.height) {
          const mine = this.recent.get(h) ?? (await this.record(h));
          if (mine && this.verifyAudit(audit.cert, h, mine.block.hash)) this.acceptAudit(h, audit);
        }
      }
      if (this.knownHeight > this.height) {
        this.lastSyncAt = 0;
        this.maybeSync();
      }
    });
  }

  // ------------------------------------------------------------------ txs

  /** Adds a verified tx to the pool (validators) or forwards it to the validators. */
  admitLocal(stx: SignedTx, hash: string): void {
    if (this.isValidator) {
      this.mempool.add({ hash, from: stx.tx.from, nonce: stx.tx.nonce, nonceFree: stx.tx.op.type === 'channel-claim', tx: stx, addedAt: Date.now() });
    }
    this.queueGossip(stx);
  }

  private gossipBuf: SignedTx[] = [];
  private gossipTimer = false;
  private queueGossip(stx: SignedTx): void {
    this.gossipBuf.push(stx);
    if (this.gossipTimer) return;
    this.gossipTimer = true;
    setTimeout(() => {
      this.gossipTimer = false;
      const batch = this.gossipBuf;
      this.gossipBuf = [];
      if (batch.length > 0) this.host.net.multicast(this.validators, { k: 'txs', c: this.chain, body: batch });
    }, 10).unref();
  }

  private admitGossiped(stx: SignedTx): void {
    try {
      if (!stx?.tx || stx.tx.chain !== this.chain || stx.tx.chainId !== this.host.chainId) return;
      const hash = hashOf(stx);
      if (this.mempool.has(hash)) return;
      if (stx.tx.op?.type !== 'channel-claim' && stx.tx.nonce < (this.state.accounts[stx.tx.from]?.nonce ?? 0)) return;
      if (isStaleClaim(this.state, stx)) return;
      if (!this.host.verifyTx(stx, hash)) return;
      this.mempool.add({ hash, from: stx.tx.from, nonce: stx.tx.nonce, nonceFree: stx.tx.op.type === 'channel-claim', tx: stx, addedAt: Date.now() });
    } catch {
      // full pool or duplicate slot: drop
    }
  }

  /** Status of a view for RPC. */
  coreView(): number | undefined {
    return this.core?.view;
  }

  get safety(): SafetyState | undefined {
    return this.core ? getSafetyState(this.core) : undefined;
  }

}
