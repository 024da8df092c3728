/**
 * Chain fault injection on the devnet (separate node processes on 127.0.0.1, chain/devnet).
 *
 * Under a steady load of signed transfers (intra- and cross-shard) and channel operations
 * (open → claim → claim → close → claim → finalize), it SIGKILLs a random node (validator,
 * auditor+beacon member) `kills` times, restarting each after `outageMs`, and SIGSTOPs one
 * shard validator per `pauses` for `pauseMs` (a stand-in for a network partition of a minority:
 * the nodes share one loopback, so this is a pause, not a link cut — bench/faults-partition.ts
 * cuts real links, one namespace per node), then SIGCONTs it.
 *
 * After every fault it checks:
 *  - recovery: within `recoverTimeoutMs`, every node (the faulted one included) reaches, on
 *    every chain, the highest final height any live node had when the fault ended, plus 2;
 *  - no finalized tx lost or reordered: a sample of txs seen final before the fault is looked up
 *    on every node (tx_get: final at the same chain/height; chain_getBlock: same block hash and
 *    the same position of the tx among the block's results);
 *  - supply invariant (supply_get) on every node.
 * At the end: every tracked final tx on every node, and one block hash + state root per chain
 * at the lowest common final height, equal on every node.
 *
 * Library: `runChainFaults(opts)`. Script: `node dist/bench/faults-chain.js [--kills N]
 * [--pauses N] [--outage-ms MS] [--seed S]` prints one JSON line (the report).
 */
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { Devnet } from '../chain/devnet/devnet.js';
import { repoRoot } from '../common/paths.js';
import { decidedSupply, rpcCall, RpcCallError, type SupplyAnswer } from '../chain/node/rpc-client.js';
import type { KeyPair } from '../chain/node/keys.js';
import type { RpcCallFn } from '../relay/payments/chain-rpc.js';
import { channelIdFor, homeChain, signPaymentReceipt, signTx, txHash, UNIT, type ChainName, type SignedTx, type TxOp } from '../chain/state/index.js';

export class ChainFaultsError extends Error {
  override name = 'ChainFaultsError';
}

export interface ChainFaultOptions {
  /** Devnet directory (default: a fresh temp dir, removed at the end). */
  dir?: string;
  /** Number of SIGKILLs (default 20). Ignored when `killPlan` is given. */
  kills?: number;
  /** Explicit node indices to kill, in order (tests). */
  killPlan?: readonly number[];
  /** SIGSTOP/SIGCONT pauses of one shard validator (default 1). */
  pauses?: number;
  /** Downtime of a killed node before restart (default 3000 ms). */
  outageMs?: number;
  /** Length of a pause (default 6000 ms). */
  pauseMs?: number;
  /** Bound on recovery after a restart/resume (default 90000 ms). */
  recoverTimeoutMs?: number;
  /** Load settle time between faults (default 2000 ms). */
  settleMs?: number;
  /** Final txs re-checked on every node after each recovery (default 24). */
  sampleSize?: number;
  /** PRNG seed (default 1). */
  seed?: number;
  /** Progress lines (default: none). */
  log?: (msg: string) => void;
  /**
   * Run the nodes from a private copy of dist/chain and dist/common taken at the start (default
   * true), so a rebuild of the shared tree during the run cannot change the code a restarted
   * node loads.
   */
  snapshotDist?: boolean;
}

/** Copies dist/chain + dist/common into a temp tree whose repoRoot() is the copy; returns its root. */
export function snapshotDist(): string {
  const root = repoRoot();
  const snap = mkdtempSync(join(tmpdir(), 'tvz-dist-'));
  for (const sub of ['chain', 'common']) cpSync(join(root, 'dist', sub), join(snap, 'dist', sub), { recursive: true });
  cpSync(join(root, 'package.json'), join(snap, 'package.json'));
  cpSync(join(root, 'tsconfig.json'), join(snap, 'tsconfig.json'));
  symlinkSync(join(root, 'node_modules'), join(snap, 'node_modules'));
  return snap;
}

/** The Devnet class, loaded from the `snapshotDist()` copy `snap` when given (else from this tree). */
export async function devnetClass(snap: string | null): Promise<typeof Devnet> {
  const url = snap ? pathToFileURL(join(snap, 'dist', 'chain', 'devnet', 'devnet.js')).href : '../chain/devnet/devnet.js';
  return ((await import(url)) as typeof import('../chain/devnet/devnet.js')).Devnet;
}

