import { hashCanonical, isHex } from '../encoding.js';
import { insertChannel } from '../draft.js';
import { reject } from '../errors.js';
import { debit, requireBalance, requirePositive, requireShard, type ExecContext } from '../ledger.js';
import type { ChainState, Tx } from '../types.js';
import { requireAddress, type OpOf } from './common.js';

/** Default channel id: SHA-256 of the canonical {tag, chainId, payer, nonce}. */
export function channelIdFor(chainId: string, payer: string, nonce: number): string {
  return hashCanonical({ type: 'topvpn/channel-id/v1', chainId, payer, nonce });
}

/** Locks `deposit` from the payer for `relay` in a new channel on the payer's shard. */
export function applyChannelOpen(state: ChainState, tx: Tx, op: OpOf<'channel-open'>, ctx: ExecContext): void {
  const rule = 'channel-open';
  requireShard(state, rule);
  requireAddress(op.relay, rule, 'relay');
  if (op.relay === tx.from) reject(rule, 'payer and relay must differ');
  requirePositive(op.deposit, rule, 'deposit');
  const id = op.channelId ?? channelIdFor(tx.chainId, tx.from, tx.nonce);
  if (typeof id !== 'string' || !isHex(id, 32)) reject(rule, 'channel id must be 32-byte hex');
  if (state.channels.get(id)) reject(rule, `channel ${id.slice(0, 12)} already exists`);
  requireBalance(state, tx.from, op.deposit, rule, `channel deposit of ${op.deposit}`);
  debit(state, tx.from, op.deposit);
  insertChannel(state, id, {
    id,
    payer: tx.from,
    relay: op.relay,
    deposit: op.deposit,
    claimed: 0n,
    seq: 0,
    cumulativeBytes: 0n,
    status: 'open',
    openedAt: ctx.height,
    closesAt: null,
  });
}
