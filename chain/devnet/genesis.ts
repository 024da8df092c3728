/**
 * Builds a devnet genesis: S shards × `group` validators, one auditor group of `auditors`
 * nodes that audits every shard (TOP ties one auditor group to several validator groups) and
 * also forms the beacon committee (a node may sit in the beacon committee and one group;
 * no node audits its own validator group). Funded user accounts are generated too.
 */
import { DEVNET_PARAMS, UNIT, homeChain, homeShard, signTx, type SignedTx, type Tx } from '../state/index.js';
import type { GenesisFile, GroupSpec } from '../node/config.js';
import { generateKeyPair, type KeyPair } from '../node/keys.js';
import { p2pEndpointFor } from '../node/peer-book.js';

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
  /** Per-node address (node i: hosts[i]); overrides `host`. */
  readonly hosts?: readonly string[];
  readonly basePort: number;
  readonly timing?: GenesisFile['timing'];
  /**
   * Spare validator-role nodes: in the node directory, funded with a validator deposit plus
   * `nodeFundTop`, but in no committee and not registered at genesis; they register by tx
   * (`spareRegisterTx`) and become electable. Default 0.
   */
  readonly spares?: number;
  /** Per-epoch committee re-election (GenesisFile.election); absent: committees fixed at genesis. */
  readonly election?: GenesisFile['election'];
  /**
   * Outsider validator nodes: NOT in the node directory; funded at genesis with `outsiderStake`
   * plus `nodeFundTop`; they join through bootstrap peers and register by tx with a p2p
   * endpoint (`outsiderRegisterTx`). Their ports follow the directory nodes'. Default 0.
   */
  readonly outsiders?: number;
  /** Deposit (base units) an outsider registers with. Default the validator minimum. */
  readonly outsiderStake?: bigint;
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
  /** Outsider keys and ports (outsider j: ports of index directory size + j); not in genesis.nodes. */
  readonly outsiderKeys: KeyPair[];
  readonly outsiderPorts: Array<{ p2p: number; rpc: number }>;
}

/** Deposit a spare validator registers with: the devnet's validator minimum. */
export const SPARE_DEPOSIT = DEVNET_PARAMS.minDeposit.validator;

/** A validator `register` tx with the node's own key as consensus key (home shard, minimum fee). */
export function validatorRegisterTx(g: GenesisFile, key: KeyPair, endpoints: readonly string[], deposit: bigint, nonce = 0): SignedTx {
  const tx: Tx = {
    chainId: g.chainId,
    chain: homeChain(key.address, g.shards) as Tx['chain'],
    from: key.address,
    nonce,
    fee: UNIT / 100n,
    op: { type: 'register', role: 'validator', consensusKey: key.address, onionKey: null, endpoints: [...endpoints], pricePerGiB: 0n, region: 'local', deposit },
  };
  return signTx(tx, Buffer.from(key.seedHex, 'hex'));
}

/** The `register` tx a spare validator sends (validator role, its own key as consensus key, its directory p2p endpoint with /p2p/<peer id> and RPC URL). */
export function spareRegisterTx(g: GenesisFile, key: KeyPair, nonce = 0): SignedTx {
  const dirEntry = g.nodes.find((n) => n.address === key.address);
  if (!dirEntry) throw new RangeError('not a directory node');
  return validatorRegisterTx(g, key, [p2pEndpointFor(dirEntry.p2p, key.address), dirEntry.rpc], SPARE_DEPOSIT, nonce);
}

/**
 * The `register` tx an outsider sends: its p2p endpoint (listen multiaddr + /p2p/<peer id of its
 * key>, peer-book.ts) and RPC URL, and `deposit`.
 */
export function outsiderRegisterTx(g: GenesisFile, key: KeyPair, p2pListen: string, rpcUrl: string, deposit: bigint, nonce = 0): SignedTx {
  if (g.nodes.some((n) => n.address === key.address)) throw new RangeError('a directory node is not an outsider');
  return validatorRegisterTx(g, key, [p2pEndpointFor(p2pListen, key.address), rpcUrl], deposit, nonce);
}

export function makeDevnetGenesis(l: DevnetLayout): DevnetKeys {
  if (l.shards < 1 || l.group < 1 || l.auditors < 1) throw new RangeError('shards, group and auditors must be ≥ 1');
  const host = l.host ?? '127.0.0.1';
  const spares = l.spares ?? 0;
  const total = l.shards * l.group + l.auditors + spares;
  const nodeKeys = Array.from({ length: total }, () => generateKeyPair());
  const ports = nodeKeys.map((_, i) => ({ p2p: l.basePort + 2 * i, rpc: l.basePort + 2 * i + 1 }));
  const outsiderKeys = Array.from({ length: l.outsiders ?? 0 }, () => generateKeyPair());
  const outsiderPorts = outsiderKeys.map((_, j) => ({ p2p: l.basePort + 2 * (total + j), rpc: l.basePort + 2 * (total + j) + 1 }));
  const outsiderFund = (l.nodeFundTop ?? 1_000n) * UNIT + (l.outsiderStake ?? SPARE_DEPOSIT);
  const committees: Record<string, GroupSpec> = {};
  const auditorAddrs = nodeKeys.slice(l.shards * l.group, l.shards * l.group + l.auditors).map((k) => k.address);
  const roles: string[] = [];
  for (let s = 0; s < l.shards; s++) {
    const vals = nodeKeys.slice(s * l.group, (s + 1) * l.group).map((k) => k.address);
    committees[`shard-${s}`] = { validators: vals, auditors: auditorAddrs };
    for (let j = 0; j < l.group; j++) roles.push(`validator shard-${s}`);
  }
  committees.beacon = { validators: auditorAddrs, auditors: [] };
  for (let j = 0; j < l.auditors; j++) roles.push('auditor+beacon');
  for (let j = 0; j < spares; j++) roles.push('spare validator');
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
      ...((l.nodeFundTop ?? 1_000n) > 0n || spares > 0
        ? nodeKeys.map((k, i) => ({ address: k.address, amount: ((l.nodeFundTop ?? 1_000n) * UNIT + (i >= total - spares ? SPARE_DEPOSIT : 0n)).toString() })).filter((a) => a.amount !== '0')
        : []),
      ...outsiderKeys.map((k) => ({ address: k.address, amount: outsiderFund.toString() })),
    ],
    nodes: nodeKeys.map((k, i) => ({ address: k.address, p2p: `/ip4/${l.hosts?.[i] ?? host}/tcp/${ports[i]!.p2p}`, rpc: `http://${l.hosts?.[i] ?? host}:${ports[i]!.rpc}` })),
    committees,
    ...(l.timing ? { timing: l.timing } : {}),
    ...(l.election ? { election: l.election } : {}),
  };
  return { genesis, nodeKeys, roles, accounts, ports, outsiderKeys, outsiderPorts };
}
