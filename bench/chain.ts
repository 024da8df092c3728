/**
 * Chain benchmark: starts a devnet (2 shards × 4 validators + 4 auditors/beacon = 12 node
 * processes), drives it with signed transfers (half within a shard, half across) for
 * BENCH_SECONDS (default 25) through JSON-RPC batches, follows finality over WebSocket, and
 * prints one JSON object as its last line:
 *   {shards, nodes, tps_intra, tps_cross, finality_p50_ms, finality_p99_ms, cross_finality_p50_ms,
 *    verify_per_s, verifications_per_tx, ...}
 * tps_* count txs made final inside the load window; a cross tx counts when the receipt is
 * applied in a final block of the destination shard. finality = submit → block final (QC +
 * audit certificate); cross_finality = submit → destination block final. verify_per_s = node:crypto
 * Ed25519 verifies per second on both cores at once (two worker threads), measured in this run
 * after the devnet stops. verifications_per_tx = Σ node tx-signature verifications / txs committed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { Devnet } from '../chain/devnet/devnet.js';
import { rpcCall } from '../chain/node/rpc-client.js';
import type { KeyPair } from '../chain/node/keys.js';
import { homeChain, signTx, txHash, UNIT, type SignedTx } from '../chain/state/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 25);
const WINDOW_PER_ACCOUNT = Number(process.env.BENCH_WINDOW ?? 16);
const MAX_IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 3000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 200);

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
    [0, 1].map(
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
  const dir = mkdtempSync(join(tmpdir(), 'tvc-bench-'));
  const d = await Devnet.create({ dir, shards: 2, group: 4, auditors: 4, accounts: ACCOUNTS, logLevel: 'warn', timing: { baseTimeoutMs: 2000, minBlockIntervalMs: 100, idleBlockMs: 200, maxTxsPerBlock: 3000 } });
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
    /** destination chain → to|amount → pending cross entries awaiting their receipt id */
    const crossBySource = new Map<string, Pending[]>();
    const receiptWait = new Map<string, Pending>(); // `${src}>${dst}#${id}` → tx
    const finalLat: number[] = [];
    const crossLat: number[] = [];
    let loadStart = 0;
    let loadEnd = Infinity;
    let intraFinalInWindow = 0;
    let crossFinalInWindow = 0;
    let submitted = 0;
    let rejected = 0;
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
    let blockQueue = Promise.resolve();
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { method?: string; params?: { result: { chain: string; height: number } } };
      if (m.method !== 'subscription' || !m.params) return;
      const { chain, height } = m.params.result;
      if (chain === 'beacon') return;
      const at = Date.now();
      blockQueue = blockQueue.then(async () => {
        const blk = await rpcCall<{ body: { txs: SignedTx[]; receipts: Array<{ source: string; destination: string; id: number }> }; outgoing: Array<{ source: string; destination: string; id: number; amount: string; payload: { to?: string } }> }>(watchUrl, 'chain_getBlock', [chain, height]);
        const inBlockCross: Pending[] = [];
        for (const stx of blk.body.txs) {
          const h = txHash(stx.tx);
          const p = pending.get(h);
          if (!p) continue;
          pending.delete(h);
          finalLat.push(at - p.submitAt);
          outstanding.set(p.from, (outstanding.get(p.from) ?? 1) - 1);
          if (p.cross) inBlockCross.push(p);
          else if (at <= loadEnd) intraFinalInWindow++;
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
          crossLat.push(at - p.submitAt);
          if (at <= loadEnd) crossFinalInWindow++;
        }
      }).catch((e: unknown) => say(`block fetch failed: ${(e as Error).message}`));
    });
    void crossBySource;

    const byShard = new Map<string, KeyPair[]>();
    for (const a of d.accounts) {
      const c = homeChain(a.address, S);
      byShard.set(c, [...(byShard.get(c) ?? []), a]);
    }
    const shardNames = [...byShard.keys()].sort();
    const rr = new Map<string, number>();
    let seq = 0;
    say(`load: ${d.accounts.length} accounts, ${SECONDS} s, window ${WINDOW_PER_ACCOUNT}/account, in-flight cap ${MAX_IN_FLIGHT}`);
    loadStart = Date.now();
    loadEnd = loadStart + SECONDS * 1000;
    while (Date.now() < loadEnd) {
      const batches = new Map<string, Array<{ stx: SignedTx; p: Pending; hash: string }>>();
      for (const chain of shardNames) {
        for (const a of byShard.get(chain)!) {
          if (pending.size >= MAX_IN_FLIGHT) break;
          if ((outstanding.get(a.address) ?? 0) >= WINDOW_PER_ACCOUNT) continue;
          const cross = seq++ % 2 === 1;
          const destChain = cross ? shardNames.find((c) => c !== chain)! : chain;
          const pool = byShard.get(destChain)!.filter((k) => k.address !== a.address);
          const to = pool[Math.floor(Math.random() * pool.length)]!.address;
          const amount = 1000n + BigInt(Math.floor(Math.random() * 1_000_000));
          const nonce = nonces.get(a.address)!;
          const stx = signTx({ chainId: d.chainId, chain: chain as SignedTx['tx']['chain'], from: a.address, nonce, fee: UNIT / 100n, op: { type: 'transfer', to, amount } }, Buffer.from(a.seedHex, 'hex'));
          nonces.set(a.address, nonce + 1);
          outstanding.set(a.address, (outstanding.get(a.address) ?? 0) + 1);
          const list = batches.get(chain) ?? [];
          list.push({ stx, hash: txHash(stx.tx), p: { submitAt: 0, cross, from: a.address, to, amount, dest: destChain } });
          batches.set(chain, list);
        }
      }
      const sends: Promise<void>[] = [];
      for (const [chain, list] of batches) {
        for (let i = 0; i < list.length; i += 250) {
          const part = list.slice(i, i + 250);
          const vals = validatorsOf(chain);
          const k = (rr.get(chain) ?? 0) + 1;
          rr.set(chain, k);
          const url = vals[k % vals.length]!;
          const now = Date.now();
          for (const x of part) {
            x.p.submitAt = now;
            pending.set(x.hash, x.p);
          }
          submitted += part.length;
          sends.push(
            fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(part.map((x, j) => ({ jsonrpc: '2.0', id: j, method: 'tx_submit', params: [x.stx] })), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
            })
              .then((r) => r.json() as Promise<Array<{ id: number; error?: { message: string } }>>)
              .then((res) => {
                for (const r of res) {
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
      await new Promise((r) => setTimeout(r, sends.length === 0 ? 50 : 10));
    }
    const windowS = (Date.now() - loadStart) / 1000;
    say(`load done: submitted ${submitted}, rejected ${rejected}; draining`);
    const drainEnd = Date.now() + 20_000;
    while ((pending.size > 0 || receiptWait.size > 0) && Date.now() < drainEnd) await new Promise((r) => setTimeout(r, 200));
    await blockQueue;
    let verifications = 0;
    let committed = 0;
    for (const u of urls) {
      const m = await rpcCall<{ txVerifications: number; txsCommitted: Record<string, number> }>(u, 'metrics_get');
      verifications += m.txVerifications;
      if (u === watchUrl) committed = Object.values(m.txsCommitted).reduce((a, b) => a + b, 0);
    }
    const supply = await rpcCall<{ ok: boolean; message: string }>(watchUrl, 'supply_get');
    say(`supply after load: ${supply.message}; unfinished txs ${pending.size}, receipts awaiting ${receiptWait.size}`);
    ws.close();
    ws = undefined;
    await d.stop();
    const verifyPerS = await measureVerify(1500);
    const result = {
      shards: S,
      nodes: d.nodes.length,
      seconds: Math.round(windowS * 10) / 10,
      submitted,
      committed,
      tps_intra: Math.round((intraFinalInWindow / windowS) * 10) / 10,
      tps_cross: Math.round((crossFinalInWindow / windowS) * 10) / 10,
      finality_p50_ms: pct(finalLat, 50),
      finality_p99_ms: pct(finalLat, 99),
      cross_finality_p50_ms: pct(crossLat, 50),
      verify_per_s: verifyPerS,
      verifications_per_tx: committed > 0 ? Math.round((verifications / committed) * 100) / 100 : 0,
      supply_ok: supply.ok,
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
