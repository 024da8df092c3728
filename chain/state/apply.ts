import { EncodingError, isAddress } from './encoding.js';
import { BlockRejectedError, reject, TxRejectedError } from './errors.js';
import { accountOf, touchAccount, type ExecContext } from './ledger.js';
import type { ChainParams } from './params.js';
import { beaconEndBlock } from './beacon.js';
import { memoOn } from './memo.js';
import { merkleRoot } from './merkle.js';
import { applyConfirm, applyIncomingReceipt, receiptHash } from './receipts.js';
import { consumeQuota, quotaCovers } from './resource.js';
import { homeChain } from './shard.js';
import { txHashOf } from './tx.js';
import { beginDraft, endDraft } from './draft.js';
import { fullCommitment, nextCommitment, type StateCommitment } from './commitment.js';
import type { BlockBody, BlockResult, ChainState, CrossReceipt, ItemResult, SignedTx, Tx } from './types.js';
import { applyChannelClaim } from './rules/channel-claim.js';
import { applyChannelClose } from './rules/channel-close.js';
import { applyChannelFinalize } from './rules/channel-finalize.js';
import { applyChannelOpen } from './rules/channel-open.js';
import { applyRegister } from './rules/register.js';
import { applyResourceDeposit } from './rules/resource-deposit.js';
import { applyResourceWithdraw } from './rules/resource-withdraw.js';
import { applySlash } from './rules/slash.js';
import { applyTransfer } from './rules/transfer.js';
import { applyUnregister } from './rules/unregister.js';
import { applyUnvote } from './rules/unvote.js';
import { applyUpdateNode } from './rules/update-node.js';
import { applyVote } from './rules/vote.js';

/** Deep copy of a state (shares nothing with `s`; its maps are frozen). */
export function cloneState(s: ChainState): ChainState {
  const { accounts, channels, ...rest } = s;
  return { ...s, ...structuredClone(rest), accounts: accounts.clone(), channels: channels.clone() }; // s first: the same key order
}

/** Commitments of the states applyBlock returned (values: never mutated, see draft.ts). */
const commitments = new WeakMap<ChainState, StateCommitment>();
/** receiptHash per receipt object (memo.ts), for receipts held by states applyBlock made. */
const RECEIPT_HASH = Symbol('topvpn.receiptHash');
function cachedReceiptHash(r: CrossReceipt): string {
  return memoOn(r, RECEIPT_HASH, receiptHash);
}

/**
 * Deterministic state root (commitment.ts: per-map Merkle trees, then the top-level fields).
 * For a state returned by applyBlock it was computed incrementally and is read from a cache;
 * for any other state it is computed from scratch.
 */
export function stateRoot(s: ChainState): string {
  return commitments.get(s)?.root ?? fullCommitment(s, receiptHash).root;
}

/** The state root recomputed from scratch, ignoring any cache (tests compare it with stateRoot). */
export function stateRootFull(s: ChainState): string {
  return fullCommitment(s, receiptHash).root;
}

function runRule(draft: ChainState, tx: Tx, ctx: ExecContext): void {
  const op = tx.op;
  switch (op.type) {
    case 'transfer':
      return applyTransfer(draft, tx, op, ctx);
    case 'register':
      return applyRegister(draft, tx, op, ctx);
    case 'update-node':
      return applyUpdateNode(draft, tx, op, ctx);
    case 'unregister':
      return applyUnregister(draft, tx, op, ctx);
    case 'vote':
      return applyVote(draft, tx, op, ctx);
    case 'unvote':
      return applyUnvote(draft, tx, op, ctx);
    case 'channel-open':
      return applyChannelOpen(draft, tx, op, ctx);
    case 'channel-close':
      return applyChannelClose(draft, tx, op, ctx);
    case 'channel-finalize':
      return applyChannelFinalize(draft, tx, op, ctx);
    case 'slash':
      return applySlash(draft, tx, op, ctx);
    case 'resource-deposit':
      return applyResourceDeposit(draft, tx, op, ctx);
    case 'resource-withdraw':
      return applyResourceWithdraw(draft, tx, op, ctx);
    case 'channel-claim':
      return reject('tx', 'channel-claim is applied without nonce/fee accounting');
    default:
      return reject('tx', `unknown tx type ${String((op as { type?: unknown }).type)}`);
  }
}

