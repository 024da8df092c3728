/**
 * Long fuzz run over every target of test/fuzz/targets.ts. Prints one JSON line:
 *   {"targets":…,"fuzz_inputs":…,"fuzz_crashes":…,"fuzz_hangs":…,"wall_s":…,"jobs":…,"seed":…,
 *    "findings_dir":…,"per_target":{name:{inputs,crashes,hangs,ms,inputs_per_s}}}
 * `ms` is the worker time spent on the target (summed over its chunks), `inputs_per_s` is
 * inputs / that time. Each finding is saved as <findings_dir>/<target>-<n>.json with the
 * input (hex), the stack, and where it sits in the input stream (seed, input_index).
 * A line per finished target goes to stderr as the run proceeds.
 *
 *   node dist/bench/fuzz.js [--inputs N (default 1000000 per target)] [--seconds S (time budget per target)]
 *                           [--jobs J (worker threads, default 2; --workers is the same)]
 *                           [--chunk C (inputs per job, default 250000)]
 *                           [--only SUBSTR[,SUBSTR]] [--seed S] [--out DIR] [--selftest]
 *
 * --selftest runs only two synthetic targets that check the hang detection itself:
 * selftest.spin loops forever on input 3 (the watchdog must terminate the worker and carry
 * on), selftest.slow burns HANG_MS + 200 ms of CPU on input 3 (must count as a hang); expect
 * "fuzz_hangs":2 and every input of both counted (~25 s).
 *
 * A target's N inputs are input_index 0..N-1 of one stream: input i is element i % BATCH of
 * fc.sample(arbitrary, { numRuns: BATCH, seed: (seed + floor(i / BATCH) × 7919) | 0 }). The
 * stream is cut into chunks of C inputs, and the chunks of all targets (slowest targets' first)
 * are handed to J worker threads; so a run's inputs do not depend on J or C.
 *
 * Hangs: an input whose run takes over HANG_MS is a hang (test/fuzz/harness.ts: over HANG_MS
 * of wall time, confirmed by a re-run using over HANG_MS of CPU time), saved like a crash. A
 * worker publishes the index of the input it is running in shared memory; a worker that
 * burns WATCHDOG_CPU_MS of CPU time on one input (a sync infinite loop) is terminated, that
 * input is saved as a hang, and a fresh worker carries on with the rest of the chunk. A worker
 * asleep (not runnable) for WATCHDOG_WALL_MS without progress is terminated too: the first
 * time on an input that is a "stall" (worker_stalls; the fresh worker re-runs the input), a
 * second stall on the same input is a hang.
 */
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { closeTargets, makeTargets, type FuzzTarget } from '../test/fuzz/targets.js';
import { describeError, HANG_MS, hex, runInputConfirmed, SCRATCH_ENV, scratchBase, spinCpu, taskStat } from '../test/fuzz/harness.js';

/** A worker stuck on one input for this much of its CPU time is terminated (a sync infinite loop). */
const WATCHDOG_CPU_MS = 10_000;
/**
 * ... or asleep (not runnable: a blocked call) this long without progress. A runnable worker
 * that gets no CPU (nice 19 on a busy machine: seen for minutes) is never a hang. Where /proc
 * is missing: WATCHDOG_CPU_MS of wall time in which the process was scheduled.
 */
const WATCHDOG_WALL_MS = 60_000;
const TERMINATE_WAIT_MS = 5_000;
/** target:input_index of the inputs a worker stalled on (a second stall there is a hang). */
const stalledAt = new Set<string>();
/** Workers whose terminate() did not settle (stuck in native code): the process cannot join them at exit. */
let unjoinable = 0;
const MAX_INPUT = 1 << 20;
const BATCH = 2000;
/** Findings saved per target and chunk at most (the counters keep counting). */
const MAX_SAVED = 25;
/**
 * Targets that cost the most per input go first, so that the two (or J) workers end together.
 * Measured inputs/s on this machine, slowest first; targets not listed follow in registry order.
 */
const SLOW_FIRST = [
  'client.control.request',
  'chain.node.parseSignedTx',
  'client.config.flags',
  'relay.config.flags',
  'client.circuit.onDatagram',
  'chain.rpc.handleText',
  'relay.keys.readKeyFile',
  'deploy.loadConfig',
];

