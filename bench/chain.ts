/**
 * Chain benchmark: starts a devnet (2 shards × 4 validators + 4 auditors/beacon = 12 node
 * processes) and drives it with signed transfers through JSON-RPC batches (each account always
 * talks to the same validator of its shard), following finality over WebSocket. Three phases:
 *  1. intra saturation, BENCH_WARMUP_SECONDS (default 5) unmeasured, then BENCH_SECONDS (default
 *     25) measured: transfers within the sender's shard only; every account keeps up to
 *     BENCH_WINDOW txs in flight (total cap BENCH_IN_FLIGHT) → tps_intra;
 *  2. cross saturation, BENCH_CROSS_WARMUP_SECONDS (default 10) unmeasured, then
 *     BENCH_CROSS_SECONDS (default 15): transfers to the other shard only, same windows →
 *     tps_cross (a receipt-applying destination block must be final inside the window);
 *  3. paced, BENCH_PACED_SECONDS (default 15), half within and half across shards, at
 *     BENCH_PACED_TPS tx/s (default BENCH_PACED_FRACTION = 0.5 of the mean of the two saturation
 *     rates) → finality latency. At saturation latency is queueing (in flight / throughput), so it
 *     is reported separately (sat_*, from phase 1; sat_cross_* from phase 2).
 * Prints one JSON object as its last line:
 *   {shards, nodes, tps_intra, tps_cross, finality_p50_ms, finality_p99_ms, cross_finality_p50_ms,
 *    paced_tps, sat_finality_p50_ms, sat_finality_p99_ms, sat_cross_finality_p50_ms,
 *    verify_per_s, verifications_per_tx, ...}
 * tps_* count txs of phase 1 made final inside its window; a cross tx counts when the receipt
 * is applied in a final block of the destination shard. finality = submit → block final (QC +
 * audit certificate); cross_finality = submit → destination block final; finality_* and
 * cross_finality_* are phase 2, sat_* phase 1. audit_p50_ms = a shard block's commit → final on
 * the watching node in phase 2 (the audit stage of finality); cross_hop_p50_ms = a cross tx's source
 * block final → the destination block applying its receipt final, phase 2. verify_per_s = node:crypto Ed25519 verifies
 * per second on all cores at once (one worker thread per core), measured in this run twice, before
 * the devnet starts and after it stops, the higher of the two taken (the machine's speed drifts
 * between runs by up to a fifth; the higher rate never flatters verify_share); both are printed in
 * verify_per_s_samples. verifications_per_tx = tx_verifications_per_tx + consensus_verifications_per_tx: every
 * Ed25519 verification the nodes do per tx. tx_verifications_per_tx = Σ node tx-signature
 * verifications / txs committed (whole run); consensus_verifications_per_tx = Σ node verifications
 * of votes, QCs, timeouts and audit shares during phase 1 / txs committed during phase 1 (at
 * saturation, where blocks are full: idle blocks would otherwise dominate the per-tx share).
 * verify_share = tps_intra × verifications_per_tx / verify_per_s (goal ≥ 0.5) and
 * cross_to_intra_p50 = cross_finality_p50_ms / finality_p50_ms (goal ≤ 2), with the goals in `goals`.
 * block_interval_ms = the devnet's minimum block interval in this run (BENCH_MIN_BLOCK_MS).
 * BENCH_LATENCY_FILE=F also writes each paced intra tx's {submitAt, chain, height, ms} to F.
 * view_changes / paced_view_changes = view changes summed over the nodes (each validator of a
 * group counts a timed-out view once), whole run / phase 3: what latency tails come from;
 * sat_view_changes the same inside phase 1's measured window (what costs tps_intra a view timeout),
 * by chain in sat_view_changes_by_chain.
 * Phase 1 also gives node_cpu_ms_per_tx (node processes' CPU from /proc per final tx, with its
 * split by role), client_cpu_util (this load generator's own CPU in cores: JSON-RPC, following
 * blocks, signing what was not signed ahead (PRESIGN_TPS); taken from the nodes on one machine)
 * and wire_bytes_per_tx (node-to-node
 * bytes, framed before encryption, sent by all nodes per committed tx; by message kind in
 * wire_bytes_per_tx_by_kind, from each node's metrics_get `sent`; messages sent per second by all
 * nodes, by kind, in wire_messages_per_s_by_kind).
 * node_cpu_util_by_thread splits phase 1's node CPU (cores) into the processes' main threads (JS,
 * with the syscalls it makes) and their other threads (V8's concurrent compiler and GC helpers,
 * libuv's pool, LevelDB's compaction).
 * idle_node_cpu_util: the node processes' CPU in cores over BENCH_IDLE_SECONDS (5) before any
 * load, when the devnet only makes empty blocks and keeps its connections up.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { Devnet } from '../chain/devnet/devnet.js';
import { cpuSeconds as procCpuSeconds, mainThreadCpuSeconds } from './load/proc-stat.js';
import { postJsonRpc, rpcCall } from '../chain/node/rpc-client.js';
import { DEFAULT_TIMING } from '../chain/node/runtime-types.js';
import type { KeyPair } from '../chain/node/keys.js';
import { homeChain, signTx, txHash, UNIT, type SignedTx } from '../chain/state/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 25);
const CROSS_SECONDS = Number(process.env.BENCH_CROSS_SECONDS ?? 15);
const WINDOW_PER_ACCOUNT = Number(process.env.BENCH_WINDOW ?? 16);
const MAX_IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 3000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 200);
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 15);
/** Before the load: node CPU with no txs over this window → idle_node_cpu_util (cores; the devnet's upkeep). */
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 5);
/**
 * Each saturation phase first runs this long unmeasured, so the pipeline (mempools, blocks in
 * consensus, receipts on their way) is full when the measured window starts: counting from an
 * empty pipeline would miss the txs in flight at the end (throughput × saturated latency).
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/** Cross-shard latency at saturation is about twice the intra one, so its pipeline takes longer to fill. */
const CROSS_WARMUP_SECONDS = Number(process.env.BENCH_CROSS_WARMUP_SECONDS ?? 10);
/** Paced phase rate in tx/s; 0 = PACED_FRACTION of the throughput measured at saturation. */
const PACED_TPS = Number(process.env.BENCH_PACED_TPS ?? 0);
const PACED_FRACTION = Number(process.env.BENCH_PACED_FRACTION ?? 0.5);
/** If set, every paced intra tx's submit time, chain, block height and latency go to this file (JSON lines), to see where a latency tail comes from. */
const LATENCY_FILE = process.env.BENCH_LATENCY_FILE;
/**
 * Before each saturation phase the load generator signs (warm-up + window) × this many tx/s
 * ahead, so that signing (≈ 40 % of its CPU) does not take the 2 cores from the nodes under test
 * while they are measured; clients sign on their own machines. 0 = sign every tx on demand.
 * client_signed_in_window counts saturation txs signed on demand in a measured window anyway.
 */
