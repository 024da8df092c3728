#!/usr/bin/env node
/**
 * `node dist/bench/relay-load.js`: relays under load. Real `toprelay start` processes in a
 * testnet (deploy/testnet.ts, prefix "tvr" unless --prefix): with --hops 3 (default)
 * entry → middle → exit, with --hops 1 a single exit. 2–4 load generator processes
 * (bench/load/gen.ts) in the client namespace together run --circuits in-process client
 * Circuits over plain UDP sockets and push synthetic IPv4 (UDP probes of 64/576/1200 B to an
 * echo responder on inet, plus TCP SYNs answered by inet's kernel with RST) through them for
 * --duration seconds (default 60). The exit writes them to its TUN and NATs them to inet.
 *
 * Added latency = tunnel UDP RTT − direct UDP RTT (client → inet outside the tunnel, probed
 * during the same run), at p50 and p99. Relay RSS and CPU come from /proc/<pid> sampled each
 * second; drops from each relay's metrics (topvpn_relay_drops_total) before/after, the
 * circuits' own drop counters, and probes never answered.
 *
 * With --iperf, a real `topvpn connect` client also runs iperf3 TCP to inet through its own
 * circuit over the same relays for the whole run (iperf_tcp_mbps); the direct probes then
 * come from the entry host, since the client host's traffic to inet enters the tunnel.
 *
 * Progress on stderr; stdout gets exactly one JSON line:
 * {"circuits","duration_s","mbps","p50_added_ms","p99_added_ms","relay_rss_mb","relay_cpu_pct","drops":{…},…}
 * relay_rss_mb is the peak RSS of the busiest relay, relay_cpu_pct the average CPU of the
 * busiest relay over the run (100 = one core).
 */
import { Command, InvalidArgumentError } from 'commander';
import { distBin } from '../common/paths.js';
import { diffCounts, relayDrops } from '../deploy/prom-text.js';
import type { Proc } from '../deploy/procs.js';
import { Testnet } from '../deploy/testnet.js';
import { circuitPath, connectClient, startRelay, topvpnBuilt, writeRelayList, type ClientSession, type RelayNode } from '../deploy/topvpn.js';
import { startIperf } from '../deploy/traffic.js';
import { INET_IP } from '../deploy/topology.js';
import { LatencyHist, type HistJson } from './load/hist.js';
import { ProcSampler } from './load/proc-stat.js';

class LoadBenchError extends Error {
  override readonly name = 'LoadBenchError';
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer ${min}..${max}`);
    return n;
  };
}

const opts = new Command()
  .name('bench-relay-load')
  .option('--duration <s>', 'seconds of load', intArg(5, 3600), 60)
  .option('--circuits <n>', 'concurrent circuits in total', intArg(1, 240), 100)
  .option('--generators <n>', 'load generator processes', intArg(1, 8), 4)
  .option('--hops <n>', '1 (single exit relay) or 3 (entry, middle, exit)', intArg(1, 3), 3)
  .option('--pps <n>', 'UDP probes per second per circuit', intArg(1, 10_000), 50)
  .option('--window <n>', 'most UDP probes outstanding per circuit', intArg(1, 1000), 8)
  .option('--tcp-interval-ms <ms>', 'one TCP SYN per circuit every MS (0 = none)', intArg(0, 60_000), 500)
  .option('--direct-pps <n>', 'direct (untunnelled) probes per second', intArg(1, 1000), 20)
  .option('--iperf', 'also run a real `topvpn connect` client with iperf3 TCP through its own circuit for the whole run (direct probes then come from the entry host)')
  .option('--prefix <p>', 'network namespace prefix', 'tvr')
  .parse()
  .opts<{ duration: number; circuits: number; generators: number; hops: number; pps: number; window: number; tcpIntervalMs: number; directPps: number; iperf?: boolean; prefix: string }>();

const ECHO_PORT = 7777;
const METRICS_PORT = 9464;
const say = (m: string): void => {
  process.stderr.write(`[bench:relay-load] ${m}\n`);
};
const round = (x: number, d = 2): number | null => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

interface GenResult {
  circuits: number;
  down: number;
  elapsed_s: number;
  cpu_pct: number;
  txBytes: number;
  rxBytes: number;
  txPkts: number;
  rxPkts: number;
  lost: number;
  tcpSent: number;
  tcpAnswered: number;
  tcpLost: number;
  directSent: number;
  directLost: number;
  unknownReplies: number;
  socketErrors: number;
  udp_hist: HistJson;
  tcp_hist: HistJson;
  direct_hist: HistJson;
  client_drops: Record<string, number>;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new LoadBenchError('needs root (network namespaces)');
  if (!topvpnBuilt()) throw new LoadBenchError('build first: npx tsc -p tsconfig.json');
  const hops = opts.hops === 1 ? 1 : 3;
  const net = await Testnet.create({ prefix: opts.prefix, relays: hops, inetServices: opts.iperf === true, onProgress: say });
  try {
    const relays: RelayNode[] = await Promise.all(
      net.relays.map((h, i) =>
        startRelay(net, h, { exit: i === net.relays.length - 1, extraArgs: ['--metrics', `${h.ip}:${METRICS_PORT}`, '--stats-interval', '0', '--log-level', 'warn'] }),
      ),
    );
    const pids = await Promise.all(relays.map(async (r) => Number((await r.proc.waitForEvent('listening', 1000))['pid'] ?? r.proc.pid)));
    const metricsUrl = (r: RelayNode): string => `http://${r.host.ip}:${METRICS_PORT}/metrics`;
    const echo = net.spawn(net.inet, [process.execPath, distBin('bench/load/echo'), '--port', String(ECHO_PORT)], { label: 'inet:echo' });
    await echo.waitForEvent('listening', 10_000);
    const path = circuitPath(relays, hops);
    const list = writeRelayList(net, path, 'load-relays.json');
    say(`relays up (${relays.map((r) => `${r.host.name} pid ${r.proc.pid}`).join(', ')}); building ${opts.circuits} circuits of ${hops} hop(s) in ${opts.generators} generators`);