interface Envelope {
  id: string;
  /** Set when the tx is invalid (no effect). */
  invalid?: ItemResult;
  /** A resource quota pays this tx's fee. */
  covered: boolean;
}

/** The checks that make a tx invalid (no effect), shared by applyTxInPlace and precheckTx. Reads only. */
function checkEnvelope(state: ChainState, stx: SignedTx, ctx: ExecContext): Envelope {
  const tx = stx.tx;
  let id: string;
  try {
    id = txHashOf(stx);
  } catch {
    return { id: '', covered: false, invalid: { kind: 'tx', id: '', status: 'invalid', error: { rule: 'tx', message: 'tx cannot be encoded' } } };
  }
  const invalid = (rule: string, message: string): Envelope => ({ id, covered: false, invalid: { kind: 'tx', id, status: 'invalid', error: { rule, message } } });
  if (tx.chainId !== state.chainId) return invalid('tx', `chain id ${String(tx.chainId)} ≠ ${state.chainId}`);
  if (tx.chain !== state.chain) return invalid('tx', `tx is for ${String(tx.chain)}, this is ${state.chain}`);
  if (state.chain === 'beacon') return invalid('tx', 'the beacon executes no transactions; submit on your home shard');
  if (typeof tx.fee !== 'bigint' || tx.fee < 0n) return invalid('fee', 'fee must be a non-negative bigint');
  if (typeof tx.op !== 'object' || tx.op === null) return invalid('tx', 'missing op');
  if (typeof tx.from !== 'string' || !isAddress(tx.from)) return invalid('tx', 'sender is not a 32-byte hex address');
  if (tx.op.type === 'channel-claim') return { id, covered: false };
  if (!Number.isSafeInteger(tx.nonce) || tx.nonce < 0) return invalid('nonce', 'nonce must be a non-negative integer');
  const home = homeChain(tx.from, state.shardCount);
  if (home !== state.chain) return invalid('tx', `account ${tx.from.slice(0, 12)} lives on ${home}, not ${state.chain}`);
  const acct = accountOf(state, tx.from);
  if (tx.nonce !== acct.nonce) return invalid('nonce', `nonce ${tx.nonce} ≠ expected ${acct.nonce}`);
  const covered = quotaCovers(acct.resource, ctx.params.resource, ctx.height);
  if (!covered) {
    if (tx.fee < ctx.params.minFee) return invalid('fee', `fee ${tx.fee} < minimum ${ctx.params.minFee} (no resource quota left)`);
    if (acct.balance < tx.fee) return invalid('fee', `balance ${acct.balance} < fee ${tx.fee}`);
  }
  return { id, covered };
}

/**
 * Cheap mempool check without copying the state: the envelope checks that make a tx invalid
 * (chain, sender's shard, nonce === account nonce, fee payable). Returns the invalid result,
 * or undefined if the tx may enter a block (its rule may still fail there; channel-claims are
 * only fully checked by applyTx/applyBlock).
 */
export function precheckTx(state: ChainState, stx: SignedTx, params: ChainParams, height: number = state.height + 1): ItemResult | undefined {
  return checkEnvelope(state, stx, { params, height }).invalid;
}

/**
 * Applies one (signature-verified) tx to the draft in place. Policy:
 *  - invalid (no effect at all): wrong chain id / chain, sender not on this shard, nonce ≠
 *    account nonce, fee below minimum or unpayable (when no resource quota covers the tx);
 *    every rejected channel-claim.
 *  - failed: the rule refused; the nonce is bumped and the fee burned (or quota used), nothing else.
 *  - ok: applied.
 */
