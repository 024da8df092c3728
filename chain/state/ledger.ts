import type { ChainParams } from './params.js';
import { reject } from './errors.js';
import { homeChain, type ChainName } from './shard.js';
import { insertAccount, insertOutbox, writableAccount, writableChannel, writableOutbox } from './draft.js';
import type { Account, Channel, ChainState, CreditMemo, CrossReceipt, Outbox, ReceiptPayload } from './types.js';

/** What every rule gets besides the state: parameters and the height of the block being applied. */
export interface ExecContext {
  params: ChainParams;
  height: number;
}

export function emptyAccount(): Account {
  return { balance: 0n, nonce: 0, resource: { locked: 0n, used: 0n, lastHeight: 0, lockedAt: 0 } };
}

/** The account (or a fresh zero account, not inserted). */
export function accountOf(state: ChainState, address: string): Account {
  return state.accounts.get(address) ?? emptyAccount();
}

/**
 * The account for writing, inserted if missing (mutates the draft). In a copy-on-write draft
 * (draft.ts) an account still shared with the parent state is copied first. Every write to
 * an account goes through here; `accountOf` is for reading only.
 */
export function touchAccount(state: ChainState, address: string): Account {
  return writableAccount(state, address) ?? insertAccount(state, address, emptyAccount());
}

/** The channel for writing (copied first in a draft), or undefined. `state.channels.get(id)` is for reading only. */
export function touchChannel(state: ChainState, id: string): Channel | undefined {
  return writableChannel(state, id);
}

/** The outbox to `dest` for writing (copied first in a draft), inserted if missing. */
export function touchOutbox(state: ChainState, dest: ChainName): Outbox {
  return writableOutbox(state, dest) ?? insertOutbox(state, dest, { nextId: 1, confirmedUpTo: 0, pending: [] });
}

export function requireBalance(state: ChainState, address: string, amount: bigint, rule: string, what: string): void {
  const bal = accountOf(state, address).balance;
  if (bal < amount) reject(rule, `${what}: balance ${bal} < ${amount}`);
}

export function requirePositive(amount: bigint, rule: string, what: string): void {
  if (typeof amount !== 'bigint' || amount <= 0n) reject(rule, `${what} must be a positive bigint, got ${String(amount)}`);
}

/** Debits an amount already checked with requireBalance. */
export function debit(state: ChainState, address: string, amount: bigint): void {
  touchAccount(state, address).balance -= amount;
}

/** Appends an outgoing receipt to `dest` with the next id of that pair. */
export function emitReceipt(state: ChainState, ctx: ExecContext, dest: ChainName, amount: bigint, payload: ReceiptPayload): CrossReceipt {
  const box = touchOutbox(state, dest);
  const r: CrossReceipt = { source: state.chain, destination: dest, id: box.nextId, sourceHeight: ctx.height, amount, payload };
  box.nextId += 1;
  box.pending.push(r);
  return r;
}

/**
 * Pays `amount` to `to`: on this chain if it is `to`'s home shard, else through a credit
 * receipt to the home shard (the beacon always pays through receipts).
 */
export function payTo(state: ChainState, ctx: ExecContext, to: string, amount: bigint, memo: CreditMemo): void {
  if (amount === 0n) return;
  const home = homeChain(to, state.shardCount);
  if (home === state.chain) touchAccount(state, to).balance += amount;
  else emitReceipt(state, ctx, home, amount, { kind: 'credit', to, memo });
}

/** Sends a control/value receipt to the beacon. */
export function toBeacon(state: ChainState, ctx: ExecContext, amount: bigint, payload: ReceiptPayload): void {
  emitReceipt(state, ctx, 'beacon', amount, payload);
}

export function requireShard(state: ChainState, rule: string): void {
  if (state.chain === 'beacon') reject(rule, 'the beacon executes no transactions; submit on your home shard');
}
