import { isHex } from '../encoding.js';
import { reject } from '../errors.js';
import { debit, payTo, requireBalance, requireShard, toBeacon, type ExecContext } from '../ledger.js';
import { ROLES } from '../params.js';
import type { ChainState, NodeSpec, Tx } from '../types.js';
import { checkNodeChanges, type OpOf } from './common.js';

/** Validates a node spec against the role's rules (keys, endpoints, price, region). */
export function checkNodeSpec(spec: NodeSpec, rule: string): void {
  if (!ROLES.includes(spec.role)) reject(rule, `unknown role ${String(spec.role)}`);
  if (typeof spec.consensusKey !== 'string' || !isHex(spec.consensusKey, 32)) reject(rule, 'consensus key must be 32-byte hex (ed25519)');
  if (spec.role === 'relay' && spec.onionKey === null) reject(rule, 'a relay needs an x25519 onion key');
  checkNodeChanges({ onionKey: spec.onionKey, endpoints: spec.endpoints, pricePerGiB: spec.pricePerGiB, region: spec.region }, rule, spec.role === 'relay');
}

/** Home shard: locks the deposit and sends it with the node spec to the beacon. */
export function applyRegister(state: ChainState, tx: Tx, op: OpOf<'register'>, ctx: ExecContext): void {
  const rule = 'register';
  requireShard(state, rule);
  const spec: NodeSpec = {
    role: op.role,
    consensusKey: op.consensusKey,
    onionKey: op.onionKey,
    endpoints: op.endpoints,
    pricePerGiB: op.pricePerGiB,
    region: op.region,
  };
  checkNodeSpec(spec, rule);
  const min = ctx.params.minDeposit[op.role];
  if (typeof op.deposit !== 'bigint' || op.deposit < min) reject(rule, `deposit ${String(op.deposit)} < ${op.role} minimum ${min}`);
  requireBalance(state, tx.from, op.deposit, rule, `deposit of ${op.deposit}`);
  debit(state, tx.from, op.deposit);
  toBeacon(state, ctx, op.deposit, { kind: 'register', owner: tx.from, node: { ...spec, endpoints: [...spec.endpoints] } });
}

/**
 * Beacon: creates the node record with the carried deposit. Refuses (returns a message and
 * refunds the deposit) if the owner already has a node or the consensus key is taken.
 */
export function beaconRegister(state: ChainState, owner: string, node: NodeSpec, amount: bigint, ctx: ExecContext): string | undefined {
  const refuse = (m: string): string => {
    payTo(state, ctx, owner, amount, 'refund');
    return m;
  };
  if (state.nodes[owner]) return refuse(`node ${owner.slice(0, 12)} already registered`);
  for (const k of Object.keys(state.nodes).sort()) {
    if (state.nodes[k]!.consensusKey === node.consensusKey) return refuse(`consensus key already used by node ${k.slice(0, 12)}`);
  }
  if (amount < ctx.params.minDeposit[node.role]) return refuse(`deposit ${amount} < ${node.role} minimum`);
  state.nodes[owner] = {
    ...node,
    endpoints: [...node.endpoints],
    owner,
    deposit: amount,
    status: 'active',
    registeredAt: ctx.height,
    releaseHeight: null,
    slashed: 0n,
  };
  return undefined;
}
