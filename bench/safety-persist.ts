/**
 * What a validator's safety-state write costs (chain/node/core-actions.ts `persist`: one LevelDB
 * batch before every vote and timeout), with the certified block its highest QC stands on
 * (SafetyState.certified: a 350-transfer block at saturation) and, as the baseline in the same
 * run, without it. Prints one JSON line.
 *   node dist/bench/safety-persist.js      (BENCH_TXS txs in the block, default 350)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { genesisBlock } from '../chain/consensus/certificate.js';
import { sha256Hex } from '../chain/consensus/encoding.js';
import type { Block, SafetyState } from '../chain/consensus/types.js';
import { encodePayload } from '../chain/node/payload.js';
import { LevelStore } from '../chain/node/store.js';
import { DEVNET_PARAMS } from '../chain/state/index.js';
import { transferPayload } from './block-payload.js';

const TXS = Number(process.env.BENCH_TXS ?? 350);
const WRITES = Number(process.env.BENCH_WRITES ?? 2000);

const g = genesisBlock({ chainId: DEVNET_PARAMS.chainId, chain: 'shard-0' }, 'bench');
const payload = encodePayload(transferPayload(TXS));
const block: Block = { ...g, height: 5, view: 5, payload, payloadHash: sha256Hex(payload), hash: sha256Hex('bench block 5') };
const plain: SafetyState = { lastVotedView: 5, lockedView: 4, highQC: g.justify, lastTimeoutView: 0 };
const withBlock: SafetyState = { ...plain, certified: [block] };

const dir = mkdtempSync(join(tmpdir(), 'bench-persist-'));
const store = new LevelStore(dir);
await store.open();
/** Process CPU (all threads: LevelDB's too) and wall µs per awaited write of `s`. */
async function perWrite(s: SafetyState): Promise<{ cpu: number; wall: number }> {
  for (let i = 0; i < WRITES / 10; i++) await store.batch([{ type: 'put', key: 'cs/shard-0', value: s }]);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < WRITES; i++) await store.batch([{ type: 'put', key: 'cs/shard-0', value: s }]);
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / WRITES, wall: ((performance.now() - t0) * 1000) / WRITES };
}
try {
  // Alternating, twice each; the lower of the two is reported (the first pass also warms up).
  const runs = { plain: [] as Array<{ cpu: number; wall: number }>, with: [] as Array<{ cpu: number; wall: number }> };
  for (let r = 0; r < 2; r++) {
    runs.plain.push(await perWrite(plain));
    runs.with.push(await perWrite(withBlock));
  }
  const best = (xs: Array<{ cpu: number; wall: number }>): { cpu: number; wall: number } => xs.reduce((a, b) => (b.cpu < a.cpu ? b : a));
  const p = best(runs.plain);
  const w = best(runs.with);
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      txs: TXS,
      block_bytes: payload.length,
      persist_cpu_us: r1(w.cpu),
      persist_wall_us: r1(w.wall),
      baseline_persist_cpu_us: r1(p.cpu),
      baseline_persist_wall_us: r1(p.wall),
      cpu_ratio: Math.round((w.cpu / p.cpu) * 100) / 100,
    }),
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
