/**
 * A chain as the source of cross-chain receipts: offers its final outgoing receipts with the
 * source block reference and a Merkle path (receiptsRoot of that block), and checks such
 * references for a destination chain's validators. Only final blocks are used. A final block no
 * longer held in memory (committed before the node restarted, or older than the runtime keeps)
 * is read from the store: the call that misses it answers 'wait' (checkRef) or stops at it
 * (finalFor) and starts the read, and a later call (the caller retries) finds it.
 */
import { verifyMerkleProof, type MerkleProof } from '../state/merkle.js';
import { receiptHash } from '../state/receipts.js';
import type { ChainState, CrossReceipt } from '../state/types.js';
import { merkleProofsAll } from './merkle-batch.js';
import { decodePayload, type BlockRecord, type ReceiptRef } from './payload.js';

/** What the source reads from its chain runtime. */
export interface ReceiptSourceContext {
  readonly chain: string;
  finalHeight(): number;
  state(): ChainState;
  recent(height: number): BlockRecord | undefined;
  /** The stored record of a committed height (undefined: not in the store). */
  stored(height: number): Promise<BlockRecord | undefined>;
  /** A store read failed (logged by the host; the next miss reads again). */
  onReadError(height: number, err: Error): void;
}

/** Final records read from the store, kept for the calls that retry (oldest dropped first). */
export const STORED_RECORDS_KEPT = 64;
/** Source blocks read at once for a backlog of receipts (at most half of STORED_RECORDS_KEPT). */
export const STORE_READ_AHEAD = 32;

export class ReceiptSource {
  /** receiptsRoot per recent height (avoids re-decoding payloads for every receipt proof). */
  private readonly receiptsRoots = new Map<number, string>();
  /** Merkle proofs of recent final blocks' outgoing receipts, keyed `${destination}#${id}`. */
  private readonly proofCache = new Map<number, Map<string, MerkleProof>>();
  /** Final records read from the store (heights the runtime no longer holds), at most STORED_RECORDS_KEPT. */
  private readonly fromStore = new Map<number, BlockRecord>();
  private readonly reading = new Set<number>();

  constructor(private readonly ctx: ReceiptSourceContext) {}

  noteRoot(height: number, receiptsRoot: string): void {
    this.receiptsRoots.set(height, receiptsRoot);
  }

  forget(height: number): void {
    this.receiptsRoots.delete(height);
  }

  /** Checks a receipt against this (source) chain's final blocks; 'wait' if not final yet. */
  checkRef(r: CrossReceipt, ref: ReceiptRef): string | null {
    if (r.source !== this.ctx.chain) return 'receipt source mismatch';
    if (ref.sourceHeight > this.ctx.finalHeight()) return 'wait';
    const rec = this.finalRecord(ref.sourceHeight);
    if (!rec) return 'wait'; // being read from the store (the caller retries)
    if (rec.block.hash !== ref.blockHash) return 'receipt ref: block hash mismatch';
    let root = this.receiptsRoots.get(ref.sourceHeight);
    if (root === undefined) {
      root = decodePayload(rec.block.payload).receiptsRoot;
      this.receiptsRoots.set(ref.sourceHeight, root);
    }
    return verifyMerkleProof(root, receiptHash(r), ref.proof) ? null : 'receipt ref: bad Merkle proof';
  }

  /** Final receipts to `dest` with ids from `fromId`, consecutive, at most `max`. */
  finalFor(dest: string, fromId: number, max: number): Array<{ receipt: CrossReceipt; ref: ReceiptRef }> {
    const box = this.ctx.state().outbox[dest];
    if (!box || max <= 0) return [];
    const finalHeight = this.ctx.finalHeight();
    const out: Array<{ receipt: CrossReceipt; ref: ReceiptRef }> = [];
    let want = fromId;
    for (const r of box.pending) {
      if (r.id < want) continue;
      if (r.id !== want || r.sourceHeight > finalHeight || out.length >= max) break;
      const rec = this.held(r.sourceHeight);
      if (!rec) {
        this.readAhead(box.pending, r.sourceHeight, finalHeight);
        break;
      }
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

  private held(height: number): BlockRecord | undefined {
    return this.ctx.recent(height) ?? this.fromStore.get(height);
  }

  /** A final height's record from memory, or undefined while it is read from the store. */
  private finalRecord(height: number): BlockRecord | undefined {
    const rec = this.held(height);
    if (!rec) this.read(height);
    return rec;
  }

  /**
   * Reads the final blocks of the pending receipts from height `from` on that are not held, up
   * to STORE_READ_AHEAD of them: a destination working through a backlog (it was halted) takes
   * that many source blocks' receipts per block of its own, not one.
   */
  private readAhead(pending: readonly CrossReceipt[], from: number, finalHeight: number): void {
    let last = -1;
    let started = 0;
    for (const r of pending) {
      const h = r.sourceHeight;
      if (h < from || h === last) continue;
      if (h > finalHeight || started >= STORE_READ_AHEAD) break;
      last = h;
      if (!this.held(h)) {
        this.read(h);
        started++;
      }
    }
  }

  private read(height: number): void {
    if (this.reading.has(height)) return;
    this.reading.add(height);
    this.ctx.stored(height).then(
      (rec) => {
        this.reading.delete(height);
        if (!rec) return;
        this.fromStore.set(height, rec);
        if (this.fromStore.size > STORED_RECORDS_KEPT) {
          const oldest = this.fromStore.keys().next().value!;
          this.fromStore.delete(oldest);
          if (!this.ctx.recent(oldest)) this.receiptsRoots.delete(oldest);
        }
      },
      (e: unknown) => {
        this.reading.delete(height);
        this.ctx.onReadError(height, e as Error);
      },
    );
  }
}
