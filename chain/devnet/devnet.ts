/**
 * Devnet launcher: writes genesis + per-node configs into a directory and runs every node
 * as its own OS process (`node dist/chain/cli.js start --config <dir>/node-<i>/config.json`).
 * Each node's stderr (pino JSON logs) goes to <dir>/node-<i>/node.log. Processes are stopped
 * by PID only. Reused by tests, benchmarks and the rest of the project:
 *
 *   const d = await Devnet.create({ dir, shards: 2, group: 4 });
 *   await d.start();            // resolves when every node serves RPC
 *   d.rpcUrls();                // ['http://127.0.0.1:…', …]
 *   d.accounts;                 // funded KeyPairs (devnet only: seeds on disk)
 *   await d.kill(0); await d.startNode(0);
 *   await d.stop();
 *
 * Outsiders (`outsiders: n`) are node processes outside the genesis node directory: their
 * config lists node 0 as a bootstrap peer; `registerOutsiders()` registers them by tx (p2p
 * endpoint + RPC URL) once they have synced, after which every node learns their address from
 * the beacon registry and the next election can seat them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { distBin } from '../../common/paths.js';
import { NODE_HEAP_FLAGS } from '../node/heap-flags.js';
import { DEFAULT_TIMING } from '../node/runtime-types.js';
import { writeGenesis, writeNodeConfig, type GenesisFile } from '../node/config.js';
import { keyPairFromSeed, writeKeyFile, type KeyPair } from '../node/keys.js';
import { makeDevnetGenesis, outsiderRegisterTx, spareRegisterTx, SPARE_DEPOSIT } from './genesis.js';
import { readGenesis } from '../node/config.js';
import { p2pEndpointFor } from '../node/peer-book.js';
import { rpcCall } from '../node/rpc-client.js';
import { homeChain } from '../state/index.js';

export class DevnetError extends Error {
  override name = 'DevnetError';
}

export interface DevnetOptions {
  readonly dir: string;
  readonly shards?: number;
  readonly group?: number;
  readonly auditors?: number;
  readonly accounts?: number;
  readonly basePort?: number;
  readonly logLevel?: string;
  readonly timing?: GenesisFile['timing'];
  /**
   * Extra node flags for every node process (e.g. ['--cpu-prof']), after NODE_HEAP_FLAGS (a later
   * flag wins, so these can override them). Also from TOPCHAIN_NODE_ARGS (space-separated).
   */
  readonly execArgv?: readonly string[];
  /** ms to wait for all nodes to serve. Default 60000. */
  readonly startTimeoutMs?: number;
  /**
   * IPv4 address every node binds (p2p and RPC) and advertises in genesis. Default 127.0.0.1.
   * With `wrap`, an address of the namespace the nodes run in.
   */
  readonly host?: string;
  /**
   * Command prefix each node process runs under, e.g. ['ip', 'netns', 'exec', 'tvs-chain'] to run
   * the nodes inside a network namespace. It must exec the node (keep its PID and stdio).
   */
  readonly wrap?: readonly string[];
  /**
   * Spare validator processes (nodes after the auditors): in the node directory but in no
   * committee and not registered at genesis; `registerSpares()` registers them by tx.
   */
  readonly spares?: number;
  /** Per-epoch committee re-election (genesis `election`, e.g. `{ epochBlocks: 10 }`). */
  readonly election?: GenesisFile['election'];
  /** Per-node address (node i binds and advertises hosts[i]; e.g. one network namespace each); overrides `host`. */
  readonly hosts?: readonly string[];
  /** Per-node command prefix; overrides `wrap` (e.g. node i in its own namespace). */
  readonly wrapFor?: (index: number) => readonly string[];
  /** Extra environment of node i's process (e.g. chain/node/test-hooks.ts variables in tests). */
  readonly envFor?: (index: number) => Readonly<Record<string, string>>;
  /**
   * Outsider validator processes (nodes after the directory, role 'outsider validator'): not in
   * the genesis node directory, bootstrap from node 0, funded at genesis with `outsiderStake`
   * (+ 1000 TOP); `registerOutsiders()` registers them by tx with their p2p endpoint.
   */
  readonly outsiders?: number;
  /** Deposit (base units) each outsider registers with. Default the devnet validator minimum. */
  readonly outsiderStake?: bigint;
}

export interface DevnetNode {
  readonly index: number;
  readonly address: string;
  readonly role: string;
  readonly rpc: string;
  readonly dir: string;
  pid: number | null;
  proc: ChildProcess | null;
}

