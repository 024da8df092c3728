/** Polling and timing helpers shared by tests. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Calls `check` every `intervalMs` until it returns a value other than undefined/false,
 * and resolves with that value; throws WaitTimeoutError (naming `what`) after `timeoutMs`.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const until = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= until) throw new WaitTimeoutError(`timed out waiting for ${what}`);
    await sleep(opts.intervalMs ?? 100);
  }
}

/**
 * Polls `cond` every 250 ms until it resolves true; a throwing/rejecting `cond` counts as
 * "not yet" (a node not answering yet). WaitTimeoutError naming `what` after `timeoutMs`.
 */
export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > end) throw new WaitTimeoutError(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
