/**
 * The fuzz target contract and the one function that runs an input against a target.
 *
 * A target's `run(input)` feeds the bytes to a parser (or an engine) and throws only for a
 * finding: an error that is not one of the parser's documented classes (`allowedErrors`, or
 * `allowed(e)` for a documented error without its own class), or a `FuzzFinding` for a
 * broken invariant (a round trip that differs, an engine that counted an internal error, a
 * circuit that stopped working). An input that takes longer than HANG_MS is a hang.
 */
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

export type Outcome = { kind: 'ok'; ms: number } | { kind: 'crash'; ms: number; error: unknown } | { kind: 'hang'; ms: number; error?: unknown };

export function isAllowed(t: FuzzTarget, e: unknown): boolean {
  if (e instanceof FuzzFinding) return false;
  if (t.allowedErrors.some((c) => e instanceof c)) return true;
  return t.allowed?.(e) ?? false;
}

/** Runs one input; never throws. */
export async function runInput(t: FuzzTarget, input: Uint8Array): Promise<Outcome> {
  const t0 = performance.now();
  let error: unknown;
  let crashed = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = t.run(input);
    if (r !== undefined) {
      // A promise that never settles is a hang too: give up waiting after ASYNC_GIVE_UP_MS.
      const gaveUp = await Promise.race([r.then(() => false), new Promise<boolean>((res) => (timer = setTimeout(() => res(true), ASYNC_GIVE_UP_MS)))]);
      if (gaveUp) return { kind: 'hang', ms: performance.now() - t0, error: new FuzzFinding(`run() did not settle within ${ASYNC_GIVE_UP_MS} ms`) };
    }
  } catch (e) {
    if (!isAllowed(t, e)) {
      crashed = true;
      error = e;
    }
  }
  if (timer) clearTimeout(timer);
  const ms = performance.now() - t0;
  if (ms > HANG_MS) return crashed ? { kind: 'hang', ms, error } : { kind: 'hang', ms };
  return crashed ? { kind: 'crash', ms, error } : { kind: 'ok', ms };
}

/**
 * Runs one input; an apparent hang is re-run (up to 2 more times) and counts only if every run
 * is over HANG_MS: on a loaded machine a single slow run is often just the scheduler.
 */
export async function runInputConfirmed(t: FuzzTarget, input: Uint8Array): Promise<Outcome> {
  let o = await runInput(t, input);
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