const PRESIGN_TPS = Number(process.env.BENCH_PRESIGN_TPS ?? 2000);
/**
 * The devnet's minimum interval between a leader's proposals (ms); by default the node's own
 * (DEFAULT_TIMING.blockIntervalMs, also the devnet's). Longer intervals trade latency for
 * throughput (fixed per-block work spread over more txs): chain/README.md, "Performance".
 */
const MIN_BLOCK_MS = Number(process.env.BENCH_MIN_BLOCK_MS ?? DEFAULT_TIMING.blockIntervalMs);
/**
 * An idle chain's leader pauses up to this long for work before another empty block (the
 * devnet's idleBlockMs; replicas allow for it, and work ends it). At saturation only the beacon
 * is idle: 1,000 ms against 200 cut its empty blocks and its view changes (chain/README.md).
 */
const IDLE_BLOCK_MS = Number(process.env.BENCH_IDLE_BLOCK_MS ?? 1000);

/** Per key of `end`, sorted: f(end[k] − start[k]), a key missing from `start` counting from 0 (counters sampled at a window's two ends). */
function perKeyDelta(end: Readonly<Record<string, number>>, start: Readonly<Record<string, number>>, f: (delta: number) => number = (d) => d): Record<string, number> {
  return Object.fromEntries(
    Object.keys(end)
      .sort()
      .map((k) => [k, f(end[k]! - (start[k] ?? 0))]),
  );
}

function say(m: string): void {
  process.stderr.write(`[bench:chain] ${m}\n`);
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!);
}

