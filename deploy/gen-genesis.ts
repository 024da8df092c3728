/**
 * Genesis and keys for a deployment. Real servers: each operator makes their node key on
 * their own machine (`topchain keys new`), a coordinator collects the addresses into
 * {"<validator name>": "<address>"} and runs `generate.js genesis`; no key leaves its server.
 * Demos (compose, k8s): `generate.js bootstrap` makes every key in one directory.
 * Committees follow the deploy config: each shard's validators, and the auditor group that
 * audits every shard and forms the beacon committee (as chain/devnet does).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateGenesis, type GenesisFile, type GroupSpec } from '../chain/node/config.js';
import { generateKeyPair as chainKeyPair, writeKeyFile as writeChainKey } from '../chain/node/keys.js';
import { generateKeyPair as relayKeyPair, toHex, writeKeyFile as writeRelayKey } from '../relay/keys.js';
import { committeesOf, DeployConfigError, type DeployConfig } from './gen-config.js';
import { composeAddresses } from './gen-docker.js';
import { chainPodHost } from './gen-k8s.js';

export class BootstrapError extends Error {
  override readonly name = 'BootstrapError';
}

export type Target = 'systemd' | 'compose' | 'k8s';
export const TARGETS: readonly Target[] = ['systemd', 'compose', 'k8s'];

/** How node i is reached: p2p multiaddr and RPC URL for a target. */
export function nodeAddress(cfg: DeployConfig, target: Target, i: number): { p2p: string; rpc: string } {
  const v = cfg.validators[i];
  if (!v) throw new DeployConfigError(`no validator #${i}`);
  const host = target === 'systemd' ? v.host : target === 'compose' ? composeAddresses(cfg).get(v.name)! : chainPodHost(cfg, i);
  const proto = /^[0-9.]+$/.test(host) ? 'ip4' : 'dns4';
  return { p2p: `/${proto}/${host}/tcp/${v.p2pPort}`, rpc: `http://${host}:${v.rpcPort}` };
}

export interface GenesisOptions {
  /** Unix ms (part of the chain's identity: every node must get the same file). */
  readonly genesisTime: number;
  /** address → amount in base units (decimal string). */
  readonly allocations?: ReadonlyArray<{ readonly address: string; readonly amount: string }>;
}

/** genesis.json for the config's validators, given each validator name's address. */
export function genesisFor(cfg: DeployConfig, target: Target, addresses: Readonly<Record<string, string>>, opts: GenesisOptions): GenesisFile {
  const addrOf = (name: string): string => {
    const a = addresses[name];
    if (typeof a !== 'string' || !/^[0-9a-f]{64}$/i.test(a)) throw new DeployConfigError(`no address (64 hex) for validator ${name}`);
    return a;
  };
  const { shards, auditors } = committeesOf(cfg);
  const aud = auditors.map(addrOf);
  const committees: Record<string, GroupSpec> = { beacon: { validators: aud, auditors: [] } };
  shards.forEach((names, s) => {
    committees[`shard-${s}`] = { validators: names.map(addrOf), auditors: aud };
  });
  const g: GenesisFile = {
    chainId: cfg.chainId,
    shards: cfg.shards,
    genesisTime: opts.genesisTime,
    allocations: [...(opts.allocations ?? [])],
    nodes: cfg.validators.map((v, i) => ({ address: addrOf(v.name), ...nodeAddress(cfg, target, i) })),
    committees,
  };
  validateGenesis(g);
  return g;
}

export interface BootstrapResult {
  readonly genesisFile: string;
  /** validator name → chain address */
  readonly validators: Record<string, string>;
  /** relay name → X25519 public key (hex) */
  readonly relays: Record<string, string>;
  /** relay name → funded chain wallet address (to stake/register the relay) */
  readonly wallets: Record<string, string>;
}

/**
 * Demo bootstrap into `dir`: <name>/key.json for every chain node and relay (mode 0600),
 * wallets/<relay>.json (chain keys funded with `fundTop` TOP each, to register the relays),
 * genesis.json for `target`. Refuses (BootstrapError, before writing anything) if any of
 * those files exists: keys are never overwritten.
 */
export function bootstrap(cfg: DeployConfig, target: Target, dir: string, opts: { genesisTime: number; fundTop?: bigint }): BootstrapResult {
  const planned = [join(dir, 'genesis.json'), ...[...cfg.validators, ...cfg.relays].map((n) => join(dir, n.name, 'key.json')), ...cfg.relays.map((r) => join(dir, 'wallets', `${r.name}.json`))];
  const present = planned.filter((f) => existsSync(f));
  if (present.length > 0) throw new BootstrapError(`refusing to overwrite ${present.length} existing file(s), e.g. ${present[0]}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const validators: Record<string, string> = {};
  for (const v of cfg.validators) {
    mkdirSync(join(dir, v.name), { recursive: true, mode: 0o700 });
    const kp = chainKeyPair();
    writeChainKey(join(dir, v.name, 'key.json'), kp);
    validators[v.name] = kp.address;
  }
  const relays: Record<string, string> = {};
  const wallets: Record<string, string> = {};
  mkdirSync(join(dir, 'wallets'), { recursive: true, mode: 0o700 });
  for (const r of cfg.relays) {
    mkdirSync(join(dir, r.name), { recursive: true, mode: 0o700 });
    const kp = relayKeyPair();
    writeRelayKey(join(dir, r.name, 'key.json'), kp);
    relays[r.name] = toHex(kp.publicKey);
    const w = chainKeyPair();
    writeChainKey(join(dir, 'wallets', `${r.name}.json`), w);
    wallets[r.name] = w.address;
  }
  const fund = ((opts.fundTop ?? 1_000_000n) * 1_000_000n).toString();
  const g = genesisFor(cfg, target, validators, { genesisTime: opts.genesisTime, allocations: Object.values(wallets).map((address) => ({ address, amount: fund })) });
  const genesisFile = join(dir, 'genesis.json');
  writeFileSync(genesisFile, JSON.stringify(g, null, 2) + '\n', { flag: 'wx' });
  return { genesisFile, validators, relays, wallets };
}
