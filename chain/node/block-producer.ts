/**
 * Block payloads of one chain's running core: the leader builds one (txs from the pool,
 * final receipts from other chains, confirms), voters validate one (signatures, receipt
 * proofs, confirms, execution roots). Both execute the body on the parent's state and keep
 * the result in the ExecCache, so commit does not execute it again. Heights above the
 * period's last height get the empty tail payload (epoch-handover.ts); heights whose
 * election is not final here wait for it (bounded).
 */
import type { ConsensusState } from '../consensus/core.js';
import { sha256Hex } from '../consensus/encoding.js';
import type { Block, BlockHeader, ConsensusEvent } from '../consensus/types.js';
import { applyBlock } from '../state/apply.js';
import type { BlockBody, SignedTx } from '../state/types.js';
import { isStaleClaim } from './claims.js';
import { TAIL_PAYLOAD } from './epoch-handover.js';
import type { ExecCache } from './exec-cache.js';
import type { Mempool } from './mempool.js';
import { bodyEmpty, crossChainError, crossChainParts } from './payload-build.js';
import { decodePayload, encodePayload, type PayloadV1 } from './payload.js';
import { hashOf, type RuntimeHost, type RuntimeTiming } from './runtime-types.js';

/** What the producer reads from (and drives in) its chain runtime. */
export interface ProducerContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  readonly timing: RuntimeTiming;
  readonly mempool: Mempool<SignedTx>;
  readonly exec: ExecCache;
  height(): number;
  shardCount(): number;
  stopped(): boolean;
  /** The running core (its identity changes at a committee switch). */
  core(): ConsensusState | undefined;
  periodRole(height: number): 'own' | 'tail' | 'wait';
  /** Test-only fault injection may alter the built payload (identity otherwise). */
  byzPayload(p: PayloadV1): PayloadV1;
  later(ms: number, fn: () => void): void;
  enqueueFn(fn: () => Promise<void> | void): void;
  /** Feeds an event to the running core (on the serial queue's current item). */
  runEvent(ev: ConsensusEvent): Promise<void>;
}

export class BlockProducer {
  /** The idle pause in progress: a build that waits for work before proposing an empty block. */
  private idle: { view: number; parent: BlockHeader } | undefined;

  constructor(private readonly ctx: ProducerContext) {}

  /** Ends an idle pause at once: work arrived (a tx in the mempool, receipts final on another chain). */
  wake(): void {
    if (this.idle) this.resume(this.idle.view);
  }

  private resume(view: number): void {
    const p = this.idle;
    if (!p || p.view !== view) return;
    this.idle = undefined;
    this.ctx.enqueueFn(() => this.build(p.view, p.parent, true));
  }

