/**
 * Reads a running relay's Prometheus endpoint (start --metrics HOST:PORT): fetch and parse the
 * text exposition format into per-metric sums and per-label series. An unreachable endpoint is
 * a RelayNotRunningError (exit 1).
 */
import { parseEndpoint } from '../addr.js';
import { UsageError } from '../cli-util.js';

export class RelayNotRunningError extends Error {
  override readonly name = 'RelayNotRunningError';
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format (comments and blank lines skipped). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, '$1');
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    out.push({ name: m[1]!, labels, value: v });
  }
  return out;
}

export class Scrape {
  constructor(
    readonly samples: Sample[],
    readonly at: number,
  ) {}

  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }

  /** Sum over all series of `name` (0 when absent). */
  sum(name: string, where: Record<string, string> = {}): number {
    let t = 0;
    for (const s of this.samples) if (s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)) t += s.value;
    return t;
  }

  /** Series of `name` keyed by one label's value. */
  byLabel(name: string, label: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.samples) if (s.name === name && s.labels[label] !== undefined) out[s.labels[label]!] = (out[s.labels[label]!] ?? 0) + s.value;
    return out;
  }
}

/** http://HOST:PORT/metrics for a --metrics value (HOST:PORT or a full URL). */
export function metricsUrl(v: string | undefined): string {
  if (v === undefined || v === '') throw new UsageError('--metrics HOST:PORT is required (the relay\'s start --metrics address; set it in relay.yaml)');
  if (/^https?:\/\//.test(v)) return v;
  try {
    const ep = parseEndpoint(v);
    return `http://${ep.host === '0.0.0.0' ? '127.0.0.1' : ep.host}:${ep.port}/metrics`;
  } catch (err) {
    throw new UsageError(`--metrics: ${(err as Error).message}`);
  }
}

export async function scrape(url: string, timeoutMs = 3_000): Promise<Scrape> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new RelayNotRunningError(`no relay metrics at ${url} (${cause ?? (err as Error).message}); is \`toprelay start --metrics\` running?`);
  }
  if (!res.ok) throw new RelayNotRunningError(`${url}: HTTP ${res.status}`);
  return new Scrape(parseProm(await res.text()), Date.now());
}