    // With a real client up, the client's own traffic to inet goes through its TUN, so the
    // untunnelled baseline is probed from the entry host (same bridge, same one-veth path).
    let session: ClientSession | undefined;
    if (opts.iperf) {
      session = await connectClient(net, relays, { hops, timeoutMs: 60_000 });
      say(`real client up: ${session.up.address} (${hops} hop(s))`);
    }
    const gens: Proc[] = [];
    if (session) {
      const entryHost = path[0]!.host;
      gens.push(
        net.spawn(
          entryHost,
          [process.execPath, distBin('bench/load/gen'), '--relays', list, '--circuits', '0', '--id', '99', '--echo', `${INET_IP}:${ECHO_PORT}`, '--duration', String(opts.duration), '--tcp-interval-ms', '0', '--direct-pps', String(opts.directPps), '--bind', entryHost.ip],
          { label: `${entryHost.name}:direct-prober` },
        ),
      );
    }
    for (let g = 0; g < opts.generators; g++) {
      const n = Math.floor(opts.circuits / opts.generators) + (g < opts.circuits % opts.generators ? 1 : 0);
      if (n === 0) continue;
      gens.push(
        net.spawn(
          net.client,
          [
            process.execPath,
            distBin('bench/load/gen'),
            ...['--relays', list, '--circuits', String(n), '--id', String(g), '--echo', `${INET_IP}:${ECHO_PORT}`],
            ...['--pps', String(opts.pps), '--window', String(opts.window), '--tcp-interval-ms', String(opts.tcpIntervalMs), '--duration', String(opts.duration)],
            ...['--direct-pps', g === 0 && !session ? String(opts.directPps) : '0', '--bind', net.client.ip],
          ],
          { label: `client:gen${g}` },
        ),
      );
    }
    const ready = await Promise.all(gens.map((p) => p.waitForEvent('ready', 180_000)));
    const built = ready.reduce((s, r) => s + Number(r['circuits']), 0);
    const buildFailures = ready.reduce((s, r) => s + Number(r['buildFailures']), 0);
    say(`${built} circuits up (${buildFailures} failed to build); load for ${opts.duration} s`);