interface DevnetManifest {
  chainId: string;
  shards: number;
  nodes: Array<{ index: number; address: string; role: string; rpc: string; dir: string }>;
  /** Node key seeds of the spare validators (devnet only), to sign their `register` txs. */
  spareSeeds?: string[];
  /** Outsiders (devnet only): key seed, p2p listen multiaddr and deposit (decimal string) per outsider. */
  outsiders?: Array<{ seed: string; p2p: string; stake: string }>;
  accounts: Array<{ address: string; seed: string }>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Lowest port the kernel hands out for outgoing connections (a range above it can be taken at any moment). */
function ephemeralLow(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(lo) && lo > 1024 ? lo : 32768;
  } catch {
    return 32768;
  }
}

/**
 * A run of `count` free ports below the ephemeral range: a range inside it could be taken by an
 * outgoing connection between this check and the nodes' bind (seen as a node exiting at start).
 */
async function findBasePort(count: number): Promise<number> {
  const lo = 10000;
  const span = Math.max(2, ephemeralLow() - count - lo);
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = lo + 2 * Math.floor((Math.random() * span) / 2);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new DevnetError('no free port range found');
}

export class Devnet {
  readonly nodes: DevnetNode[];
  readonly accounts: KeyPair[];
  readonly chainId: string;
  readonly shards: number;
  private readonly spareSeeds: readonly string[];
  private readonly outsiders: NonNullable<DevnetManifest['outsiders']>;
  private readonly logLevel: string;
  private readonly startTimeoutMs: number;
  private readonly execArgv: readonly string[];
  private readonly wrap: readonly string[];
  private readonly opts: Pick<DevnetOptions, 'wrapFor' | 'envFor'>;

  private constructor(
    readonly dir: string,
    manifest: DevnetManifest,
    opts: { logLevel?: string; startTimeoutMs?: number; execArgv?: readonly string[]; wrap?: readonly string[] } & Pick<DevnetOptions, 'wrapFor' | 'envFor'>,
  ) {
    this.wrap = opts.wrap ?? [];
    this.opts = opts;
    this.chainId = manifest.chainId;
    this.shards = manifest.shards;
    this.nodes = manifest.nodes.map((n) => ({ ...n, pid: null, proc: null }));
    this.accounts = manifest.accounts.map((a) => keyPairFromSeed(a.seed));
    this.spareSeeds = manifest.spareSeeds ?? [];
    this.outsiders = manifest.outsiders ?? [];
    this.logLevel = opts.logLevel ?? 'info';
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
    this.execArgv = opts.execArgv ?? (process.env.TOPCHAIN_NODE_ARGS ? process.env.TOPCHAIN_NODE_ARGS.split(' ').filter(Boolean) : []);
  }

