/**
 * Builds a devnet genesis: S shards × `group` validators, one auditor group of `auditors`
 * nodes that audits every shard (TOP ties one auditor group to several validator groups) and
 * also forms the beacon committee (a node may sit in the beacon committee and one group;
 * no node audits its own validator group). Funded user accounts are generated too.
 */
import { UNIT, homeShard } from '../state/index.js';
import type { GenesisFile, GroupSpec } from '../node/config.js';
import { generateKeyPair, type KeyPair } from '../node/keys.js';

export interface DevnetLayout {
  readonly shards: number;
  /** Validators per shard. */
  readonly group: number;
  /** Size of the auditor group (= beacon committee). */
  readonly auditors: number;
  /** Funded user accounts to create (spread over shards by address). */
  readonly accounts: number;
  /** TOP per funded account. */
  readonly fundTop?: bigint;
  /** TOP given to each node's own account (pays the fee of the `slash` txs it reports). Default 1000. */
  readonly nodeFundTop?: bigint;
  readonly chainId?: string;
  readonly host?: string;
  readonly basePort: number;
  readonly timing?: GenesisFile['timing'];
}

export interface DevnetKeys {
  readonly genesis: GenesisFile;
  /** Node keys in node index order. */
  readonly nodeKeys: KeyPair[];
  /** Role label per node, e.g. 'validator shard-0' or 'auditor+beacon'. */
  readonly roles: string[];
  readonly accounts: KeyPair[];
  /** p2p port and rpc port of node i: basePort + 2i, basePort + 2i + 1 */
  readonly ports: Array<{ p2p: number; rpc: number }>;
}

export function makeDevnetGenesis(l: DevnetLayout): DevnetKeys {
  if (l.shards < 1 || l.group < 1 || l.auditors < 1) throw new RangeError('shards, group and auditors must be ≥ 1');
  const host = l.host ?? '127.0.0.1';
  const total = l.shards * l.group + l.auditors;
  const nodeKeys = Array.from({ length: total }, () => generateKeyPair());
  const ports = nodeKeys.map((_, i) => ({ p2p: l.basePort + 2 * i, rpc: l.basePort + 2 * i + 1 }));
  const committees: Record<string, GroupSpec> = {};
  const auditorAddrs = nodeKeys.slice(l.shards * l.group).map((k) => k.address);
  const roles: string[] = [];
  for (let s = 0; s < l.shards; s++) {
    const vals = nodeKeys.slice(s * l.group, (s + 1) * l.group).map((k) => k.address);
    committees[`shard-${s}`] = { validators: vals, auditors: auditorAddrs };
    for (let j = 0; j < l.group; j++) roles.push(`validator shard-${s}`);
  }
  committees.beacon = { validators: auditorAddrs, auditors: [] };
  for (let j = 0; j < l.auditors; j++) roles.push('auditor+beacon');
  const accounts: KeyPair[] = [];
  // Spread accounts evenly over shards so both intra- and cross-shard traffic exists.
  const perShard = Math.ceil(l.accounts / l.shards);
  const counts = new Array<number>(l.shards).fill(0);
  while (accounts.length < l.accounts) {
    const k = generateKeyPair();
    const s = homeShard(k.address, l.shards);
    if (counts[s]! >= perShard) continue;
    counts[s]!++;
    accounts.push(k);
  }
  const fund = (l.fundTop ?? 1_000_000n) * UNIT;
  const genesis: GenesisFile = {
    chainId: l.chainId ?? 'topvpn-devnet',
    shards: l.shards,
    genesisTime: Date.now(),
    allocations: [
      ...accounts.map((a) => ({ address: a.address, amount: fund.toString() })),
      ...((l.nodeFundTop ?? 1_000n) > 0n ? nodeKeys.map((k) => ({ address: k.address, amount: ((l.nodeFundTop ?? 1_000n) * UNIT).toString() })) : []),
    ],
    nodes: nodeKeys.map((k, i) => ({ address: k.address, p2p: `/ip4/${host}/tcp/${ports[i]!.p2p}`, rpc: `http://${host}:${ports[i]!.rpc}` })),
    committees,
    ...(l.timing ? { timing: l.timing } : {}),
  };
  return { genesis, nodeKeys, roles, accounts, ports };
}
