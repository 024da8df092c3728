/**
 * Long fuzz run over every target of test/fuzz/targets.ts. Prints one JSON line:
 *   {"targets":…,"fuzz_inputs":…,"fuzz_crashes":…,"fuzz_hangs":…,"findings_dir":…,
 *    "per_target":{name:{inputs,crashes,hangs,ms}}}
 * Each finding is saved as <findings_dir>/<target>-<n>.json with the input (hex) and the stack.
 *
 *   node dist/bench/fuzz.js [--inputs N (default 1000000 per target)] [--seconds S (cap per target)]
 *                           [--workers W (default 2)] [--only SUBSTR[,SUBSTR]] [--seed S] [--out DIR]
 *
 * Targets are handed out to worker threads one at a time. A worker publishes the input it is
 * running in shared memory; a worker silent for WATCHDOG_MS is terminated and that input is
 * saved as a hang (an input that finishes but takes over HANG_MS in three runs is a hang too).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { closeTargets, makeTargets } from '../test/fuzz/targets.js';
import { describeError, hex, runInputConfirmed } from '../test/fuzz/harness.js';

const WATCHDOG_MS = 15_000;
const MAX_INPUT = 1 << 20;
const BATCH = 2000;
/** Findings saved per target at most (the counters keep counting). */
const MAX_SAVED = 25;

interface Job {
  target: string;
  inputs: number;
  /** Stop a target after this long even if `inputs` were not all run (0 = no limit). */
  seconds: number;
  seed: number;
  out: string;
}
interface TargetResult {
  inputs: number;
  crashes: number;
  hangs: number;
  ms: number;
}
type FromWorker = { type: 'ready' } | { type: 'done'; target: string; result: TargetResult } | { type: 'error'; target: string; error: string };

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// ------------------------------------------------------------------ worker

async function workerMain(): Promise<void> {
  const shared = workerData as { progress: SharedArrayBuffer; input: SharedArrayBuffer };
  const progress = new Int32Array(shared.progress); // [0] inputs started, [1] input length
  const inputBuf = new Uint8Array(shared.input);
  parentPort!.on('message', (job: Job) => {
    void runJob(job, progress, inputBuf).then(
      (result) => parentPort!.postMessage({ type: 'done', target: job.target, result } satisfies FromWorker),
      (e: unknown) => parentPort!.postMessage({ type: 'error', target: job.target, error: describeError(e) } satisfies FromWorker),
    );
  });
  parentPort!.postMessage({ type: 'ready' } satisfies FromWorker);
}

