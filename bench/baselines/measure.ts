/**
 * Measurements run from a testnet host: iperf3 TCP throughput and ping RTT. Parsers are
 * exported separately (pure) so they can be unit-tested on recorded output.
 */
import type { Host, Testnet } from '../../deploy/testnet.js';
import { IPERF_PORT } from '../../deploy/topology.js';

export class MeasureError extends Error {
  override readonly name = 'MeasureError';
}

/** Receiver-side throughput (Mbit/s) from `iperf3 -J` output. */
export function parseIperfJson(out: string): { mbps: number; bytes: number; retransmits: number | undefined } {
  let doc: unknown;
  try {
    doc = JSON.parse(out);
  } catch {
    throw new MeasureError(`iperf3: output is not JSON: ${out.slice(0, 200)}`);
  }
  const d = doc as { error?: string; end?: { sum_received?: { bits_per_second?: number; bytes?: number }; sum_sent?: { retransmits?: number } } };
  if (d.error) throw new MeasureError(`iperf3: ${d.error}`);
  const recv = d.end?.sum_received;
  if (typeof recv?.bits_per_second !== 'number' || typeof recv.bytes !== 'number') throw new MeasureError('iperf3: no end.sum_received in output');
  return { mbps: recv.bits_per_second / 1e6, bytes: recv.bytes, retransmits: d.end?.sum_sent?.retransmits };
}

/** Per-packet RTTs (ms) from ping's output ("time=0.061 ms" lines). */
export function parsePingRtts(out: string): number[] {
  return [...out.matchAll(/time[=<]([\d.]+) ?ms/g)].map((m) => Number(m[1]));
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new MeasureError('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One iperf3 TCP run from `host` to `serverIp` (the inet host's `iperf3 -s`). */
export async function iperfTcp(net: Testnet, host: Host | string, serverIp: string, seconds: number): Promise<{ mbps: number; bytes: number; retransmits: number | undefined }> {
  const r = await net.exec(host, ['iperf3', '-c', serverIp, '-p', String(IPERF_PORT), '-t', String(seconds), '-J', '--connect-timeout', '5000'], {
    allowFail: true,
    timeoutMs: (seconds + 30) * 1000,
  });
  return parseIperfJson(r.stdout);
}

/** Median RTT (ms) of `count` pings from `host` to `ip`. */
export async function pingMedian(net: Testnet, host: Host | string, ip: string, count = 20): Promise<number> {
  const r = await net.exec(host, ['ping', '-n', '-c', String(count), '-i', '0.1', '-W', '2', ip], { allowFail: true, timeoutMs: count * 2000 + 5000 });
  const rtts = parsePingRtts(r.stdout);
  if (rtts.length === 0) throw new MeasureError(`ping ${ip}: no replies: ${r.stdout.slice(-200)} ${r.stderr.slice(-200)}`);
  return median(rtts);
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
