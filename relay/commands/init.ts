/**
 * `toprelay init [--dir D] [--listen H:P] [--endpoint H:P] [--region R] [--price-per-gib UNITS]
 *                [--deposit TOP] [--chain-rpc URL] [--metrics H:P] [--force] [--json]`
 * Creates, in D (default $XDG_CONFIG_HOME/toprelay, mode 0700): onion.key (X25519 circuit
 * identity), node-key.json (Ed25519 node key = the relay's chain address), peer.key (libp2p
 * identity) — all 0600 — and relay.yaml, a commented config every toprelay command reads.
 * Refuses to overwrite any of them without --force (exit 2).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { generateKeyPair as nodeKeyPair, writeKeyFile as writeChainKey } from '../../chain/node/keys.js';
import { loadOrCreatePeerKey } from '../../discovery/node.js';
import { parseEndpoint } from '../addr.js';
import { printJson, UsageError } from '../cli-util.js';
import { generateKeyPair, toHex, writeKeyFile } from '../keys.js';
import { parseAmount, parseBaseUnits, parseRpcUrl } from './amount.js';
import { RELAY_CONFIG_NAME, relayConfigDir } from './layers.js';

interface InitOpts {
  dir?: string;
  listen?: string;
  endpoint?: string;
  region?: string;
  pricePerGib?: string;
  deposit?: string;
  chainRpc?: string;
  metrics?: string;
  force?: boolean;
  json?: boolean;
}

export const DEFAULT_LISTEN = '0.0.0.0:51820';
export const DEFAULT_METRICS = '127.0.0.1:9464';

function q(v: string): string {
  return JSON.stringify(v);
}

/** The commented YAML written by init (exported for tests). */
export function relayYaml(v: { listen: string; key: string; nodeKey: string; peerKey: string; address?: string; endpoint?: string; region?: string; pricePerGib: string; deposit: string; chainRpc?: string; metrics: string; control: string }): string {
  const opt = (k: string, val: string | undefined, example: string): string => (val !== undefined ? `${k}: ${q(val)}` : `# ${k}: ${q(example)}`);
  return [
    '# toprelay configuration (written by `toprelay init`).',
    '# Every toprelay command reads it: start, register, status, earnings, unregister.',
    '# Precedence: this file < environment ($TOPRELAY_LISTEN, $TOPRELAY_CHAIN_RPC, ...) < flags.',
    '# Keys are the commands\' long flag names without "--"; unknown keys are refused.',
    '',
    '# UDP address the relay listens on (start --listen).',
    `listen: ${q(v.listen)}`,
    '# Onion identity, X25519: clients handshake with it (start --key). Keep it 0600.',
    `key: ${q(v.key)}`,
    '# Chain identity, Ed25519: your relay\'s address; signs register, claims, unregister.',
    `node-key: ${q(v.nodeKey)}`,
    '# libp2p identity for descriptor gossip (discovery).',
    `peer-key: ${q(v.peerKey)}`,
    '',
    '# Discovery: publish a signed descriptor (endpoint, onion key, price, country, bandwidth)',
    '# over libp2p so clients find this relay without a relay list (start --p2p-listen).',
    '# Needs paid relaying (chain-rpc, node-key, price-per-gib) and a registered relay.',
    '# libp2p TCP listen address(es), comma-separated.',
    `# p2p-listen: ${q('/ip4/0.0.0.0/tcp/4001')}`,
    '# Other relays to dial and keep dialing (multiaddrs ending in /p2p/<peer id>, comma-separated).',
    `# bootstrap: ${q('/ip4/203.0.113.8/tcp/4001/p2p/12D3KooW...')}`,
    '# Country the relay is in, ISO 3166-1 alpha-2 (clients pick exits by it); needed with p2p-listen.',
    `# country: ${q('DE')}`,
    '# Operator account (64 hex; default this relay\'s address): one operator\'s relays never share a circuit.',
    `# operator: ${q(v.address ?? '<your account address>')}`,
    '# Advertised bandwidth, Mbit/s (default 100).',
    `# bandwidth: ${q('100')}`,
    '# UDP endpoint put in the descriptor; needed when listen is 0.0.0.0.',
    `# advertise: ${q('203.0.113.7:51820')}`,
    '',
    '# Chain node JSON-RPC used by register, status, earnings and unregister.',
    opt('chain-rpc', v.chainRpc, 'http://127.0.0.1:8645'),
    '# Public UDP endpoint(s) clients dial, comma-separated (register --endpoint).',
    opt('endpoint', v.endpoint, '203.0.113.7:51820'),
    '# Region announced on chain and as a metrics label, a-z 0-9 - (e.g. eu, us-east).',
    opt('region', v.region, 'eu'),
    '# Price per GiB carried, in base units (10^6 = 1 TOP): announced by register, charged by',
    '# start (start runs paid, metering receipts, once chain-rpc, node-key and this are all set).',
    `price-per-gib: ${q(v.pricePerGib)}`,
    '# Deposit locked by `register`, in TOP; at least the chain\'s relay minimum',
    '# (200000 TOP on mainnet). It returns after the unbonding delay once you unregister.',
    `deposit: ${q(v.deposit)}`,
    '',
    '# Local control socket (start --control): `toprelay claim` asks the running relay here.',
    `control: ${q(v.control)}`,
    '# Prometheus metrics (start --metrics); `status` and `earnings` read them here.',
    `metrics: ${q(v.metrics)}`,
    '# Act as an exit (TUN + NAT to the internet). Needs root/CAP_NET_ADMIN.',
    '# exit: true',
    '# exit-pool: "198.19.0.0/16"',
    '',
  ].join('\n');
}

