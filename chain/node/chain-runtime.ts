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
 * This class coordinates; the parts live in: epoch-handover.ts (periods, held early
 * messages, anchored core config, tx handover), core-actions.ts (a core step's actions),
 * block-producer.ts + payload-build.ts + exec-cache.ts (building/validating payloads),
 * block-apply.ts + block-persist.ts (applying and storing committed blocks, replay on load),
 * audit.ts (audit certificates), receipt-source.ts (outgoing receipts and their proofs),
 * chain-sync.ts (block sync), tx-intake.ts (pool admission and gossip), serial-queue.ts.
 */
import type { Logger } from 'pino';
import { createConsensus, getSafetyState, lookupBlock, step, waitingToPropose, type ConsensusState } from '../consensus/core.js';
import { genesisBlock, verifyContext, type Certificate, type VerifyContext } from '../consensus/certificate.js';
import { decodeMessage, decodeMessageValue } from '../consensus/messages.js';
import { VerifyCache } from '../consensus/crypto.js';
import { quorumSize, type Block, type BlockHeader, type ConsensusAction, type ConsensusEvent, type QC, type SafetyState } from '../consensus/types.js';
import type { ChainState, CrossReceipt, SignedTx } from '../state/types.js';
import type { VoteEvidence } from '../state/vote-evidence.js';
import { Mempool } from './mempool.js';
import { type AuditRecord, type BlockRecord, type ReceiptRef } from './payload.js';
import { ScheduleError, sameMembers, type GroupAt } from './epochs.js';
import { commitProofError, type ExtCommitProof } from './commit-proof.js';
import { ByzantineHooks } from './test-hooks.js';
import { DEFAULT_TIMING, hashOf, headerOnly, type RuntimeHost, type RuntimeTiming } from './runtime-types.js';
import { EarlyMessages, anchoredCoreConfig, handOverPending, periodRole, safetyKey, samePeriod, switchDecision } from './epoch-handover.js';
import { AuditTracker, type AuditShareMsg } from './audit.js';
import { ReceiptSource } from './receipt-source.js';
import { ChainSync, type SyncRequest, type SyncResponse } from './chain-sync.js';
import { commitBatch, replayStored } from './block-persist.js';
import { mapsOf, snapshotOps, type StoredMaps } from './state-snapshot.js';
import { heightKey } from './store.js';
import { bodyEmpty } from './payload-build.js';
import { ExecCache } from './exec-cache.js';
import { SerialQueue } from './serial-queue.js';
import { BlockProducer } from './block-producer.js';
import { TxIntake } from './tx-intake.js';
import { runAction, type ActionContext } from './core-actions.js';
import { announceCommit, executeCommitted, type CommitHint } from './block-apply.js';

export { DEFAULT_TIMING, hashOf, type RuntimeHost, type RuntimeTiming } from './runtime-types.js';
/** Test-only misbehaviour (chain/node/test-hooks.ts); absent unless a test sets it. */
export type { ByzantineOptions } from './test-hooks.js';
export type { ExtCommitProof } from './commit-proof.js';

/**
 * A commit announcement (block or hint) further above the tip than this does not raise the known
 * height: a node that far behind learns it from sync responses, and a faulty group member cannot
 * set a node's known height at will.
 */
export const MAX_HINT_AHEAD = 1024;

/**
 * Final block records a chain keeps in memory below its final height (every non-final one is
 * kept). Older ones are read from the store when asked for (sync, RPC, receipt proofs).
 */
export const RECENT_FINAL_BLOCKS = 64;

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
  private readonly stash = new EarlyMessages();
  private core?: ConsensusState;
  private readonly queue: SerialQueue;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly exec: ExecCache;
  private readonly recent = new Map<number, BlockRecord>();
  private tipEmpty = true;
  private readonly receipts: ReceiptSource;
  private readonly audit: AuditTracker;
  private readonly sync: ChainSync;
  private readonly producer: BlockProducer;
  private readonly intake: TxIntake;
  private readonly actions: ActionContext;
  private readonly pendingCommits = new Map<number, { block: Block; qc: QC; proof: ExtCommitProof }>();
  /** Heights of announced blocks waiting on the serial queue (held: sync does not fetch them). */
  private readonly queuedCommits = new Set<number>();
  private readonly verifyCache = new VerifyCache(50_000);
  private syncTimer?: NodeJS.Timeout;
  private sinceSnapshot = 0;
  /** The maps the store's snapshot records hold (state-snapshot.ts); undefined: none yet. */
  private storedMaps: StoredMaps | undefined;
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
    this.queue = new SerialQueue(chain, host, () => this.stopped);
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
    const recent = (h: number): BlockRecord | undefined => this.recent.get(h);
    this.exec = new ExecCache({
      host,
      genesisHash: this.genesis.hash,
      height: () => this.height,
      tipHash: () => this.tipHash,
      tipState: () => this.state,
      tipEmpty: () => this.tipEmpty,
      lookup: (hash) => (this.core ? lookupBlock(this.core, hash) : undefined),
      hasCore: () => this.core !== undefined,
    });
    this.receipts = new ReceiptSource({
      chain,
      finalHeight: () => this.finalHeight,
      state: () => this.state,
      recent,
      stored: (h) => this.record(h),
      onReadError: (h, err) => this.log.warn({ chain, height: h, err: err.message }, 'receipt source: block read failed'),
    });
    this.audit = new AuditTracker({
      chain,
      host,
      verifyCache: this.verifyCache,
      height: () => this.height,
      finalHeight: () => this.finalHeight,
      groupAt: (h) => this.groupAt(h),
      recent,
      noteHeight: (h) => this.noteHeight(h),
      advanceFinal: (h) => this.advanceFinal(h),
      withholdAudit: () => this.byz?.withholdAudit() ?? false,
    });
    this.producer = new BlockProducer({
      chain,
      host,
      timing: this.timing,
      mempool: this.mempool,
      exec: this.exec,
      height: () => this.height,
      shardCount: () => this.state.shardCount,
      stopped: () => this.stopped,
      core: () => this.core,
      periodRole: (h) => periodRole(this.groupAt(h), this.coreGroup, this.chain === 'beacon'),
      byzPayload: (p) => (this.byz ? this.byz.payload(p) : p),
      later: (ms, fn) => this.later(ms, fn),
      enqueueFn: (fn) => this.enqueueFn(fn),
      runEvent: (ev) => this.runEvent(ev),
    });
    this.actions = {
      chain,
      host,
      exec: this.exec,
      producer: this.producer,
      byz: this.byz,
      evidence: this.evidence,
      validators: () => this.validators,
      later: (ms, fn) => this.later(ms, fn),
      enqueueEvent: (ev) => this.enqueueEvent(ev),
      commit: (block, qc, proof) => this.commit(block, qc, proof, 'consensus'),
      onEvidence: (ev) => host.onEvidence?.(this, ev),
    };
    this.intake = new TxIntake({ chain, host, mempool: this.mempool, state: () => this.state, isValidator: () => this.isValidator, validators: () => this.validators });
    this.sync = new ChainSync({
      chain,
      host,
      stopped: () => this.stopped,
      height: () => this.height,
      finalHeight: () => this.finalHeight,
      knownHeight: () => this.knownHeight,
      hasPending: () => this.pendingCommits.size > 0,
      heldThrough: () => {
        let h = this.height;
        while (this.queuedCommits.has(h + 1) || this.pendingCommits.has(h + 1)) h++;
        return h;
      },
      validators: () => this.validators,
      record: (h) => this.record(h),
      auditOf: (h) => this.auditOf(h),
      commit: (block, qc, proof) => this.commit(block, qc, proof, 'sync'),
      verifyAudit: (cert, h, hash) => this.verifyAudit(cert, h, hash),
      acceptAudit: (h, a) => this.audit.accept(h, a),
      enqueue: (fn) => this.enqueueFn(fn),
    });
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

  get log(): Logger {
    return this.host.log;
  }

  private noteHeight(h: number): void {
    if (h > this.knownHeight) this.knownHeight = h;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Loads the last snapshot and replays stored blocks after it. */
  async load(): Promise<void> {
    const { state, tip, stored } = await replayStored(this.host, this, this.chain, this.state, (s) => (this.state = s));
    this.state = state;
    this.storedMaps = stored;
    const h = this.state.height;
    if (tip) {
      this.tipBlock = tip.block;
      this.tipHash = tip.block.hash;
      this.tipQC = tip.qc;
      this.recent.set(h, tip);
    }
    // Final height: beacon = committed; shards = contiguous audited heights.
    const fin = await this.host.store.get<{ height: number }>(`fin/${this.chain}`);
    this.finalHeight = this.chain === 'beacon' ? h : Math.min(fin?.height ?? 0, h);
    if (this.finalHeight > 0) {
      const rec = await this.record(this.finalHeight);
      this.finalInbox = { ...(rec?.inbox ?? {}) };
    }
    // Every non-final record is kept in memory (audit shares are counted against it).
    for (let x = this.finalHeight + 1; x < h; x++) {
      const rec = await this.record(x);
      if (rec) this.recent.set(x, rec);
    }
    this.knownHeight = h;
    // The next height's group, or (its election not final here yet) the tip's: maybeSwitch moves on.
    this.group = this.groupAt(h + 1) ?? this.groupAt(h) ?? this.group;
  }

  start(): void {
    this.syncTimer = setInterval(() => {
      this.sync.maybeSync();
      const resent = this.audit.resendStalled(Date.now());
      if (resent.length > 0) this.log.debug({ chain: this.chain, heights: resent, final: this.finalHeight }, 'final height stalled: audit shares resent');
    }, 700);
    this.syncTimer.unref();
    this.coreGroup = this.group;
    if (this.isValidator) {
      // Catch up from peers first (bounded wait), then start the core on the latest tip.
      const startCore = (): void => {
        if (this.stopped || this.core) return;
        const behind = this.sync.knownHeight() > this.height;
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
    for (let i = 0; i < 100 && this.queue.running; i++) await new Promise((r) => setTimeout(r, 10));
    await this.snapshot();
  }

  private async snapshot(): Promise<void> {
    const state = this.state;
    await this.host.store.batch(snapshotOps(this.chain, state, this.storedMaps));
    this.storedMaps = mapsOf(state);
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

  /**
   * Starts the core of the committee of the next height, anchored at our tip: the tip's QC
   * may be the previous committee's (handover); views start at the period's first view.
   */
  private async startCore(): Promise<void> {
    if (this.core || this.stopped) return;
    const g = this.group;
    if (!g.validators.includes(this.host.self)) return;
    this.coreGroup = g;
    const stored = await this.host.store.get<SafetyState>(safetyKey(this.chain, g));
    const base = {
      chainId: this.host.chainId,
      chain: this.chain,
      signer: this.host.signer,
      genesisId: this.genesisIdOf(),
      baseTimeoutMs: this.timing.baseTimeoutMs,
      blockIntervalMs: this.timing.blockIntervalMs,
      // The leader of a view whose justify block is empty may pause up to idleBlockMs before an empty block (block-producer.ts).
      idleGraceMs: (justify: QC) => (this.timing.idleBlockMs > 0 && this.exec.blockEmpty(justify.blockHash) ? this.timing.idleBlockMs : 0),
    };
    this.core = createConsensus(anchoredCoreConfig(base, g, { height: this.height, tipBlock: this.tipBlock, tipQC: this.tipQC, stored }));
    this.log.info({ chain: this.chain, height: this.height, epoch: g.epoch, period: g.periodStart }, 'consensus started');
    await this.runEvent({ type: 'start', now: Date.now() });
    const stashed = this.stash.drain();
    for (const m of stashed) await this.runEvent({ type: 'message', now: Date.now(), from: m.from, msg: m.msg });
  }

  /**
   * After the tip moved or an election became known: if the next height belongs to another
   * validator group, the current core stops (this node no longer votes in the old period) and,
   * if this node is in the new group, a new core starts anchored at the tip (epoch-handover.ts).
   */
  private maybeSwitch(): void {
    const next = this.groupAt(this.height + 1);
    if (!next) return;
    const prev = this.group;
    this.group = next;
    const decision = switchDecision(next, this.coreGroup, this.host.self);
    if (decision === 'keep') return;
    if (decision === 'outside') {
      if (!sameMembers(prev.validators, next.validators)) this.log.info({ chain: this.chain, height: this.height + 1, epoch: next.epoch }, 'committee changed');
      return;
    }
    const wasMember = this.core !== undefined;
    this.core = undefined;
    this.coreGroup = undefined;
    this.exec.clear();
    this.log.info({ chain: this.chain, height: this.height + 1, epoch: next.epoch, member: next.validators.includes(this.host.self), validators: next.validators.map((v) => v.slice(0, 8)) }, 'committee switch');
    if (next.validators.includes(this.host.self)) {
      this.enqueueFn(() => this.startCore());
    } else if (wasMember && this.mempool.size > 0) {
      // Rotated out: hand the pending txs to the new group.
      handOverPending(this.chain, this.mempool, this.state, this.host.net, next.validators);
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
    this.queue.push(() => this.runEvent(ev));
  }

  enqueueFn(fn: () => Promise<void> | void): void {
    this.queue.push(fn);
  }

  private async runEvent(ev: ConsensusEvent): Promise<void> {
    if (!this.core) return;
    const group = this.coreGroup;
    const r = step(this.core, ev);
    this.core = r.state;
    // A step may commit several blocks with one 2-chain proof (for the last of them); give each
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
        if (a.type === 'persist' && group) await this.host.store.batch([{ type: 'put', key: safetyKey(this.chain, group), value: a.safety }]);
        continue;
      }
      if (a.type === 'commit') {
        const e = ext.get(a.block.hash) ?? [];
        await this.commit(a.block, a.qc, e.length > 0 ? { ...a.proof, ext: e } : a.proof, 'consensus');
      } else await runAction(this.actions, a, group);
    }
  }

  // ------------------------------------------------------------- messages

  onMessage(from: string, k: string, body: unknown): void {
    if (this.stopped) return;
    switch (k) {
      case 'cons': {
        // The structured form (payload as raw bytes in the envelope); canonical JSON bytes from
        // nodes that still send that form are read too.
        let msg;
        try {
          msg = body instanceof Uint8Array ? decodeMessage(body) : decodeMessageValue(body);
        } catch {
          return;
        }
        // A message of a later period (its core is not running here yet) waits for it.
        if (this.stash.mustHold(msg, this.core !== undefined, this.coreGroup)) {
          this.stash.hold(from, msg);
          return;
        }
        this.enqueueEvent({ type: 'message', now: Date.now(), from, msg });
        return;
      }
      case 'commit':
        this.onCommitMsg(from, body as { block: Block; qc: QC; proof: ExtCommitProof });
        return;
      case 'commit-hint':
        this.onCommitHint(from, body as CommitHint);
        return;
      case 'audit':
        this.audit.onShare(body as AuditShareMsg);
        return;
      case 'sync-req':
        if (this.stopped) return;
        this.sync.onRequest(from, body as SyncRequest).catch((e: unknown) => {
          this.log.debug({ chain: this.chain, err: (e as Error).message }, 'sync request failed');
          this.host.onIncident?.('sync', this.chain);
        });
        return;
      case 'sync-res':
        this.sync.onResponse(from, body as SyncResponse);
        return;
      case 'txs':
        this.intake.onGossip(body);
        this.producer.wake();
        return;
    }
  }

  // --------------------------------------------------------------- payload

  /** Checks a receipt against this (source) chain's final blocks; 'wait' if not final yet. */
  checkReceiptRef(r: CrossReceipt, ref: ReceiptRef): string | null {
    return this.receipts.checkRef(r, ref);
  }

  /** Final receipts to `dest` with ids from `fromId`, consecutive, at most `max`. */
  finalReceiptsFor(dest: string, fromId: number, max: number): Array<{ receipt: CrossReceipt; ref: ReceiptRef }> {
    return this.receipts.finalFor(dest, fromId, max);
  }

  // ---------------------------------------------------------------- commit

  /** Verifies a commit proof for `block` against this chain's validator group. */
  private proofError(block: Block, qc: QC, proof: ExtCommitProof, g: GroupAt): string | null {
    return commitProofError(block, qc, proof, this.host.chainId, this.chain, this.vctxOf(g));
  }

  /**
   * A validator of the height's group announced a block of that height (the block itself or a
   * `commit-hint`): the height counts towards sync (chain-sync.ts fetches it if the block does
   * not come within STALL_MS). An announcement from outside the group, or more than
   * MAX_HINT_AHEAD above the tip, moves nothing. Returns whether the height was noted.
   */
  private noteAnnounced(from: string, h: unknown): boolean {
    if (typeof h !== 'number' || !Number.isSafeInteger(h) || h <= this.height || h > this.height + MAX_HINT_AHEAD) return false;
    if (!this.groupAt(h)?.validators.includes(from)) return false;
    this.noteHeight(h);
    return true;
  }

  private onCommitHint(from: string, m: CommitHint): void {
    if (this.noteAnnounced(from, m?.height)) this.sync.maybeSync();
  }

  private onCommitMsg(from: string, m: { block: Block; qc: QC; proof: ExtCommitProof }): void {
    if (!m?.block || typeof m.block.height !== 'number') return;
    const h = m.block.height;
    this.noteAnnounced(from, h);
    if (h <= this.height) return;
    if (h > this.height + 1) {
      if (this.pendingCommits.size < 512) this.pendingCommits.set(h, m);
      this.sync.maybeSync();
      return;
    }
    this.queuedCommits.add(h);
    this.enqueueFn(async () => {
      try {
        await this.commit(m.block, m.qc, m.proof, 'peer');
      } finally {
        this.queuedCommits.delete(h);
      }
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
      this.sync.maybeSync();
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
    if (source === 'consensus' && (!this.coreGroup || !samePeriod(g, this.coreGroup))) return false;
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
    const auditing = g.auditors.includes(this.host.self);
    // An auditor signs every block it applies, so it checks every one, synced ones too.
    const executed = executeCommitted(this.host, this.chain, this.state, block, this.exec.get(block.payloadHash), auditing);
    if (!executed) return false;
    const { payload, result } = executed;
    const now = Date.now();
    const share = auditing ? this.audit.share(block) : undefined;
    const rec: BlockRecord = { block, qc, proof, outgoing: result.outgoingReceipts, results: result.results, inbox: { ...result.state.inbox }, committedAt: now, ...(share ? { auditShare: share.signature } : {}) };
    this.sinceSnapshot++;
    const snapshot = this.sinceSnapshot >= this.timing.snapshotEvery;
    if (snapshot) this.sinceSnapshot = 0;
    const ops = await commitBatch(this.host, this, this.chain, { block, rec, payload, result, snapshot: snapshot && { stored: this.storedMaps }, finalOnCommit: g.auditors.length === 0 });
    await this.host.store.batch(ops);
    if (snapshot) this.storedMaps = mapsOf(result.state);
    this.state = result.state;
    this.tipHash = block.hash;
    this.tipBlock = block;
    this.tipQC = qc;
    if (block.height > this.knownHeight) this.knownHeight = block.height;
    this.txsCommitted += payload.body.txs.length;
    this.recent.set(block.height, rec);
    this.receipts.noteRoot(block.height, payload.receiptsRoot);
    this.tipEmpty = bodyEmpty(payload.body);
    for (const k of this.recent.keys()) {
      if (k < this.finalHeight - RECENT_FINAL_BLOCKS) {
        this.recent.delete(k);
        this.receipts.forget(k);
      }
    }
    for (const stx of payload.body.txs) this.mempool.remove(hashOf(stx));
    if (payload.body.txs.length > 0) this.mempool.pruneStale((a) => this.state.accounts.get(a)?.nonce ?? 0);
    this.exec.pruneCommitted(block.height, block.hash);
    this.host.onCommitted(this, rec, payload);
    if (source === 'consensus') announceCommit(this.host, this.chain, g, block, qc, proof);
    if (g.auditors.length === 0) this.advanceFinal(block.height);
    else {
      if (share) this.audit.publish(share);
      this.audit.tryAudit(block.height);
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

  /** Every height ≤ h is committed and audited (or needs no audit): final. */
  private advanceFinal(h: number): void {
    if (h <= this.finalHeight) return;
    const from = this.finalHeight + 1;
    this.finalHeight = h;
    const rec = this.recent.get(h);
    if (rec) this.finalInbox = { ...rec.inbox };
    this.audit.prune(h);
    for (let x = from; x <= h; x++) this.host.onFinal(this, x);
  }

  /** Audit certificate of a height (memory or store). */
  async auditOf(height: number): Promise<AuditRecord | undefined> {
    return this.audit.auditOf(height);
  }

  verifyAudit(cert: Certificate, height: number, hash: string): boolean {
    return this.audit.verify(cert, height, hash);
  }

  async record(height: number): Promise<BlockRecord | undefined> {
    return this.recent.get(height) ?? (await this.host.store.get<BlockRecord>(heightKey('blk', this.chain, height)));
  }

  // ------------------------------------------------------------------ txs

  /** Adds a verified tx to the pool (validators) or forwards it to the validators (see TxIntake.admitLocal). */
  admitLocal(stx: SignedTx, hash: string): void {
    this.intake.admitLocal(stx, hash);
    this.producer.wake();
  }

  /** Last nonce of `sender`'s pending run from `from` held here: pooled (validator) or forwarded. */
  pendingRunEnd(sender: string, from: number): number {
    return this.intake.pendingRunEnd(sender, from);
  }

  /**
   * Another chain made `height` final. If that block sent receipts here and this node leads the
   * current view but is still in the block interval (or pausing for work on an idle chain), it
   * proposes now: receipts already waited for a whole consensus round on their source and are
   * not held back to batch more txs.
   */
  onSourceFinal(source: string, height: number): void {
    if (this.stopped || !this.core || source === this.chain) return;
    const rec = this.host.runtime(source)?.finalRecord(height);
    if (!rec?.outgoing.some((r) => r.destination === this.chain)) return;
    const v = waitingToPropose(this.core);
    if (v !== null) this.enqueueEvent({ type: 'timer', now: Date.now(), kind: 'propose', view: v });
    else this.producer.wake(); // a build pausing for work (idle chain) proposes now
  }

  /** A final block's record if it is still in memory (recent heights only). */
  finalRecord(height: number): BlockRecord | undefined {
    return height <= this.finalHeight ? this.recent.get(height) : undefined;
  }

  /** Status of a view for RPC. */
  coreView(): number | undefined {
    return this.core?.view;
  }

  get safety(): SafetyState | undefined {
    return this.core ? getSafetyState(this.core) : undefined;
  }

}
