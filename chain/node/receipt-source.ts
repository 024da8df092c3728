/**
 * A chain as the source of cross-chain receipts: offers its final outgoing receipts with the
 * source block reference and a Merkle path (receiptsRoot of that block), and checks such
 * references for a destination chain's validators. Only final blocks held in memory are used;
 * anything else answers 'wait' (the caller retries).
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
}

export class ReceiptSource {
  /** receiptsRoot per recent height (avoids re-decoding payloads for every receipt proof). */
  private readonly receiptsRoots = new Map<number, string>();
  /** Merkle proofs of recent final blocks' outgoing receipts, keyed `${destination}#${id}`. */
  private readonly proofCache = new Map<number, Map<string, MerkleProof>>();

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
    const rec = this.ctx.recent(ref.sourceHeight);
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
  finalFor(dest: string, fromId: number, max: number): Array<{ receipt: CrossReceipt; ref: ReceiptRef }> {
    const box = this.ctx.state().outbox[dest];
    if (!box || max <= 0) return [];
    const finalHeight = this.ctx.finalHeight();
    const out: Array<{ receipt: CrossReceipt; ref: ReceiptRef }> = [];
    let want = fromId;
    for (const r of box.pending) {
      if (r.id < want) continue;
      if (r.id !== want || r.sourceHeight > finalHeight || out.length >= max) break;
      const rec = this.ctx.recent(r.sourceHeight);
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
}