export interface ChainFaultReport {
  kills: number;
  kills_recovered: number;
  kills_by_role: Record<string, number>;
  pauses: number;
  pauses_recovered: number;
  /** How a partition was emulated: the nodes share a loopback, so a process pause. */
  partition_mode: 'sigstop';
  supply_violations: number;
  lost_txs: number;
  reordered_txs: number;
  txs_submitted: number;
  txs_final: number;
  txs_rejected: number;
  channel_ops_final: number;
  cross_shard_final: number;
  tx_checks: number;
  state_roots_agree: boolean;
  common_final_heights: Record<string, number>;
  recover_ms_max: number;
  recover_ms_mean: number;
  duration_s: number;
  failures: string[];
}

const FEE = UNIT / 100n;
/** How long checkSupplyAll waits for a catching-up node's chains to form a consistent cut. */
const SUPPLY_CUT_WAIT_MS = 20_000;

export interface Status {
  chains: Array<{ chain: string; height: number; finalHeight: number; tipHash: string }>;
}

export interface BlockView {
  hash: string;
  stateRoot: string;
  results: Array<{ kind: string; id: string; status: string }>;
  final: boolean;
}

/** Where a tx became final, as first observed. */
interface FinalTx {
  hash: string;
  chain: string;
  height: number;
  blockHash: string;
  index: number;
  kind: string;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Load, bookkeeping and checks shared by the chain fault harnesses (faults-chain, -partition,
 * -byzantine): `down` nodes get no load and count for no target; `call` reaches a node's RPC
 * URL (plain HTTP by default; a Unix-socket proxy when the nodes live in namespaces).
 */
export class Harness {
  readonly down = new Set<number>();
  readonly finals = new Map<string, FinalTx>();
  readonly order: string[] = [];
  readonly lost = new Set<string>();
  readonly dead = new Set<number>();
  readonly reordered = new Set<string>();
  failures: string[] = [];
  submitted = 0;
  rejected = 0;
  channelFinal = 0;
  crossFinal = 0;
  txChecks = 0;
  supplyViolations = 0;
  stopping = false;

  constructor(
    readonly d: Devnet,
    readonly rnd: () => number,
    readonly log: (m: string) => void,
    readonly call: RpcCallFn = rpcCall,
  ) {}

  get urls(): string[] {
    return this.d.rpcUrls();
  }

  liveIdx(): number[] {
    return this.d.nodes.map((n) => n.index).filter((i) => !this.down.has(i));
  }

  pickLive(): string {
    const live = this.liveIdx();
    return this.urls[live[Math.floor(this.rnd() * live.length)]!]!;
  }

  fail(msg: string): void {
    this.failures.push(msg);
    this.log(`FAIL ${msg}`);
  }

  async status(i: number, attempts = 1): Promise<Map<string, { final: number; height: number }>> {
    let s: Status | undefined;
    for (let a = 1; s === undefined; a++) {
      try {
        s = await this.call<Status>(this.urls[i]!, 'chain_status', [], 5000);
      } catch (e) {
        if (a >= attempts) throw new ChainFaultsError(`node ${i} (${this.d.nodes[i]!.proc ? 'running' : 'not running'}): chain_status: ${(e as Error).message}`);
        await sleep(500);
      }
    }
    return new Map(s.chains.map((c) => [c.chain, { final: c.finalHeight, height: c.height }]));
  }

  /** Submits `stx` to live nodes until one admits it or it is refused `attempts` times. */
  async submit(stx: SignedTx, attempts = 8, resubmit = false): Promise<string | null> {
    let lastErr = '';
    for (let a = 0; a < attempts && !this.stopping; a++) {
      try {
        const h = await this.call<string>(this.pickLive(), 'tx_submit', [stx], 8000);
        this.submitted++;
        return h;
      } catch (e) {
        lastErr = (e as Error).message;
        // an already-known tx (e.g. resubmitted after a crash) counts as admitted
        if (e instanceof RpcCallError && /already (known|pending|committed)|duplicate/i.test(e.message)) return txHash(stx.tx);
        await sleep(500 + 300 * a); // a lagging node (just restarted) may not have the sender's nonce yet
      }
    }
    if (!resubmit) {
      this.rejected++;
      this.log(`tx refused: ${lastErr}`);
    }
    return null;
  }

