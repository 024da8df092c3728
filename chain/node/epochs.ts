/**
 * Committee schedule: which validator and auditor group runs each height of each chain.
 * Pure (no IO); the node feeds it the beacon's finalized blocks and persists its records.
 *
 * Contract (every node derives the same schedule from the finalized beacon chain only):
 * - Epoch length L (> 0 enables re-election). A height h ≥ 1 of any chain (beacon or shard)
 *   belongs to epoch k = ⌊(h−1)/L⌋. Epoch 0 runs the genesis committees.
 * - When the beacon commits height k·L (k ≥ 1; beacon blocks are final on commit), the
 *   election for epoch k is `electCommittees(beacon state after block k·L,
 *   electionSeed(qcSubjectHash(justify of block k·L), k), params, committees of epoch k−1)`
 *   over the nodes of the genesis directory and the registered nodes with a p2p endpoint bound
 *   to their key (a node must be reachable to serve: `electableRegistry`), adopted per group by
 *   `adoptElection` (the beacon committee included). It runs inside the
 *   commit of block k·L (`CommitteeSchedule.electAt`; again from the stored block on replay),
 *   so a node knows the groups of every height up to (k+1)·L as soon as it holds beacon k·L.
 * - Shard epoch k (heights k·L+1 … (k+1)·L) runs the shard committees of epoch k. A shard
 *   that reaches height k·L+1 before its node has finalized beacon height k·L waits.
 * - Beacon epoch k (heights k·L+1 … (k+1)·L) runs the beacon committee of epoch k, elected from
 *   the state after its own block k·L (active validator- and auditor-role electable nodes,
 *   stake-weighted, ≤ ¼ rotated, size = the genesis beacon's: node.ts `paramsOf`; a node may sit
 *   in the beacon and one shard group). The beacon cannot wait for that: its 2-chain commits k·L
 *   only once k·L+1 is certified. So its running core builds and votes heights whose
 *   election is not known yet *provisionally* as its own (epoch-handover.ts `periodRole`): if the
 *   election keeps the committee they are ordinary blocks of the period; if it changes it, every
 *   node drops the old core on committing k·L (the period's last height; a core commits in
 *   height order), so no provisional block is ever committed, and the new committee builds
 *   k·L+1 on k·L.
 * - A run of epochs with the same validator group is one consensus *period*: one core instance
 *   whose views start at `firstViewOf(first epoch of the run)`, so views of different periods
 *   never collide (a member of two periods can never sign two votes for one (height, view)).
 */
import { electCommittees, electionSeed, qcSubjectHash, type Committees, type ShardCommittee } from '../state/election.js';
import type { ChainParams } from '../state/params.js';
import type { ChainState } from '../state/types.js';
import type { GroupSpec } from './config.js';
import { p2pEndpointOf } from './peer-book.js';

/** Views of the period starting in epoch k ≥ 1 begin at k × VIEW_EPOCH_STRIDE. */
export const VIEW_EPOCH_STRIDE = 2 ** 32;

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** The group that runs one height of one chain. */
export interface GroupAt {
  /** Epoch of the height (0 when re-election is off). */
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
 * What a node adopts from an election, per group (each shard's validators, each shard's
 * auditors, the beacon committee): the elected group unless it is smaller than the previous one
 * (too few eligible nodes), in which case the previous group continues. An elected group with
 * the previous group's members keeps the previous member order (the order is the leader order of
 * a running period); a new group is sorted. Deterministic in (previous, elected).
 */
export function adoptElection(previous: Committees, elected: Committees): Committees {
  const pick = (prev: readonly string[], e: readonly string[] | undefined): string[] => (!e || e.length < prev.length || sameMembers(prev, e) ? [...prev] : [...e].sort());
  const shards = previous.shards.map((p): ShardCommittee => {
    const e = elected.shards.find((s) => s.shard === p.shard);
    const validators = pick(p.validators, e?.validators);
    const auditors = e && !e.auditors.some((a) => validators.includes(a)) ? pick(p.auditors, e.auditors) : [...p.auditors];
    return { shard: p.shard, validators, auditors: auditors.filter((a) => !validators.includes(a)) };
  });
  return { beacon: pick(previous.beacon, elected.beacon), shards };
}

