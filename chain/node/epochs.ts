/**
 * Committee schedule: which validator and auditor group runs each height of each chain.
 * Pure (no IO); the node feeds it the beacon's finalized blocks and persists its records.
 *
 * Contract (every node derives the same schedule from the finalized beacon chain only):
 * - Epoch length L (> 0 enables re-election). Shard height h ≥ 1 belongs to epoch
 *   k = ⌊(h−1)/L⌋. Epoch 0 runs the genesis committees.
 * - When the beacon finalizes height k·L (k ≥ 1), the beacon's election for epoch k is
 *   `electCommittees(beacon state after block k·L, electionSeed(qcSubjectHash(justify of block
 *   k·L), k), params, committees of epoch k−1)` over the nodes of the genesis directory
 *   (a node must be reachable to serve), adopted per group by `adoptElection`.
 * - Shard epoch k (heights k·L+1 … (k+1)·L) runs the committees of beacon epoch k. A shard
 *   that reaches height k·L+1 before its node has finalized beacon height k·L waits.
 * - The beacon committee stays the genesis one (its blocks carry the election).
 * - A run of epochs with the same validator group is one consensus *period*: one core instance
 *   whose views start at `firstViewOf(first epoch of the run)`, so views of different periods
 *   never collide (a member of two periods can never sign two votes for one (height, view)).
 */
import { electCommittees, electionSeed, qcSubjectHash, type Committees, type ShardCommittee } from '../state/election.js';
import type { ChainParams } from '../state/params.js';
import type { ChainState } from '../state/types.js';
import type { GroupSpec } from './config.js';

/** Views of the period starting in epoch k ≥ 1 begin at k × VIEW_EPOCH_STRIDE. */
export const VIEW_EPOCH_STRIDE = 2 ** 32;

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** The group that runs one height of one chain. */
export interface GroupAt {
  /** Epoch of the height (0 for the beacon and when re-election is off). */
  readonly epoch: number;
  readonly validators: readonly string[];
  readonly auditors: readonly string[];
  /** First epoch of the run of epochs with this validator group (the consensus period). */
  readonly periodStart: number;
  /** First view of the period's consensus instance. */
  readonly firstView: number;
}

/** Epoch of a chain height: ⌊(h−1)/L⌋ for h ≥ 1 (height 0, genesis, is epoch 0). */
export function epochOfHeight(height: number, epochBlocks: number): number {
  if (epochBlocks <= 0 || height <= 1) return 0;
  return Math.floor((height - 1) / epochBlocks);
}

/** First view of a consensus period that starts in epoch k. */
export function firstViewOf(periodStart: number): number {
  return periodStart === 0 ? 1 : periodStart * VIEW_EPOCH_STRIDE;
}

/** True iff both lists hold the same members (order-insensitive). */
export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

/** Genesis committees in the election's shape (shards 0..S-1; member order as in genesis: it is the leader order). */
export function committeesFromGenesis(groups: Readonly<Record<string, GroupSpec>>, shards: number): Committees {
  const shardList: ShardCommittee[] = [];
  for (let i = 0; i < shards; i++) {
    const g = groups[`shard-${i}`];
    if (!g) throw new ScheduleError(`genesis has no committee for shard-${i}`);
    shardList.push({ shard: i, validators: [...g.validators], auditors: [...g.auditors] });
  }
  return { beacon: [...(groups.beacon?.validators ?? [])], shards: shardList };
}

/**
 * What a node adopts from an election: per shard, the elected validator (auditor) group unless
 * it is smaller than the previous one (too few eligible nodes), in which case the previous
 * group continues; the beacon committee is kept. Deterministic in (previous, elected).
 */
export function adoptElection(previous: Committees, elected: Committees): Committees {
  const shards = previous.shards.map((p): ShardCommittee => {
    const e = elected.shards.find((s) => s.shard === p.shard);
    const validators = e && e.validators.length >= p.validators.length ? [...e.validators].sort() : [...p.validators];
    const auditors = e && e.auditors.length >= p.auditors.length && !e.auditors.some((a) => validators.includes(a)) ? [...e.auditors].sort() : [...p.auditors];
    return { shard: p.shard, validators, auditors: auditors.filter((a) => !validators.includes(a)) };
  });
  return { beacon: [...previous.beacon], shards };
}