  /** Builds the payload of a block at parent.height+1 in `view` and hands it to the core. */
  async build(view: number, parent: BlockHeader, retry = false): Promise<void> {
    this.idle = undefined; // a pause for an earlier view is moot
    const role = this.ctx.periodRole(parent.height + 1);
    if (role === 'wait') {
      // The election deciding this height's group is not final here yet: try again shortly.
      const core = this.ctx.core();
      this.ctx.later(200, () => this.ctx.enqueueFn(() => (this.ctx.core() === core && core?.view === view ? this.build(view, parent, retry) : undefined)));
      return;
    }
    if (role === 'tail') {
      // Above the period's last height: an empty tail block that only helps commit that height.
      await this.ctx.runEvent({ type: 'payloadReady', now: Date.now(), view, parentHash: parent.hash, payload: TAIL_PAYLOAD });
      return;
    }
    const base = this.ctx.exec.parentState(parent.hash);
    if (!base) {
      this.ctx.host.log.debug({ chain: this.ctx.chain, view }, 'no parent state to build on');
      return;
    }
    const height = parent.height + 1;
    // Txs already in uncommitted ancestors (nonce-free claims) are excluded.
    const inFlight = new Set<string>();
    for (const e of this.ctx.exec.entries()) if (e.height > this.ctx.height() && e.height <= parent.height) for (const t of e.payload.body.txs) inFlight.add(hashOf(t));
    let picked = this.ctx.chain === 'beacon' ? [] : this.ctx.mempool.select((a) => base.accounts.get(a)?.nonce ?? 0, this.ctx.timing.maxTxsPerBlock, inFlight);
    if (picked.some((p) => p.nonceFree && isStaleClaim(base, p.tx))) {
      for (const p of picked) if (p.nonceFree && isStaleClaim(base, p.tx)) this.ctx.mempool.remove(p.hash);
      picked = picked.filter((p) => this.ctx.mempool.has(p.hash));
    }
    const txs = picked.map((p) => p.tx);
    const { receipts, refs, confirms } = crossChainParts(this.ctx.host, this.ctx.chain, base, this.ctx.shardCount(), this.ctx.timing.maxReceiptsPerBlock);
    const body: BlockBody = { chain: this.ctx.chain as BlockBody['chain'], height, txs, receipts, confirms };
    if (!retry && this.ctx.timing.idleBlockMs > 0 && bodyEmpty(body) && this.ctx.exec.blockEmpty(parent.hash) && this.ctx.exec.blockEmpty(parent.parentHash)) {
      // Idle: wait for work (wake) before proposing another empty block. The replicas' view
      // timers allow for the pause (ConsensusConfig.idleGraceMs, chain-runtime.ts).
      this.idle = { view, parent };
      this.ctx.later(this.ctx.timing.idleBlockMs, () => this.resume(view));
      return;
    }
    const result = applyBlock(base, body, this.ctx.host.params);
    const honest: PayloadV1 = { v: 1, stateRoot: result.stateRoot, receiptsRoot: result.receiptsRoot, body, refs };
    const payload = this.ctx.byzPayload(honest);
    const bytes = encodePayload(payload);
    const ph = sha256Hex(bytes);
    this.ctx.exec.put({ payloadHash: ph, payload, result, height });
    await this.ctx.runEvent({ type: 'payloadReady', now: Date.now(), view, parentHash: parent.hash, payload: bytes });
  }

  /** Validates a proposed block's payload: signatures, receipt proofs, confirms, and execution roots. */
  async validate(b: Block): Promise<boolean> {
    try {
      let role = this.ctx.periodRole(b.height);
      for (let i = 0; role === 'wait' && i < 40 && !this.ctx.stopped(); i++) {
        await new Promise((r) => setTimeout(r, 100));
        role = this.ctx.periodRole(b.height);
      }
      if (role !== 'own') return role === 'tail' && b.payload.length === 0;
      const payload = decodePayload(b.payload);
      const body = payload.body;
      if (body.chain !== this.ctx.chain || body.height !== b.height) return false;
      if (this.ctx.chain === 'beacon' && body.txs.length > 0) return false;
      for (const stx of body.txs) {
        const h = hashOf(stx);
        if (!this.ctx.host.verifyTx(stx, h)) return false;
      }
      // Receipts and confirms depend on other chains' finality; wait briefly for it (the leader
      // proposes as soon as it sees a source block final, so here it is usually a few ms away:
      // poll at 5, 10, 20, 40, 80 ms, then every 100 ms, for up to about 4 s).
      for (let i = 0, waited = 0; ; i++) {
        const why = crossChainError(this.ctx.host, this.ctx.chain, payload);
        if (why === null) break;
        if (why !== 'wait' || waited >= 4000) {
          this.ctx.host.log.debug({ chain: this.ctx.chain, height: b.height, why }, 'payload refused');
          this.ctx.host.onIncident?.('validation', this.ctx.chain);
          return false;
        }
        const ms = Math.min(100, 5 * 2 ** i);
        await new Promise((r) => setTimeout(r, ms));
        waited += ms;
      }
      let base = this.ctx.exec.parentState(b.parentHash);
      for (let i = 0; !base && i < 20; i++) {
        await new Promise((r) => setTimeout(r, 50));
        base = this.ctx.exec.parentState(b.parentHash);
      }
      if (!base) return false;
      const result = applyBlock(base, body, this.ctx.host.params);
      if (result.stateRoot !== payload.stateRoot || result.receiptsRoot !== payload.receiptsRoot) return false;
      this.ctx.exec.put({ payloadHash: b.payloadHash, payload, result, height: b.height });
      return true;
    } catch (e) {
      this.ctx.host.log.debug({ chain: this.ctx.chain, err: (e as Error).message }, 'validation error');
      return false;
    }
  }
}