/**
 * Registry view restricted to electable nodes: nodes signing with their owner key (consensus
 * key = owner) that every node can reach — in the genesis node directory, or registered with a
 * well-formed p2p endpoint whose peer id is their consensus key's (peer-book.ts `p2pEndpointOf`;
 * reachability is then learned from the registry itself). Status is filtered by the election.
 */
export function electableRegistry(beacon: Pick<ChainState, 'nodes' | 'votes'>, directory: ReadonlySet<string>): Pick<ChainState, 'nodes' | 'votes'> {
  const nodes: ChainState['nodes'] = {};
  for (const k of Object.keys(beacon.nodes).sort()) {
    const n = beacon.nodes[k]!;
    if (n.consensusKey !== k) continue;
    if (directory.has(k) || p2pEndpointOf(n).multiaddr !== undefined) nodes[k] = n;
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
  /** `${chain}/${epoch}` → first epoch of the period containing it. */
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

  /**
   * The election due at committed beacon block `block` (registry `after` it), or undefined (not
   * an election height, or already recorded here). Records it; the caller stores the returned
   * committees as `ep/<epoch>` atomically with the block. Same result on every node, live or
   * on replay: a function of the finalized beacon chain only.
   */
  electAt(
    block: { readonly height: number; readonly justify: { readonly height: number; readonly view: number; readonly blockHash: string } },
    after: Pick<ChainState, 'nodes' | 'votes'>,
    params: ChainParams,
    directory: ReadonlySet<string>,
  ): { epoch: number; committees: Committees } | undefined {
    if (!this.isElectionHeight(block.height)) return undefined;
    const epoch = block.height / this.epochBlocks;
    if (this.committees(epoch)) return undefined;
    const prev = this.committees(epoch - 1);
    if (!prev) throw new ScheduleError(`election ${epoch} before election ${epoch - 1}`);
    const committees = electEpoch(after, block.justify, epoch, params, prev, directory);
    this.set(epoch, committees);
    return { epoch, committees };
  }

  /** Group running `height` of `chain` ('beacon' or 'shard-<i>'), or undefined while its epoch's election is not known here. */
  groupAt(chain: string, height: number): GroupAt | undefined {
    const epoch = epochOfHeight(height, this.epochBlocks);
    const c = this.byEpoch[epoch];
    const validators = c && this.validatorsOf(c, chain);
    if (!c || !validators) return undefined;
    const auditors = chain === 'beacon' ? [] : this.shardOf(c, chain)!.auditors;
    const start = this.periodStart(chain, epoch, validators);
    return { epoch, validators, auditors, periodStart: start, firstView: firstViewOf(start) };
  }

  private shardOf(c: Committees, chain: string): ShardCommittee | undefined {
    const shard = Number(chain.slice('shard-'.length));
    return c.shards.find((s) => s.shard === shard);
  }

  private validatorsOf(c: Committees, chain: string): readonly string[] | undefined {
    return chain === 'beacon' ? c.beacon : this.shardOf(c, chain)?.validators;
  }

  private periodStart(chain: string, epoch: number, validators: readonly string[]): number {
    if (epoch === 0) return 0;
    const key = `${chain}/${epoch}`;
    let start = this.periodCache.get(key);
    if (start === undefined) {
      const prev = this.validatorsOf(this.byEpoch[epoch - 1]!, chain);
      start = prev && sameMembers(prev, validators) ? this.periodStart(chain, epoch - 1, prev) : epoch;
      this.periodCache.set(key, start);
    }
    return start;
  }
}