  /** Writes a fresh devnet into `dir` (or reopens it if <dir>/devnet.json exists). */
  static async create(opts: DevnetOptions): Promise<Devnet> {
    const manifestPath = join(opts.dir, 'devnet.json');
    if (existsSync(manifestPath)) {
      return new Devnet(opts.dir, JSON.parse(readFileSync(manifestPath, 'utf8')) as DevnetManifest, opts);
    }
    const shards = opts.shards ?? 2;
    const group = opts.group ?? 4;
    const auditors = opts.auditors ?? group;
    const outsiders = opts.outsiders ?? 0;
    const total = shards * group + auditors + (opts.spares ?? 0) + outsiders;
    const basePort = opts.basePort ?? (await findBasePort(2 * total));
    const outsiderStake = opts.outsiderStake ?? SPARE_DEPOSIT;
    const dk = makeDevnetGenesis({ shards, group, auditors, accounts: opts.accounts ?? 8, basePort, ...(opts.host ? { host: opts.host } : {}), ...(opts.hosts ? { hosts: opts.hosts } : {}), ...(opts.spares ? { spares: opts.spares } : {}), ...(opts.election ? { election: opts.election } : {}), ...(outsiders > 0 ? { outsiders, outsiderStake } : {}), timing: opts.timing ?? { baseTimeoutMs: 1500, minBlockIntervalMs: DEFAULT_TIMING.blockIntervalMs, idleBlockMs: 600 } });
    mkdirSync(opts.dir, { recursive: true });
    writeGenesis(join(opts.dir, 'genesis.json'), dk.genesis);
    const nodes: DevnetManifest['nodes'] = [];
    dk.nodeKeys.forEach((k, i) => {
      const nd = join(opts.dir, `node-${i}`);
      mkdirSync(nd, { recursive: true });
      writeKeyFile(join(nd, 'key.json'), k);
      writeNodeConfig(join(nd, 'config.json'), {
        dataDir: '.',
        keyFile: 'key.json',
        genesisFile: '../genesis.json',
        p2pListen: dk.genesis.nodes[i]!.p2p,
        rpcHost: opts.hosts?.[i] ?? opts.host ?? '127.0.0.1',
        rpcPort: dk.ports[i]!.rpc,
        ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
      });
      nodes.push({ index: i, address: k.address, role: dk.roles[i]!, rpc: dk.genesis.nodes[i]!.rpc, dir: nd });
    });
    const bootstrap = [p2pEndpointFor(dk.genesis.nodes[0]!.p2p, dk.genesis.nodes[0]!.address)];
    const outsiderList: NonNullable<DevnetManifest['outsiders']> = [];
    dk.outsiderKeys.forEach((k, j) => {
      const i = dk.nodeKeys.length + j;
      const host = opts.hosts?.[i] ?? opts.host ?? '127.0.0.1';
      const nd = join(opts.dir, `node-${i}`);
      const p2p = `/ip4/${host}/tcp/${dk.outsiderPorts[j]!.p2p}`;
      mkdirSync(nd, { recursive: true });
      writeKeyFile(join(nd, 'key.json'), k);
      writeNodeConfig(join(nd, 'config.json'), { dataDir: '.', keyFile: 'key.json', genesisFile: '../genesis.json', p2pListen: p2p, rpcHost: host, rpcPort: dk.outsiderPorts[j]!.rpc, bootstrap, ...(opts.logLevel ? { logLevel: opts.logLevel } : {}) });
      nodes.push({ index: i, address: k.address, role: 'outsider validator', rpc: `http://${host}:${dk.outsiderPorts[j]!.rpc}`, dir: nd });
      outsiderList.push({ seed: k.seedHex, p2p, stake: outsiderStake.toString() });
    });
    const spareSeeds = dk.nodeKeys.filter((_, i) => dk.roles[i] === 'spare validator').map((k) => k.seedHex);
    const manifest: DevnetManifest = { chainId: dk.genesis.chainId, shards, nodes, accounts: dk.accounts.map((a) => ({ address: a.address, seed: a.seedHex })), ...(spareSeeds.length > 0 ? { spareSeeds } : {}), ...(outsiderList.length > 0 ? { outsiders: outsiderList } : {}) };
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
    return new Devnet(opts.dir, manifest, opts);
  }

  /**
   * Registers every spare validator on chain: each sends a `register` tx (validator role,
   * devnet minimum deposit) from its own funded account through its own RPC. Returns the tx hashes.
   */
  async registerSpares(): Promise<string[]> {
    const genesis = readGenesis(join(this.dir, 'genesis.json'));
    const out: string[] = [];
    for (const seed of this.spareSeeds) {
      const key = keyPairFromSeed(seed);
      const n = this.nodes.find((x) => x.address === key.address);
      if (!n) throw new DevnetError('spare key without a node');
      out.push(await rpcCall<string>(n.rpc, 'tx_submit', [spareRegisterTx(genesis, key)]));
    }
    return out;
  }

