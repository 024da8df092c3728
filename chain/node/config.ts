/**
 * Files a node runs from:
 * - genesis.json (shared by all nodes): chain id, shard count, parameter overrides,
 *   allocations, the node directory (address, p2p multiaddr, RPC URL) and the committees
 *   (validators per chain, auditors per shard chain). Amounts are decimal strings.
 * - config.json (per node): where its data, key and genesis live, what it listens on, and
 *   optional bootstrap peers (full multiaddrs /…/tcp/<port>/p2p/<peer id>) that a node outside
 *   the genesis directory dials besides the directory.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { DEFAULT_TIMING, timingFromGenesis, type GenesisTiming } from './runtime-types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface GenesisNode {
  readonly address: string;
  /** libp2p listen multiaddr, e.g. /ip4/127.0.0.1/tcp/31001 */
  readonly p2p: string;
  /** http://127.0.0.1:32001 */
  readonly rpc: string;
}

export interface GroupSpec {
  readonly validators: readonly string[];
  /** Auditor group of a shard chain (empty for the beacon: its blocks are final on commit). */
  readonly auditors: readonly string[];
}

export interface GenesisFile {
  readonly chainId: string;
  readonly shards: number;
  /** Unix ms; part of the genesis identity. */
  readonly genesisTime: number;
  readonly allocations: ReadonlyArray<{ readonly address: string; readonly amount: string }>;
  readonly nodes: readonly GenesisNode[];
  /** Keyed by chain name: 'beacon', 'shard-0', ... */
  readonly committees: Readonly<Record<string, GroupSpec>>;
  /**
   * Per-epoch committee re-election (chain/node/epochs.ts). Absent: committees stay the
   * genesis ones. `epochBlocks` also sets the reward epoch; group sizes default to the params'.
   */
  readonly election?: { readonly epochBlocks: number; readonly validatorsPerShard?: number; readonly auditorsPerShard?: number };
  /** Consensus timing (ms). */
  readonly timing?: GenesisTiming;
}

export interface NodeConfig {
  /** Directory holding the LevelDB store (db/) and, by default, key.json and genesis.json. */
  readonly dataDir: string;
  readonly keyFile: string;
  readonly genesisFile: string;
  readonly p2pListen: string;
  readonly rpcHost: string;
  readonly rpcPort: number;
  readonly logLevel?: string;
  /** Extra peers to dial at start: multiaddrs ending in /p2p/<peer id> (peer-book.ts). */
  readonly bootstrap?: readonly string[];
}

function resolveIn(base: string, p: string): string {
  return isAbsolute(p) ? p : join(base, p);
}

export function readNodeConfig(path: string): NodeConfig {
  let j: Partial<NodeConfig>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Partial<NodeConfig>;
  } catch (e) {
    throw new ConfigError(`cannot read config ${path}: ${(e as Error).message}`);
  }
  const base = dirname(path);
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new ConfigError(`${path}: not a JSON object`);
  if (typeof j.p2pListen !== 'string' || typeof j.rpcPort !== 'number') throw new ConfigError(`${path}: p2pListen and rpcPort are required`);
  if (!Number.isInteger(j.rpcPort) || j.rpcPort < 0 || j.rpcPort > 65535) throw new ConfigError(`${path}: rpcPort must be 0..65535`);
  for (const k of ['dataDir', 'keyFile', 'genesisFile', 'rpcHost', 'logLevel'] as const) {
    if (j[k] !== undefined && typeof j[k] !== 'string') throw new ConfigError(`${path}: ${k} must be a string`);
  }
  if (j.bootstrap !== undefined) {
    if (!Array.isArray(j.bootstrap) || !j.bootstrap.every((b) => typeof b === 'string')) throw new ConfigError(`${path}: bootstrap must be a list of multiaddr strings`);
    // Full parsing (peer id, Ed25519 identity) happens when the network starts (peer-book.ts).
    for (const b of j.bootstrap) if (!/^\/[^\s]+\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(b)) throw new ConfigError(`${path}: bootstrap ${b.slice(0, 120)}: expected a multiaddr ending in /p2p/<peer id>`);
  }
  const dataDir = resolveIn(base, j.dataDir ?? '.');
  return {
    dataDir,
    keyFile: resolveIn(base, j.keyFile ?? 'key.json'),
    genesisFile: resolveIn(base, j.genesisFile ?? 'genesis.json'),
    p2pListen: j.p2pListen,
    rpcHost: j.rpcHost ?? '127.0.0.1',
    rpcPort: j.rpcPort,
    ...(j.logLevel ? { logLevel: j.logLevel } : {}),
    ...(j.bootstrap && j.bootstrap.length > 0 ? { bootstrap: [...j.bootstrap] } : {}),
  };
}