  /**
   * Waits until `stx` is final (polling random live nodes), resubmitting it to another node
   * when it is not even pending anywhere we ask (its mempool died with a killed node).
   * Records its final position. Returns false when it never became final (stop or give-up).
   */
  async untilFinal(stx: SignedTx, kind: string, giveUpMs = 180_000): Promise<FinalTx | null> {
    const hash = txHash(stx.tx);
    const end = Date.now() + giveUpMs;
    let unknownSince = 0;
    while (Date.now() < end && !this.stopping) {
      const url = this.pickLive();
      try {
        const st = await this.call<{ status: string; chain?: string; height?: number }>(url, 'tx_get', [hash], 5000);
        if (st.status === 'final' && st.chain !== undefined && st.height !== undefined) {
          const b = await this.call<BlockView>(url, 'chain_getBlock', [st.chain, st.height], 8000);
          const index = b.results.findIndex((r) => r.kind === 'tx' && r.id === hash);
          if (index < 0) {
            this.fail(`tx ${hash.slice(0, 12)} final at ${st.chain}#${st.height} on ${url} but not among the block's results`);
            return null;
          }
          const f: FinalTx = { hash, chain: st.chain, height: st.height, blockHash: b.hash, index, kind };
          if (!this.finals.has(hash)) {
            this.finals.set(hash, f);
            this.order.push(hash);
          }
          return f;
        }
        if (st.status === 'unknown') {
          if (unknownSince === 0) unknownSince = Date.now();
          else if (Date.now() - unknownSince > 8000) {
            await this.submit(stx, 3, true);
            unknownSince = 0;
          }
        } else unknownSince = 0;
      } catch {
        // node busy or just killed
      }
      await sleep(300);
    }
    return null;
  }

  async nonceOf(addr: string): Promise<number> {
    for (;;) {
      try {
        return (await this.call<{ nonce: number }>(this.pickLive(), 'account_get', [addr], 5000)).nonce;
      } catch {
        await sleep(300);
      }
    }
  }

  /** Re-checks `hashes` (final before) on node `i`: same chain/height, block hash and position. */
  async checkTxsOn(i: number, hashes: readonly string[]): Promise<void> {
    const url = this.urls[i]!;
    const blocks = new Map<string, BlockView>();
    for (const h of hashes) {
      const f = this.finals.get(h)!;
      this.txChecks++;
      let st: { status: string; chain?: string; height?: number };
      try {
        st = await this.call(url, 'tx_get', [h], 8000);
      } catch (e) {
        this.fail(`node ${i}: tx_get failed: ${(e as Error).message}`);
        continue;
      }
      if (st.status !== 'final' || st.chain !== f.chain || st.height !== f.height) {
        this.lost.add(h);
        this.fail(`node ${i}: tx ${h.slice(0, 12)} was final at ${f.chain}#${f.height}, now ${st.status} ${st.chain ?? ''}#${st.height ?? ''}`);
        continue;
      }
      const key = `${f.chain}/${f.height}`;
      let b = blocks.get(key);
      if (!b) {
        try {
          b = await this.call<BlockView>(url, 'chain_getBlock', [f.chain, f.height], 8000);
          blocks.set(key, b);
        } catch (e) {
          this.fail(`node ${i}: chain_getBlock ${key} failed: ${(e as Error).message}`);
          continue;
        }
      }
      const idx = b.results.findIndex((r) => r.kind === 'tx' && r.id === h);
      if (b.hash !== f.blockHash || idx !== f.index) {
        this.reordered.add(h);
        this.fail(`node ${i}: tx ${h.slice(0, 12)} at ${key}: block ${b.hash.slice(0, 12)} index ${idx}, was ${f.blockHash.slice(0, 12)} index ${f.index}`);
      }
    }
  }

  /** Nodes that died without being killed by us. */
  checkAlive(label: string): void {
    for (const n of this.d.nodes) {
      if (!this.down.has(n.index) && n.proc === null && !this.dead.has(n.index)) {
        this.dead.add(n.index);
        this.fail(`${label}: node ${n.index} (${n.role}) exited on its own; see ${n.dir}/node.log`);
      }
    }
  }