interface Job {
  target: string;
  /** Input indices [from, to) of the target's stream. */
  from: number;
  to: number;
  /** Stop this job after this long even if not all its inputs ran (0 = no limit). */
  seconds: number;
  seed: number;
  out: string;
}
interface JobResult {
  inputs: number;
  crashes: number;
  hangs: number;
  /** Worker stalls: asleep without progress on an input that then ran normally in a fresh worker. */
  stalls?: number;
  ms: number;
}
interface TargetResult extends JobResult {
  inputs_per_s: number;
}
type FromWorker = { type: 'ready' } | { type: 'closed' } | { type: 'done'; job: Job; result: JobResult } | { type: 'error'; job: Job; error: string };
/** A job, or 'close': free the targets built so far (temp files, sockets) and answer 'closed'. */
type ToWorker = Job | 'close';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const batchSeed = (seed: number, batch: number): number => (seed + batch * 7919) | 0;

function saveFinding(out: string, file: string, body: Record<string, unknown>): void {
  writeFileSync(join(out, file), JSON.stringify(body, null, 2) + '\n');
}

// ------------------------------------------------------------------ worker

async function workerMain(): Promise<void> {
  const shared = workerData as { progress: SharedArrayBuffer; input: SharedArrayBuffer };
  // [0] index of the input being run + 1 (0: none yet), [1] its length, [2] this thread's id (0: unknown)
  const progress = new Int32Array(shared.progress);
  try {
    Atomics.store(progress, 2, Number(readlinkSync('/proc/thread-self').split('/').pop()) | 0);
  } catch {
    // no /proc: the watchdog goes by wall time
  }
  const inputBuf = new Uint8Array(shared.input);
  // Targets are built once per worker and reused by later chunks of the same target.
  const built = new Map<string, FuzzTarget>();
  let queue = Promise.resolve();
  parentPort!.on('message', (job: ToWorker) => {
    if (job === 'close') {
      queue = queue.then(async () => {
        await closeTargets([...built.values()]);
        built.clear();
        parentPort!.postMessage({ type: 'closed' } satisfies FromWorker);
      });
      return;
    }
    queue = queue.then(() =>
      runJob(job, built, progress, inputBuf).then(
        (result) => parentPort!.postMessage({ type: 'done', job, result } satisfies FromWorker),
        (e: unknown) => parentPort!.postMessage({ type: 'error', job, error: describeError(e) } satisfies FromWorker),
      ),
    );
  });
  parentPort!.postMessage({ type: 'ready' } satisfies FromWorker);
}

/** Index of the input being run (read by the --selftest targets). */
let inputIndex = -1;
/** The input of index SELFTEST_AT hangs: selftest.spin loops forever, selftest.slow burns HANG_MS + 200 ms of CPU. */
const SELFTEST_AT = 3;
function selftestTarget(name: string): FuzzTarget {
  const spin = name === 'selftest.spin';
  return {
    name,
    parser: 'bench/fuzz.ts hang detection',
    arbitrary: fc.constant(new Uint8Array(1)),
    allowedErrors: [],
    run() {
      if (inputIndex !== SELFTEST_AT) return;
      if (spin) for (;;);
      spinCpu(HANG_MS + 200);
    },
  };
}

async function targetFor(name: string, built: Map<string, FuzzTarget>): Promise<FuzzTarget> {
  const have = built.get(name);
  if (have) return have;
  if (name.startsWith('selftest.')) return selftestTarget(name);
  // One target at a time: free the previous one (timers, sockets, temp files) first.
  await closeTargets([...built.values()]);
  built.clear();
  const [t] = await makeTargets((n) => n === name);
  if (!t) throw new Error(`no target ${name}`);
  built.set(name, t);
  return t;
}

