import { requireShard, toBeacon, type ExecContext } from '../ledger.js';
import type { ChainState, Tx } from '../types.js';
import type { OpOf } from './common.js';

/** Home shard: asks the beacon to start unbonding the sender's node. */
export function applyUnregister(state: ChainState, tx: Tx, _op: OpOf<'unregister'>, ctx: ExecContext): void {
  requireShard(state, 'unregister');
  toBeacon(state, ctx, 0n, { kind: 'unregister', owner: tx.from });
}

/**
 * Beacon: the node stops being eligible and its deposit returns after unbondingBlocks
 * (released by the beacon's end-of-block step). It stays slashable until then.
 */
export function beaconUnregister(state: ChainState, owner: string, ctx: ExecContext): string | undefined {
  const n = state.nodes[owner];
  if (!n) return `no node registered by ${owner.slice(0, 12)}`;
  if (n.status === 'unbonding') return `node ${owner.slice(0, 12)} is already unbonding`;
  n.status = 'unbonding';
  n.releaseHeight = ctx.height + ctx.params.unbondingBlocks;
  return undefined;
}
