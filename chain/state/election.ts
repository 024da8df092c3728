import { createHash } from 'node:crypto';
import { canonicalBytes, sha256 } from './encoding.js';
import type { ChainParams, Role } from './params.js';
import type { ChainState } from './types.js';

export interface ShardCommittee {
  shard: number;
  /** Run the shard's consensus (validator-role nodes), sorted by address. */
  validators: string[];
  /** Re-execute and co-sign the shard's blocks (auditor-role nodes), sorted, disjoint from `validators`. */
  auditors: string[];
}

export interface Committees {
  beacon: string[];
  shards: ShardCommittee[];
}

/** What the election reads: the beacon's node registry and votes (pass the beacon state). */
export type ElectionRegistry = Pick<ChainState, 'nodes' | 'votes'>;

/** Election seed from the hash of the previous quorum certificate and the epoch number. */
export function electionSeed(qcHash: string, epoch: number): Uint8Array {
  return sha256(canonicalBytes({ type: 'topvpn/election-seed/v1', qcHash, epoch }));
}

/** Deterministic stream of uniform draws below n, from sha256(seed || label || counter). */
class Draws {
  private counter = 0;
  constructor(
    private readonly seed: Uint8Array,
    private readonly label: string,
  ) {}
  below(n: bigint): bigint {
    const h = createHash('sha256').update(this.seed).update(`${this.label}:${this.counter++}`).digest('hex');
    return BigInt('0x' + h) % n; // bias ≤ n / 2^256
  }
}

/** Stake weight of every active node of `role`: deposit + votes on it. */
export function stakeWeights(reg: ElectionRegistry, role: Role): Map<string, bigint> {
  const w = new Map<string, bigint>();
  for (const k of Object.keys(reg.nodes).sort()) {
    const n = reg.nodes[k]!;
    if (n.status === 'active' && n.role === role) w.set(k, n.deposit);
  }
  for (const k of Object.keys(reg.votes).sort()) {
    const v = reg.votes[k]!;
    const cur = w.get(v.node);
    if (cur !== undefined) w.set(v.node, cur + v.amount);
  }
  return w;
}

/** Follow-the-satoshi: one stake-weighted pick among `pool` minus `excluded`. */
function pickWeighted(pool: Map<string, bigint>, excluded: Set<string>, d: Draws): string | undefined {
  const cands = [...pool.keys()].filter((k) => !excluded.has(k)).sort();
  let total = 0n;
  for (const k of cands) total += pool.get(k)!;
  if (total === 0n) return undefined;
  let r = d.below(total);
  for (const k of cands) {
    const w = pool.get(k)!;
    if (r < w) return k;
    r -= w;
  }
  return undefined;
}

interface Draft {
  group: string[];
  dropped: Set<string>;
  d: Draws;
  size: number;
}

/**
 * Elects groups of one kind (disjoint from each other and from `assigned`) in two phases so
 * that no group loses a sitting member to another group's refill: first every group keeps its
 * previous members that are still eligible and drops at most floor(size / rotationDivisor) of
 * them (chosen uniformly; only as many as the spare nodes left after every group's vacancies —
 * seats of members no longer eligible — are filled, so a rotation never leaves a group short);
 * then every group is filled up to its size by stake-weighted picks, never re-picking its own
 * dropped members. Mutates `assigned`.
 */
