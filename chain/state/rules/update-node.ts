import { reject } from '../errors.js';
import { requireShard, toBeacon, type ExecContext } from '../ledger.js';
import type { ChainState, NodeChanges, Tx } from '../types.js';
import { checkNodeChanges, type OpOf } from './common.js';

const FIELDS = ['onionKey', 'endpoints', 'pricePerGiB', 'region'] as const;

/** Home shard: validates the changes and forwards them to the beacon. Role, deposit and consensus key are immutable. */
export function applyUpdateNode(state: ChainState, tx: Tx, op: OpOf<'update-node'>, ctx: ExecContext): void {
  const rule = 'update-node';
  requireShard(state, rule);
  if (typeof op.changes !== 'object' || op.changes === null) reject(rule, 'changes must be an object');
  const keys = Object.keys(op.changes).filter((k) => (op.changes as Record<string, unknown>)[k] !== undefined);
  if (keys.length === 0) reject(rule, 'no changes');
  for (const k of keys) if (!(FIELDS as readonly string[]).includes(k)) reject(rule, `field ${k} cannot be updated`);
  checkNodeChanges(op.changes, rule, false);
  const changes: NodeChanges = {};
  for (const k of FIELDS) if (op.changes[k] !== undefined) (changes as Record<string, unknown>)[k] = op.changes[k];
  toBeacon(state, ctx, 0n, { kind: 'update-node', owner: tx.from, changes });
}

export function beaconUpdateNode(state: ChainState, owner: string, changes: NodeChanges): string | undefined {
  const n = state.nodes[owner];
  if (!n) return `no node registered by ${owner.slice(0, 12)}`;
  if (n.status === 'unbonding') return `node ${owner.slice(0, 12)} is unbonding`;
  if (n.role === 'relay' && changes.onionKey === null) return 'a relay needs an x25519 onion key';
  if (changes.onionKey !== undefined) n.onionKey = changes.onionKey;
  if (changes.endpoints !== undefined) n.endpoints = [...changes.endpoints];
  if (changes.pricePerGiB !== undefined) n.pricePerGiB = changes.pricePerGiB;
  if (changes.region !== undefined) n.region = changes.region;
  return undefined;
}
