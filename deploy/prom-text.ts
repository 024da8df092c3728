/**
 * Reading Prometheus text exposition (what `toprelay start --metrics` serves), enough for
 * tests and benchmarks: one counter/gauge family, summed by one label.
 */
import type { Host, Testnet } from './testnet.js';

export class PromTextError extends Error {
  override readonly name = 'PromTextError';
}

/**
 * Sums the samples of metric `name` (exact family name, no suffix matching) by the value of
 * `label` ('' when a sample lacks it). Lines: `name{a="x",b="y"} 12` or `name 12`.
 */
export function sumByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = m[2] ?? '';
    const lm = new RegExp(`[{,]\\s*${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(labels);
    const key = lm?.[1] ?? '';
    const v = Number(m[3]);
    if (!Number.isFinite(v)) throw new PromTextError(`${name}: bad value in "${line}"`);
    out[key] = (out[key] ?? 0) + v;
  }
  return out;
}

/** GETs a metrics URL with curl from inside a testnet host and returns the body. */
export async function scrape(net: Testnet, host: Host | string, url: string): Promise<string> {
  const r = await net.exec(host, ['curl', '-sS', '--fail', '--max-time', '5', url], { timeoutMs: 10_000 });
  return r.stdout;
}

/** topvpn_relay_drops_total by reason, scraped from a relay's metrics URL. */
export async function relayDrops(net: Testnet, host: Host | string, url: string): Promise<Record<string, number>> {
  return sumByLabel(await scrape(net, host, url), 'topvpn_relay_drops_total', 'reason');
}

/** b − a per key (keys of either). */
export function diffCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = (b[k] ?? 0) - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

export function total(c: Record<string, number>): number {
  return Object.values(c).reduce((s, v) => s + v, 0);
}