    const drops0 = await Promise.all(relays.map((r) => relayDrops(net, r.host, metricsUrl(r))));
    const samplers = pids.map((pid) => new ProcSampler(pid));
    const results = gens.map((p) => p.waitForEvent('result', (opts.duration + 90) * 1000));
    for (const p of gens) p.signal('SIGUSR1');
    const iperf = session ? startIperf(net, net.client, opts.duration, () => undefined) : undefined;
    iperf?.done.catch(() => undefined); // awaited below; a teardown after another failure must not crash us
    let res: GenResult[];
    try {
      res = (await Promise.all(results)) as unknown as GenResult[];
    } catch (err) {
      for (const p of gens) say(`${p.label} stderr tail: ${p.lines('stderr').slice(-8).join(' | ')}`);
      throw err;
    }
    let iperfMbps = Number.NaN;
    if (iperf) {
      try {
        iperfMbps = (await iperf.done).mbps;
      } catch (err) {
        say(`iperf3: ${(err as Error).message}`);
      }
    }
    const usage = samplers.map((s) => s.stop());
    const drops1 = await Promise.all(relays.map((r) => relayDrops(net, r.host, metricsUrl(r))));

    const udp = new LatencyHist();
    const tcp = new LatencyHist();
    const direct = new LatencyHist();
    const clientDrops: Record<string, number> = {};
    const sum = (k: keyof GenResult): number => res.reduce((s, r) => s + Number(r[k]), 0);
    for (const r of res) {
      udp.merge(r.udp_hist);
      tcp.merge(r.tcp_hist);
      direct.merge(r.direct_hist);
      for (const [k, v] of Object.entries(r.client_drops)) clientDrops[k] = (clientDrops[k] ?? 0) + v;
    }
    const dur = Math.max(...res.map((r) => r.elapsed_s));
    const mbpsUp = (sum('txBytes') * 8) / dur / 1e6;
    const mbpsDown = (sum('rxBytes') * 8) / dur / 1e6;
    const relayDropsBy: Record<string, Record<string, number>> = {};
    relays.forEach((r, i) => {
      relayDropsBy[r.host.name] = diffCounts(drops0[i]!, drops1[i]!);
    });
    const relayUsage = Object.fromEntries(
      relays.map((r, i) => [r.host.name, { rss_mb: round(usage[i]!.rssMaxMb, 1), cpu_pct: round(usage[i]!.cpuAvgPct, 1), cpu_max_pct: round(usage[i]!.cpuMaxPct, 1) }]),
    );
    const out = {
      circuits: built + (session ? 1 : 0),
      hops,
      duration_s: round(dur, 1),
      mbps: round(mbpsUp + mbpsDown, 1),
      mbps_up: round(mbpsUp, 1),
      mbps_down: round(mbpsDown, 1),
      pps: round((sum('txPkts') + sum('rxPkts')) / dur, 0),
      p50_added_ms: round(udp.quantile(0.5) - direct.quantile(0.5), 3),
      p99_added_ms: round(udp.quantile(0.99) - direct.quantile(0.99), 3),
      tunnel_udp_rtt_ms: { p50: round(udp.quantile(0.5), 3), p99: round(udp.quantile(0.99), 3), n: udp.count },
      tunnel_tcp_rtt_ms: { p50: round(tcp.quantile(0.5), 3), p99: round(tcp.quantile(0.99), 3), n: tcp.count },
      direct_udp_rtt_ms: { p50: round(direct.quantile(0.5), 3), p99: round(direct.quantile(0.99), 3), n: direct.count },
      iperf_tcp_mbps: round(iperfMbps, 1),
      relay_rss_mb: round(Math.max(...usage.map((u) => u.rssMaxMb)), 1),
      relay_cpu_pct: round(Math.max(...usage.map((u) => u.cpuAvgPct)), 1),
      relays: relayUsage,
      generator_cpu_pct: round(sum('cpu_pct'), 1),
      drops: {
        relay: relayDropsBy,
        client: clientDrops,
        udp_probes_lost: sum('lost'),
        udp_probes_sent: sum('txPkts') - sum('tcpSent'),
        tcp_probes_lost: sum('tcpLost'),
        tcp_probes_sent: sum('tcpSent'),
        direct_lost: sum('directLost'),
        unmatched_replies: sum('unknownReplies'),
        generator_socket_errors: sum('socketErrors'),
        circuits_down: sum('down'),
        build_failures: buildFailures,
      },
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await net.teardown();
  }
}

main().catch((err: unknown) => {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