function electGroups(pool: Map<string, bigint>, specs: { size: number; prev: string[] | undefined; label: string }[], assigned: Set<string>, rotationDivisor: number, seed: Uint8Array): string[][] {
  const drafts: Draft[] = [];
  for (const spec of specs) {
    const group: string[] = [];
    if (spec.prev) for (const m of [...spec.prev].sort()) if (pool.has(m) && !assigned.has(m) && group.length < spec.size) group.push(m);
    for (const m of group) assigned.add(m);
    drafts.push({ group, dropped: new Set(), d: new Draws(seed, spec.label), size: spec.size });
  }
  const spare = [...pool.keys()].filter((k) => !assigned.has(k)).length;
  let vacancies = 0;
  for (const dr of drafts) vacancies += dr.size - dr.group.length;
  for (const dr of drafts) {
    if (dr.group.length === 0) continue;
    const rot = Math.max(0, Math.min(Math.floor(dr.size / rotationDivisor), spare - vacancies, dr.group.length));
    for (let i = 0; i < rot; i++) {
      const idx = Number(dr.d.below(BigInt(dr.group.length)));
      dr.dropped.add(dr.group[idx]!);
      dr.group.splice(idx, 1);
    }
  }
  // Dropped members are free for other groups' refills, not their own.
  for (const dr of drafts) for (const m of dr.dropped) assigned.delete(m);
  for (const dr of drafts) {
    while (dr.group.length < dr.size) {
      const m = pickWeighted(pool, new Set([...assigned, ...dr.dropped]), dr.d);
      if (m === undefined) break;
      dr.group.push(m);
      assigned.add(m);
    }
  }
  return drafts.map((dr) => dr.group.sort());
}

/**
 * Elects per shard a validator group (validator-role nodes, disjoint across shards) and an
 * auditor group (auditor-role nodes, disjoint across shards, so never auditing its own
 * validator group), plus the beacon committee: `beaconSize` active validator- or auditor-role
 * nodes, stake-weighted, keeping its still-eligible previous members and rotating at most
 * floor(beaconSize / rotationDivisor) of them per epoch like every group. The beacon is elected
 * independently of the shard groups, so a node sits in at most the beacon committee and one
 * shard group (validator or auditor). Pure and deterministic in (registry, seed, params,
 * previous). Groups are smaller than the parameter when there are not enough eligible nodes.
 */
export function electCommittees(registry: ElectionRegistry, seed: Uint8Array, params: ChainParams, previous?: Committees): Committees {
  const c = params.committee;
  const validators = stakeWeights(registry, 'validator');
  const auditors = stakeWeights(registry, 'auditor');
  const idx = Array.from({ length: params.shardCount }, (_, i) => i);
  const prevOf = (i: number): ShardCommittee | undefined => previous?.shards.find((s) => s.shard === i);
  const assigned = new Set<string>();
  const vGroups = electGroups(validators, idx.map((i) => ({ size: c.validatorsPerShard, prev: prevOf(i)?.validators, label: `v${i}` })), assigned, c.rotationDivisor, seed);
  // `assigned` now holds every shard validator: a validator never audits (its own or any) group.
  const aGroups = electGroups(auditors, idx.map((i) => ({ size: c.auditorsPerShard, prev: prevOf(i)?.auditors, label: `a${i}` })), assigned, c.rotationDivisor, seed);
  const shards: ShardCommittee[] = idx.map((i) => ({ shard: i, validators: vGroups[i]!, auditors: aGroups[i]! }));
  // A node has one role, so the two weight maps are disjoint.
  const beaconPool = new Map([...validators, ...auditors]);
  const [beacon] = electGroups(beaconPool, [{ size: c.beaconSize, prev: previous?.beacon, label: 'beacon' }], new Set(), c.rotationDivisor, seed);
  return { beacon: beacon!, shards };
}

/** Quorum for a group of n: floor(2n/3) + 1. */
export function quorum(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

/**
 * Hash of a quorum certificate's signed subject {height, view, blockHash} (the part every
 * node agrees on: a block's hash binds exactly these fields of its justify QC, not the
 * signature set). Feeds `electionSeed` so the seed is the same on every node.
 */
export function qcSubjectHash(qc: { readonly height: number; readonly view: number; readonly blockHash: string }): string {
  return createHash('sha256').update(canonicalBytes({ type: 'topvpn/qc-subject/v1', height: qc.height, view: qc.view, blockHash: qc.blockHash })).digest('hex');
}