async function init(o: InitOpts): Promise<void> {
  const dir = resolve(o.dir ?? relayConfigDir());
  const listen = o.listen ?? DEFAULT_LISTEN;
  const metrics = o.metrics ?? DEFAULT_METRICS;
  for (const [flag, v] of [['--listen', listen], ['--metrics', metrics], ...(o.endpoint ? o.endpoint.split(',').map((e) => ['--endpoint', e.trim()]) : [])] as Array<[string, string]>) {
    try {
      parseEndpoint(v, { allowZeroPort: flag !== '--endpoint' });
    } catch (err) {
      throw new UsageError(`${flag}: ${(err as Error).message}`);
    }
  }
  if (o.region !== undefined && !/^[a-z0-9-]{1,32}$/.test(o.region)) throw new UsageError(`--region: "${o.region}" must be 1-32 chars of a-z 0-9 -`);
  const pricePerGib = o.pricePerGib ?? '500000';
  const deposit = o.deposit ?? '200000';
  parseBaseUnits('--price-per-gib', pricePerGib);
  parseAmount('--deposit', deposit);
  if (o.chainRpc !== undefined) parseRpcUrl('--chain-rpc', o.chainRpc);

  const control = join(dir, 'relay.sock');
  const files = { key: join(dir, 'onion.key'), nodeKey: join(dir, 'node-key.json'), peerKey: join(dir, 'peer.key'), config: join(dir, RELAY_CONFIG_NAME) };
  const present = Object.values(files).filter((f) => existsSync(f));
  if (present.length > 0 && !o.force) throw new UsageError(`${present.join(', ')} already exist${present.length === 1 ? 's' : ''} (use --force to replace: the relay gets a new identity)`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (o.force) for (const f of present) rmSync(f);

  const onion = generateKeyPair();
  writeKeyFile(files.key, onion);
  const chain = nodeKeyPair();
  writeChainKey(files.nodeKey, chain);
  const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(files.peerKey)).toString();
  writeFileSync(
    files.config,
    relayYaml({ listen, key: files.key, nodeKey: files.nodeKey, peerKey: files.peerKey, address: chain.address, pricePerGib, deposit, metrics, control, ...(o.endpoint ? { endpoint: o.endpoint } : {}), ...(o.region ? { region: o.region } : {}), ...(o.chainRpc ? { chainRpc: o.chainRpc } : {}) }),
    { mode: 0o644 },
  );
  const result = { event: 'init', dir, config: files.config, onionKey: files.key, nodeKey: files.nodeKey, peerKey: files.peerKey, onionPublicKey: toHex(onion.publicKey), address: chain.address, peerId };
  if (o.json) printJson(result);
  else
    process.stdout.write(
      [`created ${dir}`, `  config     ${files.config}  (edit it: chain-rpc, endpoint, price-per-gib, deposit)`, `  address    ${chain.address}  (fund it, then \`toprelay register\`)`, `  onion key  ${toHex(onion.publicKey)}`, `  peer id    ${peerId}`, ''].join('\n'),
    );
}

export function register(program: Command): void {
  program
    .command('init')
    .description('create the relay identities (onion, chain, libp2p) and a commented relay.yaml')
    .option('--dir <dir>', 'where to put them (default $XDG_CONFIG_HOME/toprelay)')
    .option('--listen <host:port>', `UDP listen address (default ${DEFAULT_LISTEN})`)
    .option('--endpoint <host:port>', 'public endpoint(s) clients dial, comma-separated')
    .option('--region <r>', 'region (a-z 0-9 -)')
    .option('--price-per-gib <units>', 'price per GiB in base units (default 500000 = 0.5 TOP)')
    .option('--deposit <top>', 'deposit for `register` in TOP (default 200000)')
    .option('--chain-rpc <url>', 'chain node JSON-RPC URL')
    .option('--metrics <host:port>', `metrics address (default ${DEFAULT_METRICS})`)
    .option('--force', 'replace existing files (new identities)')
    .option('--json', 'print one JSON object')
    .action(init);
}
