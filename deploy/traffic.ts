/**
 * Real traffic from a testnet host: a timed HTTP download with curl, and a live iperf3 run
 * whose per-second intervals are reported as they arrive. Parsers are pure and exported.
 */
import type { Proc } from './procs.js';
import type { Host, Testnet } from './testnet.js';
import { INET_IP, IPERF_PORT } from './topology.js';

export class TrafficError extends Error {
  override readonly name = 'TrafficError';
}

export interface IperfInterval {
  /** Interval start and end, seconds since the test began. */
  start: number;
  end: number;
  bytes: number;
  mbps: number;
  /** Set on iperf3's closing summary lines. */
  role?: 'sender' | 'receiver';
}

const UNIT: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
const BYTE_UNIT: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * Parses one line of iperf3's text report, e.g.
 * "[  5]   0.00-1.00   sec   112 MBytes   941 Mbits/sec    0   1.20 MBytes" or the closing
 * "... sec  1.09 GBytes   938 Mbits/sec                  receiver". Other lines → undefined.
 */
export function parseIperfLine(line: string): IperfInterval | undefined {
  const m = /^\[\s*(?:\d+|SUM)\]\s+([\d.]+)-([\d.]+)\s+sec\s+([\d.]+)\s+([KMGT]?)Bytes\s+([\d.]+)\s+([KMGT]?)bits\/sec(.*)$/.exec(line.trim());
  if (!m) return undefined;
  const tail = m[7] ?? '';
  const iv: IperfInterval = {
    start: Number(m[1]),
    end: Number(m[2]),
    bytes: Number(m[3]) * (BYTE_UNIT[m[4] ?? ''] ?? 1),
    mbps: (Number(m[5]) * (UNIT[m[6] ?? ''] ?? 1)) / 1e6,
  };
  if (/\breceiver\b/.test(tail)) iv.role = 'receiver';
  else if (/\bsender\b/.test(tail)) iv.role = 'sender';
  return iv;
}

export interface IperfRun {
  proc: Proc;
  /** Resolves with the receiver summary (else the sender's) once iperf3 ends; rejects if neither was printed. */
  done: Promise<IperfInterval>;
}

/** Starts `iperf3 -c` from `host` for `seconds`, calling `onInterval` for each 1 s report. */
export function startIperf(net: Testnet, host: Host | string, seconds: number, onInterval: (iv: IperfInterval) => void, server = INET_IP): IperfRun {
  const proc = net.spawn(host, ['iperf3', '-c', server, '-p', String(IPERF_PORT), '-t', String(seconds), '-i', '1', '--forceflush', '-f', 'm', '--connect-timeout', '5000'], { label: 'client:iperf3' });
  let summary: IperfInterval | undefined;
  let sender: IperfInterval | undefined;
  proc.onLine((line, stream) => {
    if (stream !== 'stdout') return;
    const iv = parseIperfLine(line);
    if (!iv) return;
    if (iv.role === 'receiver') summary = iv;
    else if (iv.role === 'sender') sender = iv;
    else onInterval(iv);
  });
  const done = proc.exited.then((st) => {
    // An interrupted run reports the receiver as 0 B; the sender's figures are then the best we have.
    const best = summary && summary.bytes > 0 ? summary : sender ?? summary;
    if (best) return best;
    throw new TrafficError(`iperf3 ended (code ${st.code}, signal ${st.signal}) without a summary: ${[...proc.lines('stdout'), ...proc.lines('stderr')].slice(-5).join(' | ')}`);
  });
  return { proc, done };
}

export interface DownloadResult {
  bytes: number;
  seconds: number;
  mbps: number;
}

/** Parses curl's `-w '%{http_code} %{size_download} %{time_total}'` output. */
export function parseCurlWriteOut(out: string): { status: number; bytes: number; seconds: number } {
  const m = /(\d{3})\s+(\d+)\s+([\d.]+)\s*$/.exec(out.trim());
  if (!m) throw new TrafficError(`unexpected curl output: ${out.slice(0, 200)}`);
  return { status: Number(m[1]), bytes: Number(m[2]), seconds: Number(m[3]) };
}

/** Downloads `url` with curl from `host` (body discarded) and times it. */
export async function httpDownload(net: Testnet, host: Host | string, url: string, timeoutS = 60): Promise<DownloadResult> {
  const r = await net.exec(host, ['curl', '-sS', '--fail', '--max-time', String(timeoutS), '-o', '/dev/null', '-w', '%{http_code} %{size_download} %{time_total}', url], {
    timeoutMs: (timeoutS + 5) * 1000,
    allowFail: true,
  });
  if (r.code !== 0) throw new TrafficError(`curl ${url}: exit ${r.code}: ${r.stderr.trim().slice(0, 200)}`);
  const { status, bytes, seconds } = parseCurlWriteOut(r.stdout);
  if (status !== 200) throw new TrafficError(`curl ${url}: HTTP ${status}`);
  return { bytes, seconds, mbps: seconds > 0 ? (bytes * 8) / seconds / 1e6 : 0 };
}
