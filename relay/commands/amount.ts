/** TOP amounts on the command line: "1.5" TOP (≤ 6 decimals) or "1500000u" base units. */
import { UsageError } from '../cli-util.js';

export const UNIT = 1_000_000n;

/** Parses an amount for `flag`; a malformed one is a UsageError naming the flag. */
export function parseAmount(flag: string, s: string): bigint {
  if (/^[0-9]{1,30}u$/.test(s)) return BigInt(s.slice(0, -1));
  const m = /^([0-9]{1,24})(?:\.([0-9]{1,6}))?$/.exec(s);
  if (!m) throw new UsageError(`${flag}: bad amount "${s}" (TOP with up to 6 decimals, or base units with a "u" suffix)`);
  return BigInt(m[1]!) * UNIT + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** A whole number of base units for `flag` (as start's --price-per-gib), else a UsageError. */
export function parseBaseUnits(flag: string, s: string): bigint {
  if (!/^[0-9]{1,30}$/.test(s)) throw new UsageError(`${flag}: "${s}" must be a whole number of base units (10^6 = 1 TOP)`);
  return BigInt(s);
}

export function formatTop(units: bigint): string {
  const neg = units < 0n;
  const u = neg ? -units : units;
  const frac = (u % UNIT).toString().padStart(6, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${u / UNIT}${frac ? `.${frac}` : ''}`;
}

/** An http(s) URL for `flag`, else a UsageError. */
export function parseRpcUrl(flag: string, s: string | undefined): string {
  if (s === undefined || s === '') throw new UsageError(`${flag} URL is required (or set it in the config file / environment)`);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new UsageError(`${flag}: "${s}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${flag}: "${s}" must be http(s)://HOST:PORT`);
  return s;
}

/** JSON with bigints as decimal strings. */
export function jsonSafe<T>(v: T): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
}

/** A chain node (or other HTTP endpoint) could not be reached (exit 1). */
export class ChainUnreachableError extends Error {
  override readonly name = 'ChainUnreachableError';
}

/** Wraps an action so that fetch's bare "fetch failed" TypeError becomes a ChainUnreachableError naming the cause. */
export function guardFetch<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof TypeError && err.message === 'fetch failed') {
        const c = (err as { cause?: { code?: string; address?: string; port?: number; message?: string } }).cause;
        const where = c?.address !== undefined ? ` ${c.address}${c.port !== undefined ? `:${c.port}` : ''}` : '';
        throw new ChainUnreachableError(`chain node unreachable (${c?.code ?? c?.message ?? 'fetch failed'}${where})`);
      }
      if (err instanceof Error && err.name === 'TimeoutError') throw new ChainUnreachableError(`chain node did not answer in time (${err.message})`);
      throw err;
    }
  };
}