async function runJob(job: Job, progress: Int32Array, inputBuf: Uint8Array): Promise<TargetResult> {
  Atomics.store(progress, 0, 0);
  const [t] = await makeTargets((n) => n === job.target);
  if (!t) throw new Error(`no target ${job.target}`);
  const res: TargetResult = { inputs: 0, crashes: 0, hangs: 0, ms: 0 };
  const seen = new Set<string>();
  let saved = 0;
  const t0 = performance.now();
  try {
    const deadline = job.seconds > 0 ? t0 + job.seconds * 1000 : Infinity;
    for (let batch = 0; res.inputs < job.inputs && performance.now() < deadline; batch++) {
      const n = Math.min(BATCH, job.inputs - res.inputs);
      const inputs = fc.sample(t.arbitrary, { numRuns: n, seed: (job.seed + batch * 7919) | 0 });
      for (const input of inputs) {
        const len = Math.min(input.length, MAX_INPUT);
        inputBuf.set(input.subarray(0, len));
        Atomics.store(progress, 1, len);
        Atomics.add(progress, 0, 1);
        const o = await runInputConfirmed(t, input);
        res.inputs++;
        if (o.kind === 'ok') continue;
        if (o.kind === 'crash') res.crashes++;
        else res.hangs++;
        const stack = o.kind === 'crash' || o.error !== undefined ? describeError(o.error) : `hang: ${o.ms.toFixed(0)} ms`;
        // One file per distinct error (first two lines of the stack), at most MAX_SAVED.
        const key = stack.split('\n').slice(0, 2).join('\n');
        if (!seen.has(key) && saved < MAX_SAVED) {
          seen.add(key);
          saved++;
          writeFileSync(join(job.out, `${t.name}-${saved}.json`), JSON.stringify({ target: t.name, parser: t.parser, kind: o.kind, ms: o.ms, input: hex(input), stack }, null, 2) + '\n');
        }
      }
    }
  } finally {
    res.ms = Math.round(performance.now() - t0);
    await closeTargets([t]);
  }
  return res;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const perTarget = Number(arg('--inputs') ?? 1_000_000);
  const seconds = Number(arg('--seconds') ?? 0);
  const workers = Math.max(1, Number(arg('--workers') ?? 2));
  const seed = Number(arg('--seed') ?? Date.now() % 2 ** 31);
  const only = arg('--only')?.split(',');
  const out = arg('--out') ?? mkdtempSync(join(tmpdir(), 'topvpn-fuzz-findings-'));
  mkdirSync(out, { recursive: true });
  console.error(JSON.stringify({ start: new Date().toISOString(), seed, perTarget, seconds, out }));
  const all = await makeTargets();
  const names = all.map((t) => t.name).filter((n) => !only || only.some((s) => n.includes(s)));
  await closeTargets(all);

  const queue = [...names];
  const results: Record<string, TargetResult> = {};

  const runWorker = (): Promise<void> =>
    new Promise<void>((resolveAll) => {
      const progress = new SharedArrayBuffer(8);
      const input = new SharedArrayBuffer(MAX_INPUT);
      const p = new Int32Array(progress);
      const w = new Worker(new URL(import.meta.url), { workerData: { progress, input } });
      let current: string | undefined;
      let last = -1;
      let lastChange = Date.now();
      const next = (): void => {
        current = queue.shift();
        if (current === undefined) {
          clearInterval(watch);
          void w.terminate().then(() => resolveAll());
          return;
        }
        lastChange = Date.now();
        w.postMessage({ target: current, inputs: perTarget, seconds, seed, out } satisfies Job);
      };
      let lastTick = Date.now();
      const watch = setInterval(() => {
        // A late tick means this whole process was not scheduled (a loaded, nice'd run): that
        // pause is no evidence against the worker, so it does not count towards the watchdog.
        if (Date.now() - lastTick > 3000) lastChange = Date.now();
        lastTick = Date.now();
        const now = Atomics.load(p, 0);
        if (now !== last) {
          last = now;
          lastChange = Date.now();
          return;
        }
        if (current === undefined || Date.now() - lastChange < WATCHDOG_MS) return;
        // A hang: save the input being run, drop the worker, start a fresh one for the rest.
        const len = Atomics.load(p, 1);
        const bytes = new Uint8Array(input).slice(0, len);
        // replay: the input is number input_index of the job, i.e. fc.sample(arbitrary, {seed: seed + batch × 7919})[i % BATCH]
        const inputIndex = Atomics.load(p, 0) - 1;
        writeFileSync(
          join(out, `${current}-hang.json`),
          JSON.stringify({ target: current, kind: 'hang', ms: Date.now() - lastChange, input: hex(bytes), seed, input_index: inputIndex, batch: Math.floor(inputIndex / BATCH), stack: 'no progress: worker terminated' }, null, 2) + '\n',
        );
        results[current] = { inputs: -1, crashes: 0, hangs: 1, ms: -1 };
        clearInterval(watch);
        void w.terminate().then(() => runWorker().then(resolveAll));
      }, 1000);
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') return next();
        if (m.type === 'done') results[m.target] = m.result;
        else {
          results[m.target] = { inputs: 0, crashes: 1, hangs: 0, ms: 0 };
          writeFileSync(join(out, `${m.target}-setup.json`), JSON.stringify({ target: m.target, kind: 'setup', stack: m.error }, null, 2) + '\n');
        }
        next();
      });
      w.on('error', (e) => {
        if (current !== undefined) {
          results[current] = { inputs: 0, crashes: 1, hangs: 0, ms: 0 };
          writeFileSync(join(out, `${current}-worker.json`), JSON.stringify({ target: current, kind: 'worker', stack: describeError(e) }, null, 2) + '\n');
        }
        clearInterval(watch);
        void runWorker().then(resolveAll);
      });
    });

  await Promise.all(Array.from({ length: Math.min(workers, names.length) }, () => runWorker()));
  const per_target: Record<string, TargetResult> = {};
  for (const n of names) per_target[n] = results[n] ?? { inputs: 0, crashes: 0, hangs: 0, ms: 0 };
  const vals = Object.values(per_target);
  console.log(
    JSON.stringify({
      targets: names.length,
      fuzz_inputs: vals.reduce((s, r) => s + Math.max(0, r.inputs), 0),
      fuzz_crashes: vals.reduce((s, r) => s + r.crashes, 0),
      fuzz_hangs: vals.reduce((s, r) => s + r.hangs, 0),
      inputs_per_target: perTarget,
      seconds_per_target: seconds || null,
      seed,
      findings_dir: out,
      per_target,
    }),
  );
}

if (isMainThread) {
  main().catch((e: unknown) => {
    console.error(describeError(e));
    process.exit(1);
  });
} else {
  void workerMain();
}