/** Registry view restricted to electable nodes: in the node directory, signing with their owner key. */
export function electableRegistry(beacon: Pick<ChainState, 'nodes' | 'votes'>, directory: ReadonlySet<string>): Pick<ChainState, 'nodes' | 'votes'> {
  const nodes: ChainState['nodes'] = {};
  for (const k of Object.keys(beacon.nodes).sort()) {
    const n = beacon.nodes[k]!;
    if (directory.has(k) && n.consensusKey === k) nodes[k] = n;
  }
  return { nodes, votes: beacon.votes };
}

/** The election for epoch k, run on the beacon state after block k·L whose justify QC is `justify`. */
export function electEpoch(
  beaconAfter: Pick<ChainState, 'nodes' | 'votes'>,
  justify: { readonly height: number; readonly view: number; readonly blockHash: string },
  epoch: number,
  params: ChainParams,
  previous: Committees,
  directory: ReadonlySet<string>,
): Committees {
  const seed = electionSeed(qcSubjectHash(justify), epoch);
  return adoptElection(previous, electCommittees(electableRegistry(beaconAfter, directory), seed, params, previous));
}

/** Adopted committees per epoch (epoch 0 = genesis) and the height → group lookup. */
export class CommitteeSchedule {
  private readonly byEpoch: Committees[];
  /** `${shard}/${epoch}` → first epoch of the period containing it. */
  private readonly periodCache = new Map<string, number>();

  constructor(
    readonly genesis: Committees,
    /** 0 = committees fixed at genesis. */
    readonly epochBlocks: number,
  ) {
    this.byEpoch = [genesis];
  }

  get enabled(): boolean {
    return this.epochBlocks > 0;
  }

  /** Highest epoch whose committees are known. */
  get knownEpoch(): number {
    return this.byEpoch.length - 1;
  }

  committees(epoch: number): Committees | undefined {
    return this.byEpoch[epoch];
  }

  /** Records epoch k's committees; k must be the next epoch (records arrive in beacon order). */
  set(epoch: number, c: Committees): void {
    if (epoch === this.byEpoch.length) this.byEpoch.push(c);
    else if (epoch === 0) throw new ScheduleError('epoch 0 is the genesis committees');
    else if (epoch > this.byEpoch.length) throw new ScheduleError(`epoch ${epoch} recorded before epoch ${this.byEpoch.length}`);
  }

  /** True iff the beacon block at `beaconHeight` closes an epoch (its election is due). */
  isElectionHeight(beaconHeight: number): boolean {
    return this.enabled && beaconHeight > 0 && beaconHeight % this.epochBlocks === 0;
  }

  /** Group running `height` of `chain`, or undefined while its epoch's election is not known here. */
  groupAt(chain: string, height: number): GroupAt | undefined {
    if (chain === 'beacon') {
      return { epoch: 0, validators: this.genesis.beacon, auditors: [], periodStart: 0, firstView: 1 };
    }
    const shard = Number(chain.slice('shard-'.length));
    const epoch = epochOfHeight(height, this.epochBlocks);
    const c = this.byEpoch[epoch]?.shards.find((s) => s.shard === shard);
    if (!c) return undefined;
    const start = this.periodStart(shard, epoch, c.validators);
    return { epoch, validators: c.validators, auditors: c.auditors, periodStart: start, firstView: firstViewOf(start) };
  }

  private periodStart(shard: number, epoch: number, validators: readonly string[]): number {
    if (epoch === 0) return 0;
    const key = `${shard}/${epoch}`;
    let start = this.periodCache.get(key);
    if (start === undefined) {
      const prev = this.byEpoch[epoch - 1]!.shards.find((s) => s.shard === shard);
      start = prev && sameMembers(prev.validators, validators) ? this.periodStart(shard, epoch - 1, prev.validators) : epoch;
      this.periodCache.set(key, start);
    }
    return start;
  }
}