  /**
   * The supply invariant on every running node. A node with one chain ahead of another (still
   * catching up) cannot decide it (`consistent: false`): it is asked again, for up to
   * SUPPLY_CUT_WAIT_MS, until its chains form a consistent cut.
   */
  async checkSupplyAll(): Promise<void> {
    for (const i of this.liveIdx().filter((x) => this.d.nodes[x]!.proc !== null)) {
      try {
        const s = await decidedSupply(() => this.call<SupplyAnswer>(this.urls[i]!, 'supply_get', [], 8000), SUPPLY_CUT_WAIT_MS);
        if (!s.ok) {
          this.supplyViolations++;
          this.fail(`node ${i}: supply: ${s.message}`);
        }
      } catch (e) {
        this.fail(`node ${i}: supply_get failed: ${(e as Error).message}`);
      }
    }
  }

  /** Highest final height per chain over the live nodes. */
  async maxFinal(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const i of this.liveIdx()) {
      try {
        for (const [c, v] of await this.status(i)) out.set(c, Math.max(out.get(c) ?? 0, v.final));
      } catch {
        // a node that cannot answer does not set the target
      }
    }
    return out;
  }

  /** Every node reaches target+2 on every chain within `timeoutMs`; resolves ms taken or null. */
  async recovered(target: Map<string, number>, timeoutMs: number): Promise<number | null> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      let ok = true;
      for (const i of this.liveIdx()) {
        try {
          const s = await this.status(i);
          for (const [c, h] of target) if ((s.get(c)?.final ?? -1) < h + 2) ok = false;
        } catch {
          ok = false;
        }
        if (!ok) break;
      }
      if (ok) return Date.now() - t0;
      await sleep(300);
    }
    return null;
  }

  /** Starts the load: 2 transfer workers and 1 channel worker (payer + relay) per shard; ends when `stopping`. */
  startLoad(): Promise<void>[] {
    const d = this.d;
    const workers: Promise<void>[] = [];
    const byShard = new Map<ChainName, KeyPair[]>();
    for (const a of d.accounts) {
      const c = homeChain(a.address, d.shards);
      byShard.set(c, [...(byShard.get(c) ?? []), a]);
    }
    for (const [c, accs] of byShard) {
      if (accs.length < 4) throw new ChainFaultsError(`need ≥4 accounts on ${c}, have ${accs.length}`);
      const others = d.accounts.filter((a) => homeChain(a.address, d.shards) !== c).map((a) => a.address);
      for (const w of accs.slice(0, 2)) workers.push(transferWorker(this, w, { same: accs.filter((a) => a !== w).map((a) => a.address), other: others }));
      workers.push(channelWorker(this, accs[2]!, accs[3]!));
    }
    return workers;
  }

  /** Final txs to re-check after a fault: the most recent ones (likely near it) plus a random spread of older ones. */
  sample(size: number): string[] {
    const pool = [...this.order];
    const out: string[] = [];
    out.push(...pool.slice(-Math.ceil(size / 3)));
    while (out.length < size && out.length < pool.length) {
      const x = pool[Math.floor(this.rnd() * pool.length)]!;
      if (!out.includes(x)) out.push(x);
    }
    return out;
  }

  /**
   * After a fault: every live node reaches `target`+2 on every chain, then `snapshot` (final
   * before the fault) is re-checked on every live node and the supply on every node.
   * Returns the recovery time in ms, or null (recorded as a failure).
   */
  async afterFault(label: string, target: Map<string, number>, snapshot: readonly string[], timeoutMs: number): Promise<number | null> {
    const ms = await this.recovered(target, timeoutMs);
    if (ms === null) {
      this.fail(`${label}: no recovery within ${timeoutMs} ms (target ${JSON.stringify(Object.fromEntries(target))})`);
      return null;
    }
    this.checkAlive(label);
    for (const i of this.liveIdx()) await this.checkTxsOn(i, snapshot);
    await this.checkSupplyAll();
    this.log(`${label}: recovered in ${ms} ms; ${this.finals.size} final txs so far, ${snapshot.length} re-checked on ${this.liveIdx().length} nodes`);
    return ms;
  }

  /**
   * End of run (call after the load stopped): every tracked final tx on every running node,
   * the supply on every node, and one block hash + state root per chain at the lowest common
   * final height, equal on every node (blocks link by parent hash, so the chains below agree too).
   */
  async endChecks(): Promise<{ stateRootsAgree: boolean; common: Record<string, number> }> {
    const d = this.d;
    this.checkAlive('end');
    const all = [...this.order];
    const running = this.liveIdx().filter((i) => d.nodes[i]!.proc !== null);
    if (running.length < d.nodes.length) this.fail(`end: only ${running.length} of ${d.nodes.length} nodes running; end checks on those`);
    for (const i of running) await this.checkTxsOn(i, all);
    await this.checkSupplyAll();
    const mins = new Map<string, number>();
    for (const i of running) for (const [c, v] of await this.status(i, 10)) mins.set(c, Math.min(mins.get(c) ?? Number.MAX_SAFE_INTEGER, v.final));
    let stateRootsAgree = true;
    const common: Record<string, number> = {};
    for (const [c, ht] of mins) {
      common[c] = ht;
      const seen = new Set<string>();
      for (const i of running) {
        const b = await this.call<BlockView>(this.urls[i]!, 'chain_getBlock', [c, ht], 8000);
        seen.add(`${b.hash}/${b.stateRoot}`);
      }
      if (seen.size !== 1) {
        stateRootsAgree = false;
        this.fail(`${c}#${ht}: ${seen.size} different block hash/state root pairs across nodes`);
      }
    }
    return { stateRootsAgree, common };
  }
}