export function writeNodeConfig(path: string, c: NodeConfig): void {
  writeFileSync(path, JSON.stringify(c, null, 2) + '\n');
}

export function readGenesis(path: string): GenesisFile {
  let g: GenesisFile;
  try {
    g = JSON.parse(readFileSync(path, 'utf8')) as GenesisFile;
  } catch (e) {
    throw new ConfigError(`cannot read genesis ${path}: ${(e as Error).message}`);
  }
  validateGenesis(g);
  return g;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Checks a parsed genesis file (any JSON value); throws ConfigError naming the first problem. */
export function validateGenesis(g: GenesisFile): void {
  if (!isObject(g)) throw new ConfigError('genesis: not a JSON object');
  if (typeof g.chainId !== 'string' || !g.chainId) throw new ConfigError('genesis: chainId missing');
  if (!Number.isInteger(g.shards) || g.shards < 1) throw new ConfigError('genesis: shards must be ≥ 1');
  if (!Array.isArray(g.nodes) || !g.nodes.every((n) => isObject(n) && typeof n.address === 'string' && typeof n.p2p === 'string' && typeof n.rpc === 'string')) {
    throw new ConfigError('genesis: nodes must be a list of {address, p2p, rpc} strings');
  }
  if (!isObject(g.committees)) throw new ConfigError('genesis: committees must be an object');
  if (!Array.isArray(g.allocations) || !g.allocations.every((a) => isObject(a) && typeof a.address === 'string' && typeof a.amount === 'string')) {
    throw new ConfigError('genesis: allocations must be a list of {address, amount} strings');
  }
  const known = new Set(g.nodes.map((n) => n.address));
  for (const [chain, grp] of Object.entries(g.committees)) {
    if (!isObject(grp) || !isStringArray(grp.validators) || !isStringArray(grp.auditors)) throw new ConfigError(`genesis: ${chain} needs validators and auditors lists of addresses`);
    if (grp.validators.length < 1) throw new ConfigError(`genesis: ${chain} has no validators`);
    for (const a of [...grp.validators, ...grp.auditors]) if (!known.has(a)) throw new ConfigError(`genesis: ${chain} member ${a.slice(0, 12)} not in nodes`);
    for (const a of grp.auditors) if (grp.validators.includes(a)) throw new ConfigError(`genesis: ${chain} auditor ${a.slice(0, 12)} audits its own group`);
  }
  if (g.election !== undefined) {
    const e = g.election;
    if (!isObject(e) || !Number.isSafeInteger(e.epochBlocks) || e.epochBlocks < 3) throw new ConfigError('genesis: election.epochBlocks must be an integer ≥ 3');
    for (const k of ['validatorsPerShard', 'auditorsPerShard'] as const) if (e[k] !== undefined && (!Number.isSafeInteger(e[k]) || e[k]! < 1)) throw new ConfigError(`genesis: election.${k} must be a positive integer`);
  }
  for (const a of g.allocations) if (!/^[0-9]+$/.test(a.amount)) throw new ConfigError('genesis: allocation amounts are decimal strings');
  if (g.timing !== undefined) validateTiming(g.timing);
}

/** The genesis `timing` block: whole milliseconds, and a block interval the view timeout leaves room for. */
function validateTiming(t: unknown): void {
  if (!isObject(t)) throw new ConfigError('genesis: timing must be an object');
  for (const k of ['baseTimeoutMs', 'minBlockIntervalMs', 'idleBlockMs', 'maxTxsPerBlock'] as const) {
    const v = t[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0)) throw new ConfigError(`genesis: timing.${k} must be a non-negative integer`);
  }
  // A leader waits the interval before proposing, inside a view that times out after the base timeout.
  const { baseTimeoutMs: timeout, blockIntervalMs: interval } = { ...DEFAULT_TIMING, ...timingFromGenesis(t as GenesisTiming) };
  if (interval >= timeout) throw new ConfigError(`genesis: timing.minBlockIntervalMs (${interval}) must be below baseTimeoutMs (${timeout}), or every view times out before its leader proposes`);
}

export function writeGenesis(path: string, g: GenesisFile): void {
  validateGenesis(g);
  writeFileSync(path, JSON.stringify(g, null, 2) + '\n');
}
