#!/usr/bin/env node
/**
 * topchain — the chain node and its client CLI.
 * Exit codes: 0 success, 1 runtime failure (RPC error, rejected tx, node crash), 2 usage error.
 * `--json` prints one JSON object per result (machine-readable); otherwise short text.
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { channelIdFor, homeChain, signTx, UNIT, type Tx, type TxOp } from './state/index.js';
import { readGenesis, writeNodeConfig } from './node/config.js';
import { generateKeyPair, readKeyFile, writeKeyFile, type KeyPair } from './node/keys.js';
import { nextNonce, RpcCallError, rpcCall, type AccountNonces } from './node/rpc-client.js';

class UsageError extends Error {
  override name = 'UsageError';
}

const DEFAULT_RPC = process.env.TOPCHAIN_RPC ?? 'http://127.0.0.1:8645';

function out(json: boolean, value: unknown, text?: string): void {
  if (json) process.stdout.write(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  else process.stdout.write((text ?? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)) + '\n');
}

/** Parses "1.5" TOP (or "1500000u" base units) into base units. */
export function parseAmount(s: string): bigint {
  if (/^[0-9]+u$/.test(s)) return BigInt(s.slice(0, -1));
  const m = /^([0-9]+)(?:\.([0-9]{1,6}))?$/.exec(s);
  if (!m) throw new UsageError(`bad amount "${s}": use TOP with up to 6 decimals, or base units with a "u" suffix`);
  return BigInt(m[1]!) * UNIT + BigInt((m[2] ?? '').padEnd(6, '0') || '0');
}