/** Transfer worker: intra- or cross-shard transfers, one final tx after another. */
export async function transferWorker(h: Harness, from: KeyPair, peers: { same: string[]; other: string[] }): Promise<void> {
  const seed = Buffer.from(from.seedHex, 'hex');
  const chain = homeChain(from.address, h.d.shards);
  let nonce = await h.nonceOf(from.address);
  while (!h.stopping) {
    const cross = h.rnd() < 0.5 && peers.other.length > 0;
    const pool = cross ? peers.other : peers.same;
    const to = pool[Math.floor(h.rnd() * pool.length)]!;
    const amount = BigInt(1 + Math.floor(h.rnd() * 1000)) * (UNIT / 1000n);
    const stx = signTx({ chainId: h.d.chainId, chain, from: from.address, nonce, fee: FEE, op: { type: 'transfer', to, amount } }, seed);
    if ((await h.submit(stx)) === null) {
      nonce = await h.nonceOf(from.address);
      continue;
    }
    const f = await h.untilFinal(stx, cross ? 'cross' : 'transfer');
    if (f) {
      if (cross) h.crossFinal++;
      nonce++;
    } else if (!h.stopping) nonce = await h.nonceOf(from.address);
  }
}

/** Channel worker: open → claim → claim → close → claim → (challenge window) → finalize, repeated. */
export async function channelWorker(h: Harness, payer: KeyPair, relay: KeyPair): Promise<void> {
  const pSeed = Buffer.from(payer.seedHex, 'hex');
  const rSeed = Buffer.from(relay.seedHex, 'hex');
  const chain = homeChain(payer.address, h.d.shards);
  const deposit = 5n * UNIT;
  const payerTx = async (nonce: number, op: TxOp, kind: string): Promise<boolean> => {
    const stx = signTx({ chainId: h.d.chainId, chain, from: payer.address, nonce, fee: FEE, op }, pSeed);
    if ((await h.submit(stx)) === null) return false;
    const ok = (await h.untilFinal(stx, kind)) !== null;
    if (ok) h.channelFinal++;
    return ok;
  };
  const claim = async (channelId: string, seq: number, amount: bigint): Promise<boolean> => {
    const receipt = { chainId: h.d.chainId, channelId, cumulativeBytes: amount * 1000n, cumulativeAmount: amount, seq };
    const op: TxOp = { type: 'channel-claim', channelId, receipt, receiptSignature: signPaymentReceipt(receipt, pSeed) };
    const stx = signTx({ chainId: h.d.chainId, chain, from: relay.address, nonce: 0, fee: FEE, op }, rSeed);
    if ((await h.submit(stx)) === null) return false;
    const ok = (await h.untilFinal(stx, 'channel-claim')) !== null;
    if (ok) h.channelFinal++;
    return ok;
  };
  while (!h.stopping) {
    const nonce = await h.nonceOf(payer.address);
    const channelId = channelIdFor(h.d.chainId, payer.address, nonce);
    if (!(await payerTx(nonce, { type: 'channel-open', relay: relay.address, deposit }, 'channel-open'))) continue;
    let seq = 0;
    for (let k = 1; k <= 2 && !h.stopping; k++) await claim(channelId, ++seq, BigInt(k) * UNIT);
    if (h.stopping) break;
    if (!(await payerTx(nonce + 1, { type: 'channel-close', channelId }, 'channel-close'))) continue;
    await claim(channelId, ++seq, 3n * UNIT);
    // finalize once the challenge window has passed on the payer's shard
    let closesAt = Number.MAX_SAFE_INTEGER;
    while (!h.stopping) {
      try {
        const ch = await h.call<{ closesAt: number | null; status: string }>(h.pickLive(), 'channel_get', [channelId], 5000);
        if (ch.closesAt !== null) closesAt = ch.closesAt;
        const s = await h.call<Status>(h.pickLive(), 'chain_status', [], 5000);
        if ((s.chains.find((c) => c.chain === chain)?.finalHeight ?? 0) >= closesAt + 1) break;
      } catch {
        // node busy
      }
      await sleep(500);
    }
    if (h.stopping) break;
    await payerTx(nonce + 2, { type: 'channel-finalize', channelId }, 'channel-finalize');
  }
}