  /**
   * Registers every outsider on chain once it has synced (its beacon and home shard heights
   * reached node 0's at the time of the call; `timeoutMs`, default 60 s): each sends a `register`
   * tx (validator role, its devnet stake, endpoints = p2p multiaddr with /p2p/<peer id> and RPC
   * URL) from its own genesis-funded account through its own RPC. Returns the tx hashes.
   */
  async registerOutsiders(timeoutMs = 60_000): Promise<string[]> {
    const genesis = readGenesis(join(this.dir, 'genesis.json'));
    type Status = { chains: Array<{ chain: string; height: number }> };
    const heightOf = (s: Status, chain: string): number => s.chains.find((c) => c.chain === chain)?.height ?? 0;
    const out: string[] = [];
    for (const o of this.outsiders) {
      const key = keyPairFromSeed(o.seed);
      const n = this.nodes.find((x) => x.address === key.address);
      if (!n) throw new DevnetError('outsider key without a node');
      const home = homeChain(key.address, this.shards);
      const ref = await rpcCall<Status>(this.nodes[0]!.rpc, 'chain_status');
      const end = Date.now() + timeoutMs;
      for (;;) {
        const mine = await rpcCall<Status>(n.rpc, 'chain_status').catch(() => undefined);
        if (mine && heightOf(mine, 'beacon') >= heightOf(ref, 'beacon') && heightOf(mine, home) >= heightOf(ref, home)) break;
        if (Date.now() > end) throw new DevnetError(`outsider ${n.index} did not sync within ${timeoutMs} ms (see ${join(n.dir, 'node.log')})`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const acct = await rpcCall<{ nonce: number }>(n.rpc, 'account_get', [key.address]);
      out.push(await rpcCall<string>(n.rpc, 'tx_submit', [outsiderRegisterTx(genesis, key, o.p2p, n.rpc, BigInt(o.stake), acct.nonce)]));
    }
    return out;
  }

  rpcUrls(): string[] {
    return this.nodes.map((n) => n.rpc);
  }

  /** Starts every node not running; resolves when all serve RPC. */
  async start(): Promise<void> {
    await Promise.all(this.nodes.map((n) => (n.proc ? Promise.resolve() : this.startNode(n.index))));
  }

  /** Starts node i; resolves on its {"event":"started"} line. */
  async startNode(i: number): Promise<void> {
    const n = this.nodes[i];
    if (!n) throw new DevnetError(`no node ${i}`);
    if (n.proc) return;
    const log = createWriteStream(join(n.dir, 'node.log'), { flags: 'a' });
    const argv = [process.execPath, ...NODE_HEAP_FLAGS, ...this.execArgv, distBin('chain/cli'), 'start', '--config', join(n.dir, 'config.json'), '--stdin-lifeline'];
    const full = [...(this.opts.wrapFor?.(i) ?? this.wrap), ...argv];
    const proc = spawn(full[0]!, full.slice(1), {
      // stdin is a lifeline: if this launcher dies, the pipe closes and the node stops itself.
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, TOPVPN_LOG_LEVEL: this.logLevel, ...this.opts.envFor?.(i) },
    });
    n.proc = proc;
    n.pid = proc.pid ?? null;
    proc.once('exit', () => {
      if (n.proc === proc) {
        n.proc = null;
        n.pid = null;
      }
    });
    proc.stderr!.pipe(log);
    // The last log lines, for the error if the node dies before starting (its directory may be gone by the time anyone reads node.log).
    let tail = '';
    const keepTail = (d: Buffer): void => {
      tail = (tail + d.toString('utf8')).slice(-1500);
    };
    proc.stderr!.on('data', keepTail);
    const rl = createInterface({ input: proc.stdout! });
    let onLine: (line: string) => void = () => undefined;
    let onClose: (code: number | null, sig: NodeJS.Signals | null) => void = () => undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DevnetError(`node ${i} did not start within ${this.startTimeoutMs} ms (see ${join(n.dir, 'node.log')})`)), this.startTimeoutMs);
      onLine = (line) => {
        try {
          const ev = JSON.parse(line) as { event?: string };
          if (ev.event === 'started') {
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // not a JSON line
        }
      };
      onClose = (code, sig) => {
        clearTimeout(timer);
        const last = tail.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-3).join(' | ');
        reject(new DevnetError(`node ${i} exited (code ${code}, signal ${sig}) before starting; see ${join(n.dir, 'node.log')}${last ? `; last log lines: ${last}` : ''}`));
      };
      rl.on('line', onLine);
      proc.once('close', onClose);
    }).catch((e: unknown) => {
      if (n.proc === proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      throw e;
    }).finally(() => {
      // Only this function's own listeners: stop() may already be waiting on 'exit' (a node
      // that prints "started" while the devnet is being stopped).
      rl.off('line', onLine);
      proc.off('close', onClose);
      proc.stderr!.off('data', keepTail);
    });
  }

  /** Stops node i with SIGTERM (clean shutdown), SIGKILL after `graceMs`. */
  async stopNode(i: number, graceMs = 8000): Promise<void> {
    await this.signal(i, 'SIGTERM', graceMs);
  }

  /** Kills node i abruptly (SIGKILL): a crash. */
  async kill(i: number): Promise<void> {
    await this.signal(i, 'SIGKILL', 5000);
  }

  private async signal(i: number, sig: NodeJS.Signals, graceMs: number): Promise<void> {
    const n = this.nodes[i];
    const proc = n?.proc;
    if (!n || !proc || proc.exitCode !== null || proc.signalCode !== null) {
      if (n) {
        n.proc = null;
        n.pid = null;
      }
      return;
    }
    const exited = new Promise<void>((r) => {
      proc.once('exit', () => r());
      if (proc.exitCode !== null || proc.signalCode !== null) r();
    });
    proc.kill(sig);
    const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
    if (n.proc === proc) {
      n.proc = null;
      n.pid = null;
    }
  }

  /** Stops every node (SIGTERM, then SIGKILL after the grace period). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stopNode(n.index)));
  }

  pids(): number[] {
    return this.nodes.map((n) => n.pid).filter((p): p is number => p !== null);
  }
}
