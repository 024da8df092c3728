/**
 * The fuzz target contract and the one function that runs an input against a target.
 *
 * A target's `run(input)` feeds the bytes to a parser (or an engine) and throws only for a
 * finding: an error that is not one of the parser's documented classes (`allowedErrors`, or
 * `allowed(e)` for a documented error without its own class), or a `FuzzFinding` for a
 * broken invariant (a round trip that differs, an engine that counted an internal error, a
 * circuit that stopped working).
 *
 * A hang is an input that takes longer than HANG_MS: its run goes over HANG_MS of wall time,
 * and a re-run uses over HANG_MS of its thread's CPU time (a long campaign runs nice'd on a
 * shared machine, where wall time alone mostly measures the scheduler: a 7 ms input was seen
 * to take 8 s). An async run that has not settled after ASYNC_GIVE_UP_MS is a hang too.
 * Where per-thread CPU time cannot be read (no /proc), three runs over HANG_MS of wall time
 * make a hang.
 */
import { accessSync, constants, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type fc from 'fast-check';

/** Per-input time budget: anything slower is reported as a hang. */
export const HANG_MS = 1000;
/** An async run still pending after this long is abandoned and reported as a hang. */
export const ASYNC_GIVE_UP_MS = 10 * HANG_MS;

// The constructor's parameter list is irrelevant here: it is only used with instanceof.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

export interface FuzzTarget {
  readonly name: string;
  /** The file(s) under test, for the report. */
  readonly parser: string;
  readonly arbitrary: fc.Arbitrary<Uint8Array>;
  run(input: Uint8Array): void | Promise<void>;
  readonly allowedErrors: readonly ErrorClass[];
  /** Documented errors without a class of their own (e.g. a plain Error with a fixed message). */
  allowed?(e: unknown): boolean;
  /** Frees what the target's setup made (timers, engines, temp files). */
  close?(): void | Promise<void>;
}

/** A broken invariant found by a target (never an allowed error). */
export class FuzzFinding extends Error {
  override readonly name = 'FuzzFinding';
}

/** `ms` is wall time; a confirmed hang also gives the CPU time of its re-run (`cpuMs`). */
export type Outcome = { kind: 'ok'; ms: number } | { kind: 'crash'; ms: number; error: unknown } | { kind: 'hang'; ms: number; cpuMs?: number; error?: unknown };

/**
 * CPU time (user + system, ms, 10 ms resolution) used so far by the calling thread — a worker
 * thread gets its own — or undefined where /proc/thread-self is not there. ~50 µs a call.
 */
export function threadCpuMs(): number | undefined {
  return taskCpuMs('/proc/thread-self/stat');
}

/** CPU time (ms) of a thread given its /proc stat file, or undefined. */
export function taskCpuMs(statFile: string): number | undefined {
  return taskStat(statFile)?.cpuMs;
}

/**
 * A thread's CPU time (ms) and scheduler state ('R' running or runnable, 'S' sleeping,
 * 'D' in uninterruptible IO, ...) from its /proc stat file, or undefined.
 */
export function taskStat(statFile: string): { cpuMs: number; state: string } | undefined {
  try {
    const s = readFileSync(statFile, 'latin1');
    // after "pid (comm) ": state is field 0, utime field 11, stime field 12 (in clock ticks of 10 ms)
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    return Number.isFinite(ticks) ? { cpuMs: ticks * 10, state: f[0] ?? '?' } : undefined;
  } catch {
    return undefined;
  }
}

/** Burns `ms` of this thread's CPU time (wall time where it cannot be read): for the harness self-tests. */
export function spinCpu(ms: number): void {
  const c0 = threadCpuMs();
  const t0 = performance.now();
  for (;;) {
    const c = threadCpuMs();
    if (c !== undefined && c0 !== undefined ? c - c0 >= ms : performance.now() - t0 >= ms) return;
  }
}

export function isAllowed(t: FuzzTarget, e: unknown): boolean {
  if (e instanceof FuzzFinding) return false;
  if (t.allowedErrors.some((c) => e instanceof c)) return true;
  return t.allowed?.(e) ?? false;
}

function outcome(t0: number, crashed: boolean, error: unknown): Outcome {
  const ms = performance.now() - t0;
  if (ms > HANG_MS) return crashed ? { kind: 'hang', ms, error } : { kind: 'hang', ms };
  return crashed ? { kind: 'crash', ms, error } : { kind: 'ok', ms };
}

function failed(t: FuzzTarget, e: unknown): boolean {
  return !isAllowed(t, e);
}

/**
 * Runs one input; never throws. A target whose run() is synchronous gets its outcome
 * synchronously (no promise, no timer): the long campaigns run millions of such inputs.
 */
export function runInput(t: FuzzTarget, input: Uint8Array): Outcome | Promise<Outcome> {
  const t0 = performance.now();
  let r: void | Promise<void>;
  try {
    r = t.run(input);
  } catch (e) {
    return outcome(t0, failed(t, e), e);
  }
  if (r === undefined) return outcome(t0, false, undefined);
  return settle(t, r, t0);
}

async function settle(t: FuzzTarget, r: Promise<void>, t0: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  try {
    // A promise that never settles is a hang too: give up waiting after ASYNC_GIVE_UP_MS.
    const gaveUp = await Promise.race([r.then(() => false), new Promise<boolean>((res) => (timer = setTimeout(() => res(true), ASYNC_GIVE_UP_MS)))]);
    if (gaveUp) return { kind: 'hang', ms: performance.now() - t0, error: new FuzzFinding(`run() did not settle within ${ASYNC_GIVE_UP_MS} ms`) };
    return outcome(t0, false, undefined);
  } catch (e) {
    return outcome(t0, failed(t, e), e);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Runs one input; an apparent hang (over HANG_MS of wall time) is re-run and counts only if
 * the re-run uses over HANG_MS of CPU time (see the file comment). Synchronous for a
 * synchronous target that did not hang (see runInput).
 */
export function runInputConfirmed(t: FuzzTarget, input: Uint8Array): Outcome | Promise<Outcome> {
  const o = runInput(t, input);
  if (o instanceof Promise) return o.then((x) => (x.kind === 'hang' ? confirmHang(t, input, x) : x));
  return o.kind === 'hang' ? confirmHang(t, input, o) : o;
}

const neverSettled = (o: Outcome): boolean => o.kind === 'hang' && o.error instanceof FuzzFinding && o.error.message.startsWith('run() did not settle');

async function confirmHang(t: FuzzTarget, input: Uint8Array, first: Outcome): Promise<Outcome> {
  if (neverSettled(first)) return first;
  const c0 = threadCpuMs();
  if (c0 !== undefined) {
    const again = await runInput(t, input);
    const c1 = threadCpuMs();
    if (c1 === undefined || neverSettled(again)) return again;
    const cpuMs = c1 - c0;
    if (cpuMs > HANG_MS) return again.kind === 'hang' ? { ...again, cpuMs } : { kind: 'hang', ms: again.ms, cpuMs, ...(again.kind === 'crash' ? { error: again.error } : {}) };
    // Not a hang: slow only in wall time. Its outcome apart from the time:
    if (again.kind !== 'hang') return again;
    return again.error === undefined ? { kind: 'ok', ms: again.ms } : { kind: 'crash', ms: again.ms, error: again.error };
  }
  let o = first;
  for (let i = 0; i < 2 && o.kind === 'hang'; i++) {
    const again = await runInput(t, input);
    if (again.kind !== 'hang') return again;
    o = again;
  }
  return o;
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return String(e);
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const fromHexString = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/**
 * A fresh temp dir for the file-reading targets: on /dev/shm (tmpfs) when it is writable,
 * since a write + read of a small file there is ~70x faster than on this machine's /tmp.
 */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(process.env[SCRATCH_ENV] ?? scratchBase(), prefix));
}

/** Set by bench/fuzz.ts to a per-run dir (removed at its end): where scratchDir makes its dirs. */
export const SCRATCH_ENV = 'TOPVPN_FUZZ_SCRATCH';

/** /dev/shm when writable, else the OS temp dir. */
export function scratchBase(): string {
  try {
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}