/** Runs the devnet, the load and the faults; always stops every node it started. */
export async function runChainFaults(opts: ChainFaultOptions = {}): Promise<ChainFaultReport> {
  const t0 = Date.now();
  const log = opts.log ?? ((): void => {});
  const rnd = mulberry32(opts.seed ?? 1);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tvz-faults-'));
  const outageMs = opts.outageMs ?? 3000;
  const pauseMs = opts.pauseMs ?? 6000;
  const recoverTimeoutMs = opts.recoverTimeoutMs ?? 90_000;
  const settleMs = opts.settleMs ?? 2000;
  const sampleSize = opts.sampleSize ?? 24;
  const snap = opts.snapshotDist === false ? null : snapshotDist();
  const DevnetCls = await devnetClass(snap);
  let d: Devnet;
  try {
    d = await DevnetCls.create({ dir, shards: 2, group: 4, auditors: 4, accounts: 12, logLevel: 'warn' });
  } catch (e) {
    if (snap) rmSync(snap, { recursive: true, force: true });
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const h = new Harness(d, rnd, log);
  const workers: Promise<void>[] = [];
  const recoverMs: number[] = [];
  const killsByRole: Record<string, number> = {};
  let kills = 0;
  let killsRecovered = 0;
  let pauses = 0;
  let pausesRecovered = 0;
  let stateRootsAgree = false;
  const common: Record<string, number> = {};
  let paused: number | null = null;
  let crashed = false;
  try {
    await d.start();
    log(`devnet up: ${d.nodes.length} nodes in ${dir}`);
    const chains: string[] = ['beacon', ...Array.from({ length: d.shards }, (_, i) => `shard-${i}`)];
    const first = await h.recovered(new Map(chains.map((c) => [c, 0])), 60_000);
    if (first === null) throw new ChainFaultsError('devnet did not reach final height 2 on every chain');

    workers.push(...h.startLoad());
    await sleep(settleMs * 2);

    const roleOf = (i: number): string => d.nodes[i]!.role;
    const plan: number[] = opts.killPlan ? [...opts.killPlan] : Array.from({ length: opts.kills ?? 20 }, () => Math.floor(rnd() * d.nodes.length));
    const sample = (): string[] => h.sample(sampleSize);
    const afterFault = async (label: string, target: Map<string, number>, snapshot: string[]): Promise<boolean> => {
      const ms = await h.afterFault(label, target, snapshot, recoverTimeoutMs);
      if (ms === null) return false;
      recoverMs.push(ms);
      return true;
    };

    const pauseAt = new Set<number>();
    const nPauses = opts.pauses ?? 1;
    for (let p = 0; p < nPauses; p++) pauseAt.add(Math.floor(((p + 1) * plan.length) / (nPauses + 1)));
    for (let k = 0; k <= plan.length; k++) {
      if (pauseAt.has(k) || (k === plan.length && pauses < nPauses)) {
        // pause (SIGSTOP) a shard validator: a minority of its group cut off, then heal
        const validators = d.nodes.filter((n) => n.role.startsWith('validator'));
        const v = validators[Math.floor(rnd() * validators.length)]!;
        const snapshot = sample();
        const pid = v.pid;
        if (pid === null) throw new ChainFaultsError(`node ${v.index} not running`);
        pauses++;
        const before = await h.maxFinal();
        h.down.add(v.index);
        paused = pid;
        process.kill(pid, 'SIGSTOP');
        log(`pause ${pauses}: SIGSTOP node ${v.index} (${v.role})`);
        await sleep(pauseMs);
        const during = await h.maxFinal();
        const shard = v.role.replace('validator ', '');
        if ((during.get(shard) ?? 0) <= (before.get(shard) ?? 0)) h.fail(`pause ${pauses}: ${shard} did not finalize while node ${v.index} was paused`);
        process.kill(pid, 'SIGCONT');
        paused = null;
        h.down.delete(v.index);
        if (await afterFault(`pause ${pauses} (node ${v.index})`, during, snapshot)) pausesRecovered++;
        await sleep(settleMs);
      }
      if (k === plan.length) break;
      const i = plan[k]!;
      const snapshot = sample();
      kills++;
      killsByRole[roleOf(i)] = (killsByRole[roleOf(i)] ?? 0) + 1;
      h.down.add(i);
      await d.kill(i);
      log(`kill ${kills}: SIGKILL node ${i} (${roleOf(i)})`);
      await sleep(outageMs);
      let restarted = false;
      for (let a = 1; a <= 3 && !restarted; a++) {
        try {
          await d.startNode(i);
          restarted = true;
        } catch (e) {
          h.fail(`kill ${kills}: restart ${a} of node ${i} failed: ${(e as Error).message}`);
          await sleep(3000);
        }
      }
      if (!restarted) {
        h.fail(`kill ${kills}: node ${i} stays down; no further faults injected`);
        break;
      }
      h.down.delete(i);
      const target = await h.maxFinal();
      if (await afterFault(`kill ${kills} (node ${i})`, target, snapshot)) killsRecovered++;
      await sleep(settleMs);
    }

    // stop the load, then the end-of-run checks on every node
    h.stopping = true;
    await Promise.all(workers);
    const end = await h.endChecks();
    stateRootsAgree = end.stateRootsAgree;
    Object.assign(common, end.common);
  } catch (e) {
    crashed = true;
    throw e;
  } finally {
    h.stopping = true;
    if (paused !== null) {
      try {
        process.kill(paused, 'SIGCONT');
      } catch {
        // already gone
      }
    }
    await Promise.allSettled(workers);
    await d.stop();
    if (ownDir && h.failures.length === 0 && !crashed) rmSync(dir, { recursive: true, force: true });
    else log(`devnet dir kept for inspection: ${dir}`);
    if (snap) rmSync(snap, { recursive: true, force: true });
  }
  return {
    kills,
    kills_recovered: killsRecovered,
    kills_by_role: killsByRole,
    pauses,
    pauses_recovered: pausesRecovered,
    partition_mode: 'sigstop',
    supply_violations: h.supplyViolations,
    lost_txs: h.lost.size,
    reordered_txs: h.reordered.size,
    txs_submitted: h.submitted,
    txs_final: h.finals.size,
    txs_rejected: h.rejected,
    channel_ops_final: h.channelFinal,
    cross_shard_final: h.crossFinal,
    tx_checks: h.txChecks,
    state_roots_agree: stateRootsAgree,
    common_final_heights: common,
    recover_ms_max: recoverMs.length ? Math.max(...recoverMs) : 0,
    recover_ms_mean: recoverMs.length ? Math.round(recoverMs.reduce((a, b) => a + b, 0) / recoverMs.length) : 0,
    duration_s: Math.round((Date.now() - t0) / 1000),
    failures: h.failures,
  };
}

async function main(): Promise<void> {
  const cmd = new Command()
    .option('--kills <n>', 'SIGKILLs', '20')
    .option('--pauses <n>', 'SIGSTOP pauses of a shard validator', '1')
    .option('--outage-ms <ms>', 'downtime before restart', '3000')
    .option('--seed <n>', 'PRNG seed', '1')
    .option('--quiet', 'no progress on stderr')
    .parse();
  const o = cmd.opts<{ kills: string; pauses: string; outageMs: string; seed: string; quiet?: boolean }>();
  const report = await runChainFaults({
    kills: Number(o.kills),
    pauses: Number(o.pauses),
    outageMs: Number(o.outageMs),
    seed: Number(o.seed),
    ...(o.quiet ? {} : { log: (m: string) => process.stderr.write(`[faults-chain] ${m}\n`) }),
  });
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`faults-chain: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
