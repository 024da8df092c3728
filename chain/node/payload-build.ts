/**
 * Cross-chain parts of a block body (receipts in, confirms out): what a proposer includes and
 * what a validator accepts. A receipt is included only once its source block is final on the
 * source chain (Merkle path to that block's receiptsRoot); a confirm only reports what the
 * destination chain has final in its inbox.
 */
import type { BlockBody, ChainState, CrossReceipt, ReceiptConfirm } from '../state/types.js';
import type { PayloadV1, ReceiptRef } from './payload.js';
import type { RuntimeHost } from './runtime-types.js';

export function bodyEmpty(b: BlockBody): boolean {
  return b.txs.length === 0 && b.receipts.length === 0 && b.confirms.length === 0;
}

/** Every chain of the network except `chain` (beacon first, then shards in order). */
export function otherChains(chain: string, shardCount: number): string[] {
  const out = ['beacon'];
  for (let i = 0; i < shardCount; i++) out.push(`shard-${i}`);
  return out.filter((c) => c !== chain);
}

/** Receipts (with refs) and confirms for a block of `chain` built on state `base`. */
export function crossChainParts(host: RuntimeHost, chain: string, base: ChainState, shardCount: number, maxReceipts: number): { receipts: CrossReceipt[]; refs: ReceiptRef[]; confirms: ReceiptConfirm[] } {
  const receipts: CrossReceipt[] = [];
  const refs: ReceiptRef[] = [];
  for (const src of otherChains(chain, shardCount)) {
    const rt = host.runtime(src);
    if (!rt) continue;
    const next = (base.inbox[src] ?? 0) + 1;
    for (const { receipt, ref } of rt.finalReceiptsFor(chain, next, maxReceipts - receipts.length)) {
      receipts.push(receipt);
      refs.push(ref);
    }
  }
  const confirms: ReceiptConfirm[] = [];
  for (const dest of Object.keys(base.outbox).sort()) {
    const rt = host.runtime(dest);
    const applied = rt?.finalInbox[chain] ?? 0;
    const box = base.outbox[dest]!;
    if (applied > box.confirmedUpTo && applied < box.nextId) confirms.push({ from: dest as ReceiptConfirm['from'], appliedUpTo: applied });
  }
  return { receipts, refs, confirms };
}

/** null = ok; 'wait' = a referenced source block is not final here yet; else the reason. */
export function crossChainError(host: RuntimeHost, chain: string, p: PayloadV1): string | null {
  for (let i = 0; i < p.body.receipts.length; i++) {
    const r = p.body.receipts[i]!;
    const ref = p.refs[i]!;
    if (r.destination !== chain) return 'receipt for another chain';
    const src = host.runtime(r.source);
    if (!src) return 'unknown source chain';
    const e = src.checkReceiptRef(r, ref);
    if (e) return e;
  }
  for (const c of p.body.confirms) {
    const rt = host.runtime(c.from);
    if (!rt) return 'unknown confirm chain';
    if ((rt.finalInbox[chain] ?? 0) < c.appliedUpTo) return 'wait';
  }
  return null;
}
