import { isAddress } from './encoding.js';
import type { ChainParams } from './params.js';
import { checkNodeSpec } from './rules/register.js';
import { emptyAccount } from './ledger.js';
import { BEACON, homeChain, shardChain, type ChainName } from './shard.js';
import type { GenesisSupply } from './supply.js';
import { StateMap } from './state-map.js';
import type { Account, ChainState, NodeSpec } from './types.js';

export interface GenesisAllocation {
  address: string;
  amount: bigint;
}

/** A node registered at genesis (devnet); its deposit is created at genesis on the beacon. */
export interface GenesisNode extends NodeSpec {
  owner: string;
  deposit: bigint;
}

export interface GenesisOptions {
  nodes?: GenesisNode[];
  /** Reward reserve held by the beacon (default 0). */
  reserve?: bigint;
}

export interface Genesis {
  beacon: ChainState;
  shards: ChainState[];
  supply: GenesisSupply;
}

export class GenesisError extends Error {
  override name = 'GenesisError';
}

export function emptyState(params: ChainParams, chain: ChainName): ChainState {
  return {
    chainId: params.chainId,
    chain,
    shardCount: params.shardCount,
    height: 0,
    accounts: StateMap.empty(),
    channels: StateMap.empty(),
    outbox: {},
    inbox: {},
    burned: 0n,
    nodes: {},
    votes: {},
    unlocking: [],
    reserve: 0n,
    issued: 0n,
    slashedEvidence: {},
  };
}

/** Builds the beacon and S shard states at height 0. Allocations go to each address's home shard. */
export function genesis(params: ChainParams, allocations: GenesisAllocation[], opts: GenesisOptions = {}): Genesis {
  if (!Number.isInteger(params.shardCount) || params.shardCount < 1) throw new GenesisError('shardCount must be ≥ 1');
  const beacon = emptyState(params, BEACON);
  const shards = Array.from({ length: params.shardCount }, (_, i) => emptyState(params, shardChain(i)));
  let total = 0n;
  const allocated = new Map<ChainState, Map<string, Account>>(shards.map((s) => [s, new Map()]));
  for (const a of allocations) {
    if (!isAddress(a.address)) throw new GenesisError(`bad address ${a.address}`);
    if (a.amount < 0n) throw new GenesisError('negative allocation');
    const s = shards.find((x) => x.chain === homeChain(a.address, params.shardCount))!;
    const accounts = allocated.get(s)!;
    const acct = accounts.get(a.address) ?? emptyAccount();
    acct.balance += a.amount;
    accounts.set(a.address, acct);
    total += a.amount;
  }
  for (const [s, accounts] of allocated) s.accounts = StateMap.fromEntries(accounts);
  const keys = new Set<string>();
  for (const n of opts.nodes ?? []) {
    if (!isAddress(n.owner)) throw new GenesisError(`bad node owner ${n.owner}`);
    try {
      checkNodeSpec(n, 'genesis');
    } catch (e) {
      throw new GenesisError(`node ${n.owner.slice(0, 12)}: ${(e as Error).message}`);
    }
    if (beacon.nodes[n.owner]) throw new GenesisError(`node ${n.owner.slice(0, 12)} twice`);
    if (keys.has(n.consensusKey)) throw new GenesisError('consensus key used twice');
    if (n.deposit < params.minDeposit[n.role]) throw new GenesisError(`node ${n.owner.slice(0, 12)}: deposit below ${n.role} minimum`);
    keys.add(n.consensusKey);
    beacon.nodes[n.owner] = {
      role: n.role,
      consensusKey: n.consensusKey,
      onionKey: n.onionKey,
      endpoints: [...n.endpoints],
      pricePerGiB: n.pricePerGiB,
      region: n.region,
      owner: n.owner,
      deposit: n.deposit,
      status: 'active',
      registeredAt: 0,
      releaseHeight: null,
      slashed: 0n,
    };
    total += n.deposit;
  }
  const reserve = opts.reserve ?? 0n;
  beacon.reserve = reserve;
  return { beacon, shards, supply: { total, reserve } };
}

/** [beacon, shard-0, ..., shard-(S-1)] */
export function genesisStates(g: Genesis): ChainState[] {
  return [g.beacon, ...g.shards];
}