interface Pending {
  submitAt: number;
  cross: boolean;
  from: string;
  to: string;
  amount: bigint;
  dest: string;
  phase: Phase;
  /** When the source block holding a cross tx became final (watch node). */
  sourceFinalAt?: number;
}

/** intra, cross = the saturation phases (throughput); paced = the fixed-rate mixed phase (finality latency). */
type Phase = 'intra' | 'cross' | 'paced';

/** CPU seconds (user + system) a process, or with `mainOnly` its main thread, has used so far, from /proc (0 if unreadable). */
function cpuSeconds(pid: number | null, mainOnly = false): number {
  if (pid === null) return 0;
  try {
    return mainOnly ? mainThreadCpuSeconds(pid) : procCpuSeconds(pid);
  } catch {
    return 0;
  }
}

async function measureVerify(ms: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { generateKeyPairSync, sign, verify } = require('node:crypto');
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const msg = Buffer.alloc(200, 7);
    const sig = sign(null, msg, privateKey);
    const end = Date.now() + workerData.ms;
    let n = 0;
    while (Date.now() < end) { for (let i = 0; i < 100; i++) verify(null, msg, publicKey, sig); n += 100; }
    parentPort.postMessage(n / (workerData.ms / 1000));
  `;
  const rates = await Promise.all(
    Array.from(
      { length: availableParallelism() },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(code, { eval: true, workerData: { ms } });
          w.once('message', (r: number) => resolve(r));
          w.once('error', reject);
        }),
    ),
  );
  return Math.round(rates.reduce((a, b) => a + b, 0));
}

async function main(): Promise<void> {
  const verifyBefore = await measureVerify(1500);
  const dir = mkdtempSync(join(tmpdir(), 'tvc-bench-'));
  const d = await Devnet.create({ dir, shards: 2, group: 4, auditors: 4, accounts: ACCOUNTS, logLevel: 'warn', timing: { baseTimeoutMs: 2000, minBlockIntervalMs: MIN_BLOCK_MS, idleBlockMs: IDLE_BLOCK_MS, maxTxsPerBlock: 3000 } });
  let ws: WebSocket | undefined;
  try {
    say(`starting ${d.nodes.length} nodes in ${dir}`);
    await d.start();
    const urls = d.rpcUrls();
    const S = d.shards;
    const watchUrl = urls[urls.length - 1]!; // an auditor: follows and audits every shard
    for (;;) {
      const st = await rpcCall<{ chains: Array<{ finalHeight: number }> }>(watchUrl, 'chain_status');
      if (st.chains.every((c) => c.finalHeight >= 2)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const validatorsOf = (chain: string): string[] => d.nodes.filter((n) => n.role === `validator ${chain}`).map((n) => n.rpc);

    const pending = new Map<string, Pending>();
    const receiptWait = new Map<string, Pending>(); // `${src}>${dst}#${id}` → tx
    const lat: Record<Phase, { final: number[]; cross: number[] }> = { intra: { final: [], cross: [] }, cross: { final: [], cross: [] }, paced: { final: [], cross: [] } };
    /** Final shard blocks seen, and the txs they carried (block size at saturation). */
    let finalBlocks = 0;
    /** Commit time of each shard block on the watch node; commit → final there is the audit stage. */
    const committedAt = new Map<string, number>();
    const auditLag: number[] = [];
    /** Paced cross txs: source block final → destination block (applying the receipt) final. */
    const crossHop: number[] = [];
    const latencyLog: Array<{ submitAt: number; chain: string; height: number; ms: number }> = [];
    let pacing = false;
    let txsInFinalBlocks = 0;
    let pacedTps = 0;
    /** The running saturation phase's measured window: its txs count when final inside it. */
    let measureFrom = Infinity;
    let loadEnd = Infinity;
    /** Per saturation phase: intra txs final (phase intra), cross txs whose receipt is final (phase cross). */
    const finalInWindow: Record<Phase, number> = { intra: 0, cross: 0, paced: 0 };
    let submitted = 0;
    let rejected = 0;
    /** One seed buffer per account: signTx caches the imported key per seed object. */
    const seeds = new Map(d.accounts.map((a) => [a.address, Buffer.from(a.seedHex, 'hex')]));
    const outstanding = new Map<string, number>();
    const nonces = new Map<string, number>();
    for (const a of d.accounts) {
      outstanding.set(a.address, 0);
      nonces.set(a.address, 0);
    }

    // Follow finality on one node.
    ws = new WebSocket(watchUrl.replace('http', 'ws'));
    await new Promise<void>((res, rej) => {
      ws!.once('open', () => res());
      ws!.once('error', rej);
    });
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: ['finalBlocks'] }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'subscribe', params: ['newBlocks'] }));
    let blockQueue = Promise.resolve();
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { method?: string; params?: { topic: string; result: { chain: string; height: number } } };
      if (m.method !== 'subscription' || !m.params) return;
      const { chain, height } = m.params.result;
      if (chain === 'beacon') return;
      const at = Date.now();
      if (m.params.topic === 'newBlocks') {
        committedAt.set(`${chain}#${height}`, at);
        return;
      }
      const c = committedAt.get(`${chain}#${height}`);
      if (c !== undefined) {
        committedAt.delete(`${chain}#${height}`);
        if (pacing) auditLag.push(at - c);
      }
      finalBlocks++;
      blockQueue = blockQueue.then(async () => {
        const blk = await rpcCall<{ body: { txs: SignedTx[]; receipts: Array<{ source: string; destination: string; id: number }> }; outgoing: Array<{ source: string; destination: string; id: number; amount: string; payload: { to?: string } }> }>(watchUrl, 'chain_getBlock', [chain, height]);
        const inBlockCross: Pending[] = [];
        txsInFinalBlocks += blk.body.txs.length;
        for (const stx of blk.body.txs) {
          const h = txHash(stx.tx);
          const p = pending.get(h);
          if (!p) continue;
          pending.delete(h);
          lat[p.phase].final.push(at - p.submitAt);
          if (LATENCY_FILE && p.phase === 'paced' && !p.cross) latencyLog.push({ submitAt: p.submitAt, chain, height, ms: at - p.submitAt });
          outstanding.set(p.from, (outstanding.get(p.from) ?? 1) - 1);
          if (p.cross) {
            p.sourceFinalAt = at;
            inBlockCross.push(p);
          }
          else if (p.phase === 'intra' && at >= measureFrom && at <= loadEnd) finalInWindow.intra++;
        }
        for (const r of blk.outgoing) {
          const i = inBlockCross.findIndex((p) => p.dest === r.destination && p.to === r.payload.to && p.amount === BigInt(r.amount));
          if (i >= 0) {
            receiptWait.set(`${r.source}>${r.destination}#${r.id}`, inBlockCross[i]!);
            inBlockCross.splice(i, 1);
          }
        }
        for (const r of blk.body.receipts) {
          const k = `${r.source}>${r.destination}#${r.id}`;
          const p = receiptWait.get(k);
          if (!p) continue;
          receiptWait.delete(k);
          lat[p.phase].cross.push(at - p.submitAt);
          if (p.phase === 'paced' && p.sourceFinalAt !== undefined) crossHop.push(at - p.sourceFinalAt);
          if (p.phase === 'cross' && at >= measureFrom && at <= loadEnd) finalInWindow.cross++;
        }
      }).catch((e: unknown) => say(`block fetch failed: ${(e as Error).message}`));
    });

    const byShard = new Map<string, KeyPair[]>();
    for (const a of d.accounts) {
      const c = homeChain(a.address, S);
      byShard.set(c, [...(byShard.get(c) ?? []), a]);
    }
    const shardNames = [...byShard.keys()].sort();
    // Each account always submits to the same validator of its shard (as a wallet talks to one
    // node): consecutive nonces then never race the gossip between validators.
    const entryOf = new Map<string, string>();
    for (const [chain, list] of byShard) list.forEach((a, i) => entryOf.set(a.address, validatorsOf(chain)[i % validatorsOf(chain).length]!));
    const senders = shardNames.flatMap((c) => byShard.get(c)!);
    let seq = 0;
    let cursor = 0;
    /** Saturation txs signed on demand inside a measured window because the pre-signed ones ran out. */
    let signedDuringLoad = 0;

    interface Transfer {
      stx: SignedTx;
      hash: string;
      to: string;
      amount: bigint;
      dest: string;
      cross: boolean;
      presigned: boolean;
    }
    /** A signed transfer from `a` with `nonce` to a random other account of its own or (cross) the other shard. */
    const signTransfer = (a: KeyPair, nonce: number, cross: boolean, presigned = false): Transfer => {
      const chain = homeChain(a.address, S);
      const dest = cross ? shardNames.find((c) => c !== chain)! : chain;
      const pool = byShard.get(dest)!;
      const i = Math.floor(Math.random() * pool.length);
      const to = pool[i]!.address !== a.address ? pool[i]!.address : pool[(i + 1) % pool.length]!.address;
      if (to === a.address) throw new Error(`${dest} has no account but ${a.address.slice(0, 12)} to send to (BENCH_ACCOUNTS too small)`);
      const amount = 1000n + BigInt(Math.floor(Math.random() * 1_000_000));
      const stx = signTx({ chainId: d.chainId, chain: chain as SignedTx['tx']['chain'], from: a.address, nonce, fee: UNIT / 100n, op: { type: 'transfer', to, amount } }, seeds.get(a.address)!);
      return { stx, hash: txHash(stx.tx), to, amount, dest, cross, presigned };
    };
    /** Per account: transfers signed before a saturation phase, consecutive nonces from its next one (see PRESIGN_TPS). */
    const presigned = new Map<string, { txs: Transfer[]; next: number }>();
    const presign = (cross: boolean, seconds: number): void => {
      presigned.clear();
      const perAccount = Math.ceil((PRESIGN_TPS * seconds) / senders.length);
      for (const a of senders) {
        const first = nonces.get(a.address)!;
        presigned.set(a.address, { txs: Array.from({ length: perAccount }, (_, i) => signTransfer(a, first + i, cross, true)), next: 0 });
      }
    };
    /** The pre-signed transfer for this nonce and direction, if there is one (unused ones are dropped with the next presign). */
    const takePresigned = (address: string, nonce: number, cross: boolean): Transfer | undefined => {
      const q = presigned.get(address);
      const t = q?.txs[q.next];
      if (!q || !t || t.stx.tx.nonce !== nonce || t.cross !== cross) return undefined;
      q.next++;
      return t;
    };

    /** Signs and submits up to `budget` txs (one per account with room in its window): intra or cross only in those phases, alternating when paced. */
    const submitRound = async (phase: Phase, budget: number): Promise<number> => {
      const batches = new Map<string, Array<{ stx: SignedTx; p: Pending; hash: string }>>();
      let n = 0;
      for (let k = 0; k < senders.length && n < budget; k++) {
        const a = senders[(cursor + k) % senders.length]!;
        if (pending.size >= MAX_IN_FLIGHT) break;
        if ((outstanding.get(a.address) ?? 0) >= WINDOW_PER_ACCOUNT) continue;
        const cross = phase === 'paced' ? seq++ % 2 === 1 : phase === 'cross';
        const nonce = nonces.get(a.address)!;
        const t = takePresigned(a.address, nonce, cross) ?? signTransfer(a, nonce, cross);
        if (phase !== 'paced' && !t.presigned && Date.now() >= measureFrom && Date.now() <= loadEnd) signedDuringLoad++;
        const { stx, to, amount, dest: destChain } = t;
        nonces.set(a.address, nonce + 1);
        outstanding.set(a.address, (outstanding.get(a.address) ?? 0) + 1);
        const url = entryOf.get(a.address)!;
        const list = batches.get(url) ?? [];
        list.push({ stx, hash: t.hash, p: { submitAt: 0, cross, from: a.address, to, amount, dest: destChain, phase } });
        batches.set(url, list);
        n++;
      }
      cursor = (cursor + n) % senders.length;
      const sends: Promise<void>[] = [];
      for (const [url, list] of batches) {
        for (let i = 0; i < list.length; i += 250) {
          const part = list.slice(i, i + 250);
          const now = Date.now();
          for (const x of part) {
            x.p.submitAt = now;
            pending.set(x.hash, x.p);
          }
          submitted += part.length;
          sends.push(
            postJsonRpc(url, part.map((x, j) => ({ jsonrpc: '2.0', id: j, method: 'tx_submit', params: [x.stx] })), 60_000).then((answer) => {
              for (const r of answer as Array<{ id: number; error?: { message: string } }>) {
                if (!r.error) continue;
                rejected++;
                if (rejected <= 5) say(`rejected: ${r.error.message}`);
                const x = part[r.id];
                if (x) pending.delete(x.hash);
              }
            }),
          );
        }
      }
      await Promise.all(sends);
      return n;
    };
    const drain = async (): Promise<void> => {
      const drainEnd = Date.now() + 20_000;
      while ((pending.size > 0 || receiptWait.size > 0) && Date.now() < drainEnd) await new Promise((r) => setTimeout(r, 200));
      await blockQueue;
    };

    const nodeCpu = (): number => d.nodes.reduce((a, n) => a + cpuSeconds(n.pid), 0);
    const nodeMainThreadCpu = (): number => d.nodes.reduce((a, n) => a + cpuSeconds(n.pid, true), 0);
    /** CPU seconds per node role: shard validators, and the auditor+beacon nodes. */
    const roleCpu = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const n of d.nodes) {
        const role = n.role.startsWith('validator') ? 'validator' : 'auditor';
        out[role] = (out[role] ?? 0) + cpuSeconds(n.pid);
      }
      return out;
    };
    /** Tx- and consensus-signature verifications, view changes and p2p bytes sent per kind summed over the nodes, and txs committed on the watch node. */
    const counters = async (): Promise<{ tx: number; consensus: number; viewChanges: number; viewChangesByChain: Record<string, number>; committed: number; sentBytes: Record<string, number>; sentMessages: Record<string, number> }> => {
      let tx = 0;
      let consensus = 0;
      let viewChanges = 0;
      const viewChangesByChain: Record<string, number> = {};
      let committed = 0;
      const sentBytes: Record<string, number> = {};
      const sentMessages: Record<string, number> = {};
      for (const u of urls) {
        const m = await rpcCall<{ txVerifications: number; consensusVerifications: number; viewChanges: number; viewChangesByChain: Record<string, number>; txsCommitted: Record<string, number>; sent: Record<string, { bytes: number; messages: number }> }>(u, 'metrics_get');
        tx += m.txVerifications;
        consensus += m.consensusVerifications;
        viewChanges += m.viewChanges;
        for (const [c, n] of Object.entries(m.viewChangesByChain)) viewChangesByChain[c] = (viewChangesByChain[c] ?? 0) + n;
        for (const [k, c] of Object.entries(m.sent)) {
          sentBytes[k] = (sentBytes[k] ?? 0) + c.bytes;
          sentMessages[k] = (sentMessages[k] ?? 0) + c.messages;
        }
        if (u === watchUrl) committed = Object.values(m.txsCommitted).reduce((a, b) => a + b, 0);
      }
      return { tx, consensus, viewChanges, viewChangesByChain, committed, sentBytes, sentMessages };
    };
    /** Runs one saturation phase: as many txs as the windows allow, `warmup` s unmeasured then `seconds` measured. */
    const saturate = async (phase: 'intra' | 'cross', warmup: number, seconds: number) => {
      say(`${phase} saturation: ${d.accounts.length} accounts, ${warmup} s warm-up + ${seconds} s, window ${WINDOW_PER_ACCOUNT}/account, in-flight cap ${MAX_IN_FLIGHT}`);
      if (PRESIGN_TPS > 0) presign(phase === 'cross', warmup + seconds);
      const load = async (until: number): Promise<void> => {
        while (Date.now() < until) {
          const n = await submitRound(phase, Infinity);
          await new Promise((r) => setTimeout(r, n === 0 ? 50 : 10));
        }
      };
      await load(Date.now() + warmup * 1000);
      const countersAtStart = await counters();
      // CPU and time are sampled together (the RPC round above must not fall inside one only).
      const cpuAtStart = nodeCpu();
      const mainCpuAtStart = nodeMainThreadCpu();
      const roleCpuAtStart = roleCpu();
      const clientCpuAtStart = process.cpuUsage();
      const blocksAtStart = finalBlocks;
      const txsAtStart = txsInFinalBlocks;
      const start = Date.now();
      measureFrom = start;
      loadEnd = start + seconds * 1000;
      await load(loadEnd);
      presigned.clear();
      const windowS = (Date.now() - start) / 1000;
      const cpu = nodeCpu() - cpuAtStart;
      const mainCpu = nodeMainThreadCpu() - mainCpuAtStart;
      const roleCpuAtEnd = roleCpu();
      const clientCpu = process.cpuUsage(clientCpuAtStart);
      const countersAtEnd = await counters();
      const committedInWindow = countersAtEnd.committed - countersAtStart.committed;
      const blocks = finalBlocks - blocksAtStart;
      const final = finalInWindow[phase];
      say(`${phase} saturation done: submitted ${submitted}, rejected ${rejected}; draining`);
      await drain();
      measureFrom = Infinity;
      loadEnd = Infinity;
      return {
        windowS,
        tps: Math.round((final / windowS) * 10) / 10,
        // Node processes' CPU time in the window per tx made final in it: the figure least disturbed by other load on a shared machine.
        cpuMsPerTx: final > 0 ? Math.round(((cpu * 1000) / final) * 100) / 100 : 0,
        // The same split by role: summed over the 8 shard validators, and over the 4 auditor+beacon nodes.
        cpuMsPerTxByRole: perKeyDelta(roleCpuAtEnd, roleCpuAtStart, (s) => (final > 0 ? Math.round(((s * 1000) / final) * 100) / 100 : 0)),
        util: Math.round((cpu / windowS) * 100) / 100,
        // The same, main threads (JS) and every other thread (V8 compiler and GC helpers, libuv pool, LevelDB compaction).
        utilByThread: { main: Math.round((mainCpu / windowS) * 100) / 100, other: Math.round(((cpu - mainCpu) / windowS) * 100) / 100 },
        // This load generator's own CPU (signing, JSON-RPC, following blocks), in cores: taken from the nodes on one machine.
        clientUtil: Math.round(((clientCpu.user + clientCpu.system) / 1e6 / windowS) * 100) / 100,
        blocksPerS: Math.round((blocks / windowS) * 10) / 10,
        txsPerBlock: blocks > 0 ? Math.round((txsInFinalBlocks - txsAtStart) / blocks) : 0,
        // Node-to-node bytes (framed, before encryption) sent by all nodes in the window per tx committed meanwhile, by message kind.
        wireBytesPerTxByKind: perKeyDelta(countersAtEnd.sentBytes, countersAtStart.sentBytes, (b) => (committedInWindow > 0 ? Math.round(b / committedInWindow) : 0)),
        // Node-to-node messages sent by all nodes per second of the window, by message kind.
        wireMessagesPerSByKind: perKeyDelta(countersAtEnd.sentMessages, countersAtStart.sentMessages, (n) => Math.round(n / windowS)),
        // View changes summed over the nodes inside the measured window (each costs a chain a view timeout).
        viewChanges: countersAtEnd.viewChanges - countersAtStart.viewChanges,
        viewChangesByChain: perKeyDelta(countersAtEnd.viewChangesByChain, countersAtStart.viewChangesByChain),
        // Votes, QCs, timeouts and audit shares verified while this phase ran, per tx committed meanwhile.
        consensusVerifyPerTx: committedInWindow > 0 ? (countersAtEnd.consensus - countersAtStart.consensus) / committedInWindow : 0,
      };
    };
    // Idle: the nodes' CPU with no load (empty blocks, connection upkeep), before any tx.
    const idleCpuAtStart = nodeCpu();
    const idleStart = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleUtil = (nodeCpu() - idleCpuAtStart) / ((Date.now() - idleStart) / 1000);
    const intra = await saturate('intra', WARMUP_SECONDS, SECONDS);
    const crossSat = await saturate('cross', CROSS_WARMUP_SECONDS, CROSS_SECONDS);

    // Paced, mixed: a steady rate below saturation, for finality latency.
    pacedTps = PACED_TPS > 0 ? PACED_TPS : Math.max(10, Math.round(((intra.tps + crossSat.tps) / 2) * PACED_FRACTION));
    say(`paced: ${pacedTps} tx/s for ${PACED_SECONDS} s`);
    const viewChangesBeforePaced = (await counters()).viewChanges;
    const pacedEnd = Date.now() + PACED_SECONDS * 1000;
    pacing = true;
    const tick = 100;
    let owed = 0;
    for (let next = Date.now(); Date.now() < pacedEnd; ) {
      owed += (pacedTps * tick) / 1000;
      const want = Math.floor(owed);
      owed -= await submitRound('paced', want);
      next += tick;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    say(`paced done: submitted ${submitted}, rejected ${rejected}; draining`);
    await drain();
    pacing = false;
    const { tx: verifications, viewChanges, committed } = await counters();
    const txVerifyPerTx = committed > 0 ? verifications / committed : 0;
    if (LATENCY_FILE) writeFileSync(LATENCY_FILE, latencyLog.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const supply = await rpcCall<{ ok: boolean; message: string }>(watchUrl, 'supply_get');
    say(`supply after load: ${supply.message}; unfinished txs ${pending.size}, receipts awaiting ${receiptWait.size}`);
    ws.close();
    ws = undefined;
    await d.stop();
    const verifyAfter = await measureVerify(1500);
    const verifyPerS = Math.max(verifyBefore, verifyAfter);
    const verificationsPerTx = Math.round((txVerifyPerTx + intra.consensusVerifyPerTx) * 100) / 100;
    const finalP50 = pct(lat.paced.final, 50);
    const crossP50 = pct(lat.paced.cross, 50);
    const result = {
      shards: S,
      nodes: d.nodes.length,
      block_interval_ms: MIN_BLOCK_MS,
      seconds: Math.round(intra.windowS * 10) / 10,
      cross_seconds: Math.round(crossSat.windowS * 10) / 10,
      warmup_seconds: WARMUP_SECONDS,
      cross_warmup_seconds: CROSS_WARMUP_SECONDS,
      submitted,
      committed,
      tps_intra: intra.tps,
      tps_cross: crossSat.tps,
      finality_p50_ms: finalP50,
      finality_p99_ms: pct(lat.paced.final, 99),
      cross_finality_p50_ms: crossP50,
      cross_hop_p50_ms: pct(crossHop, 50),
      audit_p50_ms: pct(auditLag, 50),
      paced_tps: pacedTps,
      sat_finality_p50_ms: pct(lat.intra.final, 50),
      sat_finality_p99_ms: pct(lat.intra.final, 99),
      sat_cross_finality_p50_ms: pct(lat.cross.cross, 50),
      verify_per_s: verifyPerS,
      verify_per_s_samples: [verifyBefore, verifyAfter],
      node_cpu_ms_per_tx: intra.cpuMsPerTx,
      node_cpu_util: intra.util,
      node_cpu_util_by_thread: intra.utilByThread,
      idle_node_cpu_util: Math.round(idleUtil * 1000) / 1000,
      client_signed_in_window: signedDuringLoad,
      client_cpu_util: intra.clientUtil,
      wire_bytes_per_tx: Object.values(intra.wireBytesPerTxByKind).reduce((a, b) => a + b, 0),
      wire_bytes_per_tx_by_kind: intra.wireBytesPerTxByKind,
      wire_messages_per_s_by_kind: intra.wireMessagesPerSByKind,
      node_cpu_ms_per_tx_by_role: intra.cpuMsPerTxByRole,
      sat_shard_blocks_per_s: intra.blocksPerS,
      sat_txs_per_block: intra.txsPerBlock,
      cross_node_cpu_ms_per_tx: crossSat.cpuMsPerTx,
      verifications_per_tx: verificationsPerTx,
      tx_verifications_per_tx: Math.round(txVerifyPerTx * 100) / 100,
      consensus_verifications_per_tx: Math.round(intra.consensusVerifyPerTx * 100) / 100,
      // View changes counted by every node (a timed-out view delays the txs waiting on it: latency tails).
      view_changes: viewChanges,
      paced_view_changes: viewChanges - viewChangesBeforePaced,
      sat_view_changes: intra.viewChanges,
      sat_view_changes_by_chain: intra.viewChangesByChain,
      supply_ok: supply.ok,
      // The two ratio goals, computed here so a run reads as met or not at a glance.
      verify_share: verifyPerS > 0 ? Math.round(((intra.tps * verificationsPerTx) / verifyPerS) * 1000) / 1000 : null,
      cross_to_intra_p50: finalP50 > 0 ? Math.round((crossP50 / finalP50) * 100) / 100 : null,
      goals: {
        verify_share_min: 0.5,
        finality_p50_ms_max: 1000,
        finality_p99_ms_max: 3000,
        cross_to_intra_p50_max: 2,
      },
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    ws?.close();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench:chain] failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