export function applyTxInPlace(draft: ChainState, stx: SignedTx, ctx: ExecContext): ItemResult {
  const tx = stx.tx;
  const env = checkEnvelope(draft, stx, ctx);
  if (env.invalid) return env.invalid;
  const id = env.id;
  const invalid = (rule: string, message: string): ItemResult => ({ kind: 'tx', id, status: 'invalid', error: { rule, message } });

  if (tx.op.type === 'channel-claim') {
    try {
      const { fee } = applyChannelClaim(draft, tx, tx.op, ctx);
      return { kind: 'tx', id, status: 'ok', feeCharged: fee };
    } catch (e) {
      if (e instanceof TxRejectedError) return invalid(e.rule, e.message);
      if (e instanceof TypeError || e instanceof EncodingError) return invalid('channel-claim', 'malformed claim');
      throw e;
    }
  }

  const a = touchAccount(draft, tx.from);
  let feeCharged = 0n;
  if (env.covered) consumeQuota(a.resource, ctx.params.resource, ctx.height);
  else {
    a.balance -= tx.fee;
    draft.burned += tx.fee;
    feeCharged = tx.fee;
  }
  a.nonce += 1;
  try {
    runRule(draft, tx, ctx);
  } catch (e) {
    if (e instanceof TxRejectedError) return { kind: 'tx', id, status: 'failed', error: { rule: e.rule, message: e.message }, feeCharged };
    // Malformed fields are caught by the rules' checks, before any mutation.
    if (e instanceof TypeError || e instanceof EncodingError) return { kind: 'tx', id, status: 'failed', error: { rule: tx.op.type, message: 'malformed tx' }, feeCharged };
    throw e;
  }
  return { kind: 'tx', id, status: 'ok', feeCharged };
}

/** Pure single-tx application at `height` (for mempool checks): returns a new state. */
export function applyTx(state: ChainState, stx: SignedTx, params: ChainParams, height: number = state.height + 1): { state: ChainState; result: ItemResult } {
  const draft = beginDraft(state);
  const result = applyTxInPlace(draft, stx, { params, height });
  endDraft(draft);
  return { state: result.status === 'invalid' ? state : draft, result };
}

/**
 * Applies a block: confirms, then incoming receipts, then txs (all in the given order), then
 * the beacon's end-of-block step. Signatures are NOT checked here: the node verifies each tx
 * once (ChainNode.verifyTx) and each receipt's proof before building/accepting the block.
 * Throws BlockRejectedError if the block is for another chain or height.
 */
export function applyBlock(state: ChainState, block: BlockBody, params: ChainParams): BlockResult {
  if (block.chain !== state.chain) throw new BlockRejectedError(`block for ${block.chain} applied to ${state.chain}`);
  if (block.height !== state.height + 1) throw new BlockRejectedError(`block height ${block.height} ≠ ${state.height + 1}`);
  if (params.chainId !== state.chainId || params.shardCount !== state.shardCount) throw new BlockRejectedError('params do not match the state (chain id / shard count)');
  const draft = beginDraft(state);
  draft.height = block.height;
  const ctx: ExecContext = { params, height: block.height };
  const results: ItemResult[] = [];
  for (const c of block.confirms) results.push(applyConfirm(draft, c));
  for (const r of block.receipts) results.push(applyIncomingReceipt(draft, r, ctx));
  for (const stx of block.txs) results.push(applyTxInPlace(draft, stx, ctx));
  if (draft.chain === 'beacon') beaconEndBlock(draft, ctx);
  const outgoingReceipts = Object.keys(draft.outbox)
    .sort()
    .flatMap((d) => draft.outbox[d]!.pending.filter((r) => r.sourceHeight === block.height));
  endDraft(draft);
  const base = commitments.get(state) ?? fullCommitment(state, cachedReceiptHash);
  const c = nextCommitment(state, base, draft, cachedReceiptHash);
  commitments.set(draft, c);
  return {
    state: draft,
    results,
    outgoingReceipts,
    receiptsRoot: merkleRoot(outgoingReceipts.map(cachedReceiptHash)),
    stateRoot: c.root,
  };
}

/** The named error behind a rejected result (undefined for ok), e.g. for RPC replies. */
export function rejectionOf(r: ItemResult): TxRejectedError | undefined {
  return r.status === 'ok' || !r.error ? undefined : new TxRejectedError(r.error.rule, r.error.message);
}
