/**
 * Payloads this node executed (built as leader or validated as a voter) for uncommitted
 * blocks, keyed by payload hash, and the payload hash of each such block. An entry is dropped
 * once its height commits (commit reuses the result) or when the committee switches.
 */
import type { Block } from '../consensus/types.js';
import { applyBlock } from '../state/apply.js';
import type { ChainState } from '../state/types.js';
import { bodyEmpty } from './payload-build.js';
import { decodePayload } from './payload.js';
import type { ExecEntry, RuntimeHost } from './runtime-types.js';

/** What the cache reads from its chain runtime. */
export interface ExecContext {
  readonly host: RuntimeHost;
  readonly genesisHash: string;
  height(): number;
  tipHash(): string;
  tipState(): ChainState;
  /** The committed tip carried nothing. */
  tipEmpty(): boolean;
  /** An uncommitted block the running core holds (undefined without a core). */
  lookup(hash: string): Block | undefined;
  hasCore(): boolean;
}

export class ExecCache {
  private readonly exec = new Map<string, ExecEntry>(); // payloadHash → result
  private readonly blockPayload = new Map<string, string>(); // blockHash → payloadHash

  constructor(private readonly ctx: ExecContext) {}

  notePayload(blockHash: string, payloadHash: string): void {
    this.blockPayload.set(blockHash, payloadHash);
  }

  put(e: ExecEntry): void {
    this.exec.set(e.payloadHash, e);
  }

  get(payloadHash: string): ExecEntry | undefined {
    return this.exec.get(payloadHash);
  }

  entries(): IterableIterator<ExecEntry> {
    return this.exec.values();
  }

  clear(): void {
    this.exec.clear();
    this.blockPayload.clear();
  }

  /** Height `height` (block `blockHash`) committed: drops entries at or below it. */
  pruneCommitted(height: number, blockHash: string): void {
    for (const [ph, e] of this.exec) if (e.height <= height) this.exec.delete(ph);
    for (const [bh, ph] of this.blockPayload) if (!this.exec.has(ph) && bh !== blockHash) this.blockPayload.delete(bh);
  }

  /** State after block `parentHash` (the tip, an executed block, or executed now), if known. */
  parentState(parentHash: string): ChainState | undefined {
    if (parentHash === this.ctx.tipHash()) return this.ctx.tipState();
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
    if (!this.ctx.hasCore() || depth > 64) return undefined;
    if (hash === this.ctx.tipHash()) return this.ctx.tipState();
    const b = this.ctx.lookup(hash);
    if (!b || b.height <= this.ctx.height()) return undefined;
    const ph = this.blockPayload.get(hash);
    const done = ph ? this.exec.get(ph) : undefined;
    if (done) return done.result.state;
    const base = this.executeAncestors(b.parentHash, depth + 1);
    if (!base) return undefined;
    try {
      const payload = decodePayload(b.payload);
      const result = applyBlock(base, payload.body, this.ctx.host.params);
      if (result.stateRoot !== payload.stateRoot || result.receiptsRoot !== payload.receiptsRoot) return undefined;
      this.blockPayload.set(b.hash, b.payloadHash);
      this.exec.set(b.payloadHash, { payloadHash: b.payloadHash, payload, result, height: b.height });
      return result.state;
    } catch {
      return undefined;
    }
  }

  /** True if the block with this hash carried nothing (unknown blocks count as empty). */
  blockEmpty(hash: string): boolean {
    if (hash === this.ctx.genesisHash) return true;
    if (hash === this.ctx.tipHash()) return this.ctx.tipEmpty();
    const ph = this.blockPayload.get(hash);
    const e = ph ? this.exec.get(ph) : undefined;
    return e ? bodyEmpty(e.payload.body) : true;
  }
}
