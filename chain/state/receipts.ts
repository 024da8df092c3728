import { hashCanonical } from './encoding.js';
import { merkleProof, verifyMerkleProof, type MerkleProof } from './merkle.js';
import type { ChainName } from './shard.js';
import { payTo, touchAccount, touchOutbox, type ExecContext } from './ledger.js';
import { beaconRegister } from './rules/register.js';
import { beaconSlash } from './rules/slash.js';
import { beaconUnregister } from './rules/unregister.js';
import { beaconUnvote } from './rules/unvote.js';
import { beaconUpdateNode } from './rules/update-node.js';
import { beaconVote } from './rules/vote.js';
import type { ChainState, CrossReceipt, ItemResult, ReceiptConfirm } from './types.js';

export const RECEIPT_TAG = 'topvpn/cross-receipt/v1';

/** Receipt id for Merkle leaves and results: SHA-256 (hex) of canonical {tag, receipt}. */
export function receiptHash(r: CrossReceipt): string {
  return hashCanonical({ type: RECEIPT_TAG, receipt: r });
}

/** Who gets a control receipt's value back if it carried any. */
function payloadOwner(r: CrossReceipt): string {
  const p = r.payload;
  switch (p.kind) {
    case 'credit':
      return p.to;
    case 'register':
    case 'update-node':
    case 'unregister':
      return p.owner;
    case 'vote':
    case 'unvote':
      return p.voter;
    case 'slash':
      return p.reporter;
  }
}

/**
 * Applies one incoming receipt exactly once: its id must be exactly inbox[source] + 1
 * (duplicates and gaps are refused with no effect; the node retries gaps later). Once the id
 * is accepted the receipt is consumed; a beacon operation that is refused returns its value
 * to the owner through a refund receipt (status failed), so value is never lost.
 */
export function applyIncomingReceipt(draft: ChainState, r: CrossReceipt, ctx: ExecContext): ItemResult {
  const id = receiptHash(r);
  const fail = (m: string): ItemResult => ({ kind: 'receipt', id, status: 'invalid', error: { rule: 'receipt', message: m } });
  if (r.destination !== draft.chain) return fail(`receipt ${r.source}#${r.id} is for ${r.destination}, not ${draft.chain}`);
  if (r.source === draft.chain) return fail(`receipt ${r.source}#${r.id} from this chain`);
  if (typeof r.amount !== 'bigint' || r.amount < 0n) return fail(`receipt ${r.source}#${r.id}: bad amount`);
  const last = draft.inbox[r.source] ?? 0;
  if (r.id <= last) return fail(`receipt ${r.source}#${r.id}: duplicate (applied up to ${last})`);
  if (r.id !== last + 1) return fail(`receipt ${r.source}#${r.id}: gap (next expected ${last + 1})`);
  const onBeacon = draft.chain === 'beacon';
  if (r.payload.kind === 'credit' ? onBeacon : !onBeacon) return fail(`receipt ${r.source}#${r.id}: ${r.payload.kind} cannot apply on ${draft.chain}`);

  draft.inbox[r.source] = r.id;
  const p = r.payload;
  let refused: string | undefined;
  switch (p.kind) {
    case 'credit':
      touchAccount(draft, p.to).balance += r.amount;
      break;
    case 'register':
      refused = beaconRegister(draft, p.owner, p.node, r.amount, ctx);
      break;
    case 'vote':
      refused = beaconVote(draft, p.voter, p.node, r.amount, ctx);
      break;
    default: {
      // Control receipts carry no value; any value they carry goes back.
      if (r.amount > 0n) payTo(draft, ctx, payloadOwner(r), r.amount, 'refund');
      if (p.kind === 'update-node') refused = beaconUpdateNode(draft, p.owner, p.changes);
      else if (p.kind === 'unregister') refused = beaconUnregister(draft, p.owner, ctx);
      else if (p.kind === 'unvote') refused = beaconUnvote(draft, p.voter, p.node, p.amount, ctx);
      else refused = beaconSlash(draft, p.evidence, ctx);
    }
  }
  if (refused !== undefined) return { kind: 'receipt', id, status: 'failed', error: { rule: p.kind, message: refused } };
  return { kind: 'receipt', id, status: 'ok' };
}

/**
 * The destination `c.from` reports it applied our receipts up to `appliedUpTo`: they leave
 * the pending list. Regressions and confirmations of unsent ids are refused.
 */
export function applyConfirm(draft: ChainState, c: ReceiptConfirm): ItemResult {
  const id = `confirm:${c.from}`;
  const fail = (m: string): ItemResult => ({ kind: 'confirm', id, status: 'invalid', error: { rule: 'confirm', message: m } });
  const box = draft.outbox[c.from];
  if (!Number.isSafeInteger(c.appliedUpTo) || c.appliedUpTo < 0) return fail('bad appliedUpTo');
  if (!box) return c.appliedUpTo === 0 ? { kind: 'confirm', id, status: 'ok' } : fail(`nothing sent to ${c.from}`);
  if (c.appliedUpTo < box.confirmedUpTo) return fail(`confirm ${c.appliedUpTo} < already confirmed ${box.confirmedUpTo}`);
  if (c.appliedUpTo >= box.nextId) return fail(`confirm ${c.appliedUpTo} beyond last sent ${box.nextId - 1}`);
  const w = touchOutbox(draft, c.from);
  w.confirmedUpTo = c.appliedUpTo;
  w.pending = w.pending.filter((r) => r.id > c.appliedUpTo);
  return { kind: 'confirm', id, status: 'ok' };
}

/** Merkle proof that `receipts[index]` is in a block whose receiptsRoot covers `receipts` (its outgoingReceipts, in order). */
export function receiptProof(receipts: CrossReceipt[], index: number): MerkleProof {
  return merkleProof(receipts.map(receiptHash), index);
}

/** Checks a receipt against a source block's receiptsRoot. */
export function verifyReceiptProof(receiptsRoot: string, r: CrossReceipt, proof: MerkleProof): boolean {
  return verifyMerkleProof(receiptsRoot, receiptHash(r), proof);
}

/** Receipts `source` sent to `dest` that `dest` has not applied yet (appliedUpTo = dest.inbox[source]), in id order. */
export function pendingReceiptsFor(source: ChainState, dest: ChainName, appliedUpTo: number): CrossReceipt[] {
  return (source.outbox[dest]?.pending ?? []).filter((r) => r.id > appliedUpTo);
}

/**
 * Confirms `state` can include: for each chain it sent receipts to, that chain's applied id
 * (from `appliedBy(dest)` = dest.inbox[state.chain]) when it is news.
 */
export function confirmsFor(state: ChainState, appliedBy: (dest: ChainName) => number): ReceiptConfirm[] {
  const out: ReceiptConfirm[] = [];
  for (const d of Object.keys(state.outbox).sort()) {
    const n = appliedBy(d as ChainName);
    const box = state.outbox[d]!;
    if (n > box.confirmedUpTo && n < box.nextId) out.push({ from: d as ChainName, appliedUpTo: n });
  }
  return out;
}