async function runJob(job: Job, built: Map<string, FuzzTarget>, progress: Int32Array, inputBuf: Uint8Array): Promise<JobResult> {
  const t = await targetFor(job.target, built);
  const res: JobResult = { inputs: 0, crashes: 0, hangs: 0, ms: 0 };
  const seen = new Set<string>();
  let saved = 0;
  const t0 = performance.now();
  const deadline = job.seconds > 0 ? t0 + job.seconds * 1000 : Infinity;
  let batchNo = -1;
  let batch: Uint8Array[] = [];
  for (let i = job.from; i < job.to; i++) {
    const b = Math.floor(i / BATCH);
    if (b !== batchNo) {
      if (performance.now() > deadline) break;
      batchNo = b;
      batch = fc.sample(t.arbitrary, { numRuns: BATCH, seed: batchSeed(job.seed, b) });
    }
    const input = batch[i % BATCH]!;
    const len = Math.min(input.length, MAX_INPUT);
    inputBuf.set(input.subarray(0, len));
    Atomics.store(progress, 1, len);
    Atomics.store(progress, 0, i + 1);
    inputIndex = i;
    let o = runInputConfirmed(t, input);
    if (o instanceof Promise) o = await o;
    res.inputs++;
    if (o.kind === 'ok') continue;
    if (o.kind === 'crash') res.crashes++;
    else res.hangs++;
    const stack = o.kind === 'crash' || o.error !== undefined ? describeError(o.error) : `hang: ${o.ms.toFixed(0)} ms${o.cpuMs === undefined ? ` (over ${HANG_MS} ms three times)` : `, re-run ${o.cpuMs} ms of CPU`}`;
    // One file per distinct error (first two lines of the stack), at most MAX_SAVED a chunk.
    const key = stack.split('\n').slice(0, 2).join('\n');
    if (!seen.has(key) && saved < MAX_SAVED) {
      seen.add(key);
      saved++;
      saveFinding(job.out, `${t.name}-${job.from}-${saved}.json`, { target: t.name, parser: t.parser, kind: o.kind, ms: o.ms, cpuMs: o.kind === 'hang' ? o.cpuMs : undefined, seed: job.seed, input_index: i, input: hex(input), stack });
    }
  }
  res.ms = performance.now() - t0;
  return res;
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const perTarget = Number(arg('--inputs') ?? 1_000_000);
  const seconds = Number(arg('--seconds') ?? 0);
  const jobs = Math.max(1, Number(arg('--jobs') ?? arg('--workers') ?? 2));
  const chunk = Math.max(BATCH, Math.round(Number(arg('--chunk') ?? 250_000) / BATCH) * BATCH);
  const seed = Number(arg('--seed') ?? Date.now() % 2 ** 31);
  const only = arg('--only')?.split(',');
  const out = arg('--out') ?? mkdtempSync(join(tmpdir(), 'topvpn-fuzz-findings-'));
  mkdirSync(out, { recursive: true });
  const wall0 = performance.now();
  // Every temp file of every worker goes under one dir, removed at the end even when a worker
  // was terminated before it could clean up (workers inherit this env at spawn).
  const scratch = mkdtempSync(join(scratchBase(), 'topvpn-fuzz-run-'));
  process.env[SCRATCH_ENV] = scratch;
  const removeScratch = (): void => rmSync(scratch, { recursive: true, force: true });
  process.on('exit', removeScratch);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  console.error(JSON.stringify({ start: new Date().toISOString(), seed, perTarget, seconds, jobs, chunk, out }));
  const all = await makeTargets();
  const registry = all.map((t) => t.name);
  await closeTargets(all);
  const names = process.argv.includes('--selftest') ? ['selftest.spin', 'selftest.slow'] : registry.filter((n) => !only || only.some((s) => n.includes(s)));
  const rank = (n: string): number => (SLOW_FIRST.includes(n) ? SLOW_FIRST.indexOf(n) : SLOW_FIRST.length + registry.indexOf(n));

  const queue: Job[] = [];
  for (const target of [...names].sort((a, b) => rank(a) - rank(b))) {
    for (let from = 0; from < perTarget; from += chunk) {
      const to = Math.min(perTarget, from + chunk);
      queue.push({ target, from, to, seconds: seconds > 0 ? (seconds * (to - from)) / perTarget : 0, seed, out });
    }
  }
  const results = new Map<string, JobResult>(names.map((n) => [n, { inputs: 0, crashes: 0, hangs: 0, ms: 0 }]));
  const pending = new Map<string, number>();
  for (const j of queue) pending.set(j.target, (pending.get(j.target) ?? 0) + 1);
  const add = (target: string, r: JobResult): void => {
    const acc = results.get(target)!;
    acc.inputs += r.inputs;
    acc.crashes += r.crashes;
    acc.hangs += r.hangs;
    acc.stalls = (acc.stalls ?? 0) + (r.stalls ?? 0);
    acc.ms += r.ms;
  };
  const jobDone = (target: string): void => {
    const left = pending.get(target)! - 1;
    pending.set(target, left);
    if (left > 0) return;
    const r = results.get(target)!;
    console.error(JSON.stringify({ target, inputs: r.inputs, inputs_per_s: Math.round(r.inputs / (r.ms / 1000 || 1)), crashes: r.crashes, hangs: r.hangs, stalls: r.stalls ?? 0, elapsed_s: Math.round((performance.now() - wall0) / 1000) }));
  };

  const runWorker = (): Promise<void> =>
    new Promise<void>((resolveAll) => {
      const progress = new SharedArrayBuffer(12);
      const input = new SharedArrayBuffer(MAX_INPUT);
      const p = new Int32Array(progress);
      // The main thread's stack size (~1 MB), not a worker's default 4 MB: the parsers run on a main
      // thread in production, and with 4 MB JSON.stringify of a 10^4-deep value costs 30-80 ms
      // instead of overflowing in 4 ms (a campaign 5x slower on the JSON targets).
      const w = new Worker(new URL(import.meta.url), { workerData: { progress, input }, resourceLimits: { stackSizeMb: 1 } });
      let current: Job | undefined;
      let last = -1;
      let lastChange = Date.now();
      let lastTick = Date.now();
      const workerStat = (): { cpuMs: number; state: string } | undefined => (Atomics.load(p, 2) > 0 ? taskStat(`/proc/self/task/${Atomics.load(p, 2)}/stat`) : undefined);
      const workerCpu = (): number | undefined => workerStat()?.cpuMs;
      let cpuAtChange: number | undefined;
      /** Wall time (ms) the worker spent asleep since its last progress. */
      let asleepMs = 0;
      const next = (): void => {
        current = queue.shift();
        if (current === undefined) {
          clearInterval(watch);
          w.postMessage('close' satisfies ToWorker);
          return;
        }
        Atomics.store(p, 0, 0);
        lastChange = Date.now();
        cpuAtChange = workerCpu();
        asleepMs = 0;
        w.postMessage(current satisfies ToWorker);
      };
      const watch = setInterval(() => {
        // A late tick means this whole process was not scheduled (a loaded, nice'd run): that
        // pause is no evidence against the worker, so it does not count towards the watchdog.
        const sinceTick = Date.now() - lastTick;
        if (sinceTick > 3000) lastChange = Date.now();
        lastTick = Date.now();
        const now = Atomics.load(p, 0);
        const st = workerStat();
        const cpu = st?.cpuMs;
        if (now !== last || cpuAtChange === undefined) {
          last = now;
          lastChange = Date.now();
          cpuAtChange = cpu;
          asleepMs = 0;
          return;
        }
        if (current === undefined || now === 0) return;
        if (st !== undefined && st.state !== 'R') asleepMs += Math.min(sinceTick, 3000);
        const stuck = cpu !== undefined ? cpu - cpuAtChange >= WATCHDOG_CPU_MS || asleepMs >= WATCHDOG_WALL_MS : Date.now() - lastChange >= WATCHDOG_CPU_MS;
        if (!stuck) return;
        // Drop the worker; a fresh one runs the rest of the chunk. Burning CPU is a hang at once.
        // Asleep (seen on a loaded machine: a worker waiting on a futex for minutes) is a stall the
        // first time — the fresh worker re-runs that input — and a hang if it stalls again on it.
        const job = current;
        const index = now - 1;
        const bytes = new Uint8Array(input).slice(0, Atomics.load(p, 1));
        const cpuMs = cpu !== undefined && cpuAtChange !== undefined ? cpu - cpuAtChange : undefined;
        const spinning = cpuMs === undefined || cpuMs >= WATCHDOG_CPU_MS;
        const hang = spinning || stalledAt.has(`${job.target}:${index}`);
        stalledAt.add(`${job.target}:${index}`);
        const kind = hang ? 'hang' : 'stall';
        saveFinding(out, `${job.target}-${kind}-${index}.json`, { target: job.target, kind, ms: Date.now() - lastChange, cpuMs, asleepMs, seed, input_index: index, input: hex(bytes), stack: 'no progress: worker terminated' });
        // The inputs before it ran (their crashes, if any, are in their own files but not counted).
        add(job.target, { inputs: index - job.from + (hang ? 1 : 0), crashes: 0, hangs: hang ? 1 : 0, stalls: hang ? 0 : 1, ms: Date.now() - lastChange });
        const resume = hang ? index + 1 : index;
        if (resume < job.to) queue.unshift({ ...job, from: resume });
        else jobDone(job.target);
        current = undefined;
        clearInterval(watch);
        // terminate() of a stalled worker may never settle: carry on after TERMINATE_WAIT_MS regardless.
        let ended = false;
        void w.terminate().then(() => (ended = true));
        void new Promise((res) => setTimeout(res, TERMINATE_WAIT_MS)).then(() => {
          if (!ended) unjoinable++;
          return runWorker().then(resolveAll);
        });
      }, 1000);
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') return next();
        if (m.type === 'closed') return void w.terminate().then(() => resolveAll());
        if (m.type === 'done') add(m.job.target, m.result);
        else {
          add(m.job.target, { inputs: 0, crashes: 1, hangs: 0, ms: 0 });
          saveFinding(out, `${m.job.target}-setup-${m.job.from}.json`, { target: m.job.target, kind: 'setup', stack: m.error });
        }
        jobDone(m.job.target);
        next();
      });
      w.on('error', (e) => {
        if (current !== undefined) {
          add(current.target, { inputs: 0, crashes: 1, hangs: 0, ms: 0 });
          saveFinding(out, `${current.target}-worker-${current.from}.json`, { target: current.target, kind: 'worker', seed, input_index: Atomics.load(p, 0) - 1, stack: describeError(e) });
          jobDone(current.target);
        }
        clearInterval(watch);
        void runWorker().then(resolveAll);
      });
    });

  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, () => runWorker()));
  const per_target: Record<string, TargetResult> = {};
  for (const n of names) {
    const r = results.get(n)!;
    per_target[n] = { inputs: r.inputs, crashes: r.crashes, hangs: r.hangs, stalls: r.stalls ?? 0, ms: Math.round(r.ms), inputs_per_s: Math.round(r.inputs / (r.ms / 1000 || 1)) };
  }
  const vals = Object.values(per_target);
  console.log(
    JSON.stringify({
      targets: names.length,
      fuzz_inputs: vals.reduce((s, r) => s + r.inputs, 0),
      fuzz_crashes: vals.reduce((s, r) => s + r.crashes, 0),
      fuzz_hangs: vals.reduce((s, r) => s + r.hangs, 0),
      worker_stalls: vals.reduce((s, r) => s + (r.stalls ?? 0), 0),
      min_target_inputs: Math.min(...vals.map((r) => r.inputs)),
      inputs_per_target: perTarget,
      seconds_per_target: seconds || null,
      wall_s: Math.round((performance.now() - wall0) / 1000),
      jobs,
      chunk,
      seed,
      findings_dir: out,
      per_target,
    }),
  );
}

if (isMainThread) {
  // Exit once the line is out (stdout is synchronous on Linux). A stalled worker whose terminate()
  // never settled cannot be joined, and process.exit() would wait for it forever: then the
  // process removes its scratch dir and ends itself with SIGKILL (exit status 137).
  main().then(() => {
    if (unjoinable === 0) process.exit(0);
    process.emit('exit', 0);
    process.kill(process.pid, 'SIGKILL');
  }, (e: unknown) => {
    console.error(describeError(e));
    process.exit(1);
  });
} else {
  void workerMain();
}