export function formatTop(units: bigint): string {
  const neg = units < 0n;
  const u = neg ? -units : units;
  const frac = (u % UNIT).toString().padStart(6, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${u / UNIT}${frac ? '.' + frac : ''}`;
}

interface GlobalOpts {
  json?: boolean;
  rpc: string;
}

function loadKey(path: string | undefined): KeyPair {
  if (!path) throw new UsageError('--key FILE is required');
  return readKeyFile(path);
}

/** Builds, signs and submits a tx from `key`; returns {hash, status?}. */
async function submit(rpc: string, key: KeyPair, op: TxOp, opts: { fee?: string; wait?: boolean; chain?: string }): Promise<{ hash: string; status?: unknown }> {
  const st = await rpcCall<{ chainId: string; chains: Array<{ chain: string }> }>(rpc, 'chain_status');
  const shards = st.chains.filter((c) => c.chain.startsWith('shard-')).length;
  const acct = await rpcCall<AccountNonces>(rpc, 'account_get', [key.address]);
  const tx: Tx = {
    chainId: st.chainId,
    chain: (opts.chain ?? homeChain(key.address, shards)) as Tx['chain'],
    from: key.address,
    nonce: nextNonce(acct),
    fee: opts.fee ? parseAmount(opts.fee) : UNIT / 100n,
    op,
  };
  const stx = signTx(tx, Buffer.from(key.seedHex, 'hex'));
  const hash = await rpcCall<string>(rpc, 'tx_submit', [stx]);
  if (!opts.wait) return { hash };
  const end = Date.now() + 60_000;
  for (;;) {
    const s = await rpcCall<{ status: string }>(rpc, 'tx_get', [hash]);
    if (s.status === 'final') return { hash, status: s };
    if (Date.now() > end) throw new Error(`tx ${hash} not final after 60 s (status ${s.status})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function txCommand(cmd: Command, name: string, description: string, build: (args: string[], o: Record<string, string>, key: KeyPair) => TxOp, args: string[]): void {
  let c = cmd.command(name).description(description);
  for (const a of args) c = c.argument(a);
  c.requiredOption('--key <file>', 'key file of the sender (key.json)')
    .option('--fee <amount>', 'fee in TOP (burned)', '0.01')
    .option('--wait', 'wait until the tx is final')
    .action(async (...all: unknown[]) => {
      const positional = all.slice(0, args.length) as string[];
      const o = all[args.length] as Record<string, string>;
      const g = program.opts<GlobalOpts>();
      const key = loadKey(o.key);
      const r = await submit(g.rpc, key, build(positional, o, key), { fee: o.fee, wait: Boolean(o.wait) });
      out(Boolean(g.json), r, `${r.hash}${r.status ? ' final' : ' submitted'}`);
    });
}

const program = new Command();
program
  .name('topchain')
  .description('topvpn chain node (beacon + shards + auditors) and client')
  .option('--json', 'machine-readable JSON output')
  .addOption(new Option('--rpc <url>', 'node JSON-RPC URL').default(DEFAULT_RPC))
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('init')
  .description('create a node key and config in a data dir')
  .requiredOption('--dir <dir>', 'data directory')
  .requiredOption('--genesis <file>', 'genesis.json (copied path is referenced, not copied)')
  .option('--p2p <multiaddr>', 'libp2p listen address', '/ip4/127.0.0.1/tcp/0')
  .option('--rpc-port <port>', 'JSON-RPC port', '8645')
  .option('--rpc-host <host>', 'JSON-RPC bind address', '127.0.0.1')
  .option('--bootstrap <multiaddr...>', 'peers to dial besides the genesis directory (/ip4/…/tcp/<port>/p2p/<peer id>; a node outside the directory joins through them)')
  .action(async (o: { dir: string; genesis: string; p2p: string; rpcPort: string; rpcHost: string; bootstrap?: string[] }) => {
    const dir = resolve(o.dir);
    mkdirSync(dir, { recursive: true });
    const keyFile = join(dir, 'key.json');
    if (existsSync(keyFile)) throw new UsageError(`${keyFile} exists; refusing to overwrite a key`);
    readGenesis(resolve(o.genesis));
    const port = Number(o.rpcPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('bad --rpc-port');
    const { parseP2pMultiaddr } = await import('./node/peer-book.js');
    for (const b of o.bootstrap ?? []) {
      try {
        parseP2pMultiaddr(b);
      } catch (e) {
        throw new UsageError(`--bootstrap ${b}: ${(e as Error).message}`);
      }
    }
    const kp = generateKeyPair();
    writeKeyFile(keyFile, kp);
    writeNodeConfig(join(dir, 'config.json'), { dataDir: '.', keyFile: 'key.json', genesisFile: resolve(o.genesis), p2pListen: o.p2p, rpcHost: o.rpcHost, rpcPort: port, ...(o.bootstrap && o.bootstrap.length > 0 ? { bootstrap: o.bootstrap } : {}) });
    out(Boolean(program.opts<GlobalOpts>().json), { address: kp.address, dir, config: join(dir, 'config.json') }, `address ${kp.address}\nconfig  ${join(dir, 'config.json')}`);
  });

const keys = program.command('keys').description('key files');
keys
  .command('new')
  .description('generate a key file')
  .requiredOption('--out <file>', 'where to write the key (mode 0600)')
  .action((o: { out: string }) => {
    if (existsSync(o.out)) throw new UsageError(`${o.out} exists`);
    const kp = generateKeyPair();
    writeKeyFile(o.out, kp);
    out(Boolean(program.opts<GlobalOpts>().json), { address: kp.address, file: o.out }, kp.address);
  });
keys
  .command('show')
  .description('print the address of a key file')
  .requiredOption('--key <file>', 'key file')
  .action((o: { key: string }) => {
    const kp = loadKey(o.key);
    out(Boolean(program.opts<GlobalOpts>().json), { address: kp.address }, kp.address);
  });

program
  .command('start')
  .description('run a node in the foreground (prints {"event":"started"} when serving)')
  .option('--config <file>', 'config.json')
  .option('--dir <dir>', 'data dir holding config.json')
  .option('--stdin-lifeline', 'stop when stdin closes (used by the devnet launcher so nodes never outlive it)')
  .action(async (o: { config?: string; dir?: string; stdinLifeline?: boolean }) => {
    const cfg = o.config ?? (o.dir ? join(o.dir, 'config.json') : undefined);
    if (!cfg) throw new UsageError('--config or --dir is required');
    const { runNode } = await import('./node/main.js');
    const n = await runNode(resolve(cfg));
    process.stdout.write(JSON.stringify({ event: 'started', address: n.node.self, rpc: n.rpcUrl, pid: process.pid, chainId: n.node.chainId }) + '\n');
    await new Promise<void>((res) => {
      let done = false;
      process.stdout.on('error', () => {}); // the launcher may be gone
      const onSig = (): void => {
        if (done) return;
        done = true;
        void n.stop().then(() => {
          process.stdout.write(JSON.stringify({ event: 'stopped', pid: process.pid }) + '\n');
          res();
        });
      };
      process.once('SIGTERM', onSig);
      process.once('SIGINT', onSig);
      if (o.stdinLifeline) {
        process.stdin.on('data', () => {});
        process.stdin.once('end', onSig);
        process.stdin.once('close', onSig);
      }
    });
    process.exit(0);
  });

program
  .command('devnet')
  .description('launch a local devnet of node processes (foreground; Ctrl-C stops it)')
  .option('--shards <n>', 'shard chains', '2')
  .option('--group <n>', 'validators per shard', '4')
  .option('--auditors <n>', 'auditor group size (also the beacon committee)', '4')
  .option('--accounts <n>', 'funded accounts', '8')
  .option('--spares <n>', 'spare validator processes, registered by tx once the devnet is up (electable with --epoch-blocks)', '0')
  .option('--outsiders <n>', 'validator processes outside the genesis directory: bootstrap from node 0, register by tx with their p2p endpoint once synced (electable with --epoch-blocks)', '0')
  .option('--epoch-blocks <n>', 're-elect committees every N beacon blocks (default: committees fixed at genesis)')
  .requiredOption('--dir <dir>', 'devnet directory')
  .action(async (o: { shards: string; group: string; auditors: string; accounts: string; spares: string; outsiders: string; epochBlocks?: string; dir: string }) => {
    const spares = Number(o.spares);
    if (!Number.isInteger(spares) || spares < 0 || spares > 64) throw new UsageError(`--spares: "${o.spares}" must be an integer 0..64`);
    const outsiders = Number(o.outsiders);
    if (!Number.isInteger(outsiders) || outsiders < 0 || outsiders > 64) throw new UsageError(`--outsiders: "${o.outsiders}" must be an integer 0..64`);
    const epochBlocks = o.epochBlocks === undefined ? undefined : Number(o.epochBlocks);
    if (epochBlocks !== undefined && (!Number.isInteger(epochBlocks) || epochBlocks < 2)) throw new UsageError(`--epoch-blocks: "${o.epochBlocks}" must be an integer ≥ 2`);
    const { Devnet } = await import('./devnet/devnet.js');
    const d = await Devnet.create({
      dir: resolve(o.dir),
      shards: Number(o.shards),
      group: Number(o.group),
      auditors: Number(o.auditors),
      accounts: Number(o.accounts),
      ...(spares > 0 ? { spares } : {}),
      ...(outsiders > 0 ? { outsiders } : {}),
      ...(epochBlocks !== undefined ? { election: { epochBlocks } } : {}),
    });
    const stopAll = (): void => {
      void d.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stopAll);
    process.once('SIGTERM', stopAll);
    await d.start();
    const registered = spares > 0 ? await d.registerSpares() : [];
    const outsiderTxs = outsiders > 0 ? await d.registerOutsiders() : [];
    out(Boolean(program.opts<GlobalOpts>().json), { event: 'devnet-started', spareRegisterTxs: registered, ...(outsiders > 0 ? { outsiderRegisterTxs: outsiderTxs } : {}), dir: d.dir, rpc: d.rpcUrls(), pids: d.pids(), accounts: d.accounts.map((a) => a.address) }, `devnet up: ${d.nodes.length} nodes\n${d.nodes.map((n) => `  ${n.index} ${n.role.padEnd(18)} ${n.rpc} pid ${n.pid}`).join('\n')}`);
    await new Promise<void>(() => {});
  });

program
  .command('status')
  .description("a node's chains, heights and finality")
  .action(async () => {
    const g = program.opts<GlobalOpts>();
    const s = await rpcCall<{ address: string; peers: number; chains: Array<{ chain: string; height: number; finalHeight: number; validator: boolean; auditor: boolean }> }>(g.rpc, 'chain_status');
    out(Boolean(g.json), s, [`node ${s.address.slice(0, 16)}… peers ${s.peers}`, ...s.chains.map((c) => `  ${c.chain.padEnd(8)} height ${c.height} final ${c.finalHeight}${c.validator ? ' [validator]' : ''}${c.auditor ? ' [auditor]' : ''}`)].join('\n'));
  });

program
  .command('peers')
  .description("a node's p2p peers: dial address, where it comes from (registry, directory, bootstrap, inbound), link state")
  .action(async () => {
    const g = program.opts<GlobalOpts>();
    const rows = await rpcCall<Array<{ address: string; source?: string; multiaddr?: string; dialed?: string; connected: boolean; dialFailures?: number }>>(g.rpc, 'net_peers');
    const line = (p: (typeof rows)[number]): string =>
      `  ${p.address.slice(0, 16)}… ${(p.connected ? 'up' : 'down').padEnd(4)} ${(p.source ?? '').padEnd(9)} ${p.multiaddr ?? ''}${p.dialed ? ` (last dialed ${p.dialed})` : ''}${p.dialFailures ? ` failures ${p.dialFailures}` : ''}`;
    out(Boolean(g.json), rows, [`${rows.filter((p) => p.connected).length}/${rows.length} peers up`, ...rows.map(line)].join('\n'));
  });

program
  .command('balance')
  .argument('<address>')
  .description('balance and nonce of an account')
  .action(async (address: string) => {
    const g = program.opts<GlobalOpts>();
    const a = await rpcCall<{ balance: string; nonce: number; chain: string }>(g.rpc, 'account_get', [address]);
    out(Boolean(g.json), a, `${formatTop(BigInt(a.balance))} TOP (nonce ${a.nonce}, ${a.chain})`);
  });

program
  .command('node')
  .argument('<address>')
  .description('a registered node as the beacon sees it (role, deposit, votes, jailed)')
  .action(async (address: string) => {
    const g = program.opts<GlobalOpts>();
    const n = await rpcCall<{ role: string; status: string; deposit: string; votes: string; stake: string; jailed: boolean; region: string }>(g.rpc, 'node_get', [address]);
    out(Boolean(g.json), n, `${n.role} ${n.status}${n.jailed ? ' (jailed)' : ''}: deposit ${formatTop(BigInt(n.deposit))} TOP, votes ${formatTop(BigInt(n.votes))} TOP, stake ${formatTop(BigInt(n.stake))} TOP${n.region ? `, region ${n.region}` : ''}`);
  });

program
  .command('tx')
  .argument('<hash>')
  .description('status of a transaction')
  .action(async (hash: string) => {
    const g = program.opts<GlobalOpts>();
    const s = await rpcCall<{ status: string }>(g.rpc, 'tx_get', [hash]);
    out(Boolean(g.json), s, s.status);
  });

program
  .command('supply')
  .description('supply invariant over all chains, as seen by the node')
  .action(async () => {
    const g = program.opts<GlobalOpts>();
    const s = await rpcCall<{ ok: boolean; message: string }>(g.rpc, 'supply_get');
    out(Boolean(g.json), s, s.message);
    if (!s.ok) process.exitCode = 1;
  });

txCommand(program, 'send', 'transfer TOP (to any shard)', ([to, amount]) => ({ type: 'transfer', to: to!, amount: parseAmount(amount!) }), ['<to>', '<amount>']);
txCommand(
  program,
  'register',
  'register a node with a deposit (role relay|validator|auditor)',
  ([role, deposit], o, key) => ({ type: 'register', role: role as 'relay' | 'validator' | 'auditor', deposit: parseAmount(deposit!), consensusKey: o.consensusKey ?? key.address, onionKey: o.onionKey ?? null, endpoints: o.endpoint ? [o.endpoint] : [], pricePerGiB: o.price ? parseAmount(o.price) : 0n, region: o.region ?? '' }),
  ['<role>', '<deposit>'],
);
program.commands.find((c) => c.name() === 'register')!.option('--consensus-key <hex>').option('--onion-key <hex>').option('--endpoint <ep>').option('--price <amount>').option('--region <r>');
txCommand(program, 'stake', 'register a validator/auditor node with a deposit (consensus key defaults to the sender key)', ([role, deposit], o, key) => ({ type: 'register', role: role as 'relay' | 'validator' | 'auditor', deposit: parseAmount(deposit!), consensusKey: o.consensusKey ?? key.address, onionKey: null, endpoints: [], pricePerGiB: 0n, region: '' }), ['<role>', '<deposit>']);
program.commands.find((c) => c.name() === 'stake')!.option('--consensus-key <hex>');
txCommand(program, 'vote', 'lock TOP as votes for a node', ([node, amount]) => ({ type: 'vote', node: node!, amount: parseAmount(amount!) }), ['<node>', '<amount>']);

const channel = program.command('channel').description('payment channels');
txCommand(channel, 'open', 'open a channel to a relay with a deposit', ([relay, deposit]) => ({ type: 'channel-open', relay: relay!, deposit: parseAmount(deposit!) }), ['<relay>', '<deposit>']);
txCommand(channel, 'close', 'start closing a channel (challenge window)', ([id]) => ({ type: 'channel-close', channelId: id! }), ['<id>']);
channel
  .command('get')
  .argument('<id>')
  .action(async (id: string) => {
    const g = program.opts<GlobalOpts>();
    out(Boolean(g.json), await rpcCall(g.rpc, 'channel_get', [id]));
  });
channel
  .command('id')
  .description('the channel id a channel-open with this nonce creates')
  .argument('<payer>')
  .argument('<nonce>')
  .requiredOption('--chain-id <id>')
  .action((payer: string, nonce: string, o: { chainId: string }) => {
    const id = channelIdFor(o.chainId, payer, Number(nonce));
    out(Boolean(program.opts<GlobalOpts>().json), { id }, id);
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    const json = process.argv.includes('--json');
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) process.exit(0);
      process.exit(2);
    }
    const err = e as Error;
    const code = e instanceof UsageError ? 2 : 1;
    if (json) process.stdout.write(JSON.stringify({ error: err.message, ...(e instanceof RpcCallError ? { code: e.code, data: e.data } : {}) }) + '\n');
    else process.stderr.write(`topchain: ${err.message}\n`);
    process.exit(code);
  }
}

void main();
