import { reject } from '../errors.js';
import { requireShard, toBeacon, type ExecContext } from '../ledger.js';
import type { ChainState, Tx } from '../types.js';
import { checkVoteEvidence, evidenceKey, InvalidEvidenceError, type VoteEvidence } from '../vote-evidence.js';
import type { OpOf } from './common.js';

function check(e: VoteEvidence, chainId: string, rule: string): string {
  try {
    return checkVoteEvidence(e, chainId);
  } catch (err) {
    if (err instanceof InvalidEvidenceError) reject(rule, `invalid evidence: ${err.message}`);
    throw err;
  }
}

/** Home shard of the reporter: checks the evidence and forwards it to the beacon. */
export function applySlash(state: ChainState, tx: Tx, op: OpOf<'slash'>, ctx: ExecContext): void {
  const rule = 'slash';
  requireShard(state, rule);
  check(op.evidence, state.chainId, rule);
  toBeacon(state, ctx, 0n, { kind: 'slash', reporter: tx.from, evidence: op.evidence });
}

/**
 * Beacon: burns slashBps of the offending node's deposit and jails it (tombstone: a jailed
 * node is never elected nor rewarded again; it may unregister to recover the rest). Unbonding
 * nodes are still slashed. One slash per (signer, chain, height, view).
 */
export function beaconSlash(state: ChainState, evidence: VoteEvidence, ctx: ExecContext): string | undefined {
  let signer: string;
  try {
    signer = checkVoteEvidence(evidence, state.chainId);
  } catch (err) {
    if (err instanceof InvalidEvidenceError) return `invalid evidence: ${err.message}`;
    throw err;
  }
  const owner = Object.keys(state.nodes).sort().find((k) => state.nodes[k]!.consensusKey === signer);
  if (owner === undefined) return `no node with consensus key ${signer.slice(0, 12)}`;
  const key = evidenceKey(evidence);
  if (state.slashedEvidence[key] !== undefined) return 'offence already slashed';
  const n = state.nodes[owner]!;
  const amount = (n.deposit * ctx.params.slashBps) / 10_000n;
  n.deposit -= amount;
  n.slashed += amount;
  state.burned += amount;
  if (n.status === 'active') n.status = 'jailed';
  state.slashedEvidence[key] = ctx.height;
  return undefined;
}

