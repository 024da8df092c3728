#!/usr/bin/env node
/**
 * `npm start`: brings up the local testnet (prefix "tvs", one network namespace per host,
 * see deploy/testnet.ts), starts the relays, connects the client through `--hops` of them,
 * pushes real traffic for `--duration` seconds (an HTTP download, then iperf3) from the
 * client namespace, prints progress and a live summary on stderr, tears everything down
 * (also on Ctrl-C: the first stops the traffic early, a second one forces teardown) and
 * prints one JSON summary as the last line of stdout.
 * Exit code: 0 if traffic went through the tunnel, 1 otherwise, 2 on bad flags, 130 if
 * interrupted.
 * (First version: no chain, no payments yet.)
 */
import { Command, InvalidArgumentError } from 'commander';
import { inetUrl, Testnet } from './testnet.js';
import { connectClient, startRelays, topvpnBuilt, type ClientSession } from './topvpn.js';
import { MAX_RELAYS } from './topology.js';
import { httpDownload, startIperf, type IperfInterval, type IperfRun } from './traffic.js';

interface Summary {
  hops: number;
  relays: number;
  build_ms: number | null;
  client_address: string | null;
  exit_seen_as: string | null;
  http_ok: boolean;
  http_mbps: number | null;
  iperf_mbps: number | null;
  bytes: number;
  duration_s: number;
  interrupted: boolean;
  error?: string;
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer ${min}..${max}`);
    return n;
  };
}

const program = new Command()
  .name('topvpn-testnet')
  .description('Local topvpn network in network namespaces, with real traffic through a circuit')
  .option('--duration <s>', 'seconds of traffic', intArg(3, 3600), 15)
  .option('--relays <n>', 'relay hosts (the last is the exit)', intArg(1, MAX_RELAYS), 3)
  .option('--hops <n>', 'circuit length', intArg(1, 3), 3)
  .option('--prefix <p>', 'network namespace name prefix', 'tvs')
  .option('--download-mb <n>', 'size of the HTTP download (MiB)', intArg(1, 4096), 32)
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
program.parse();
const opts = program.opts<{ duration: number; relays: number; hops: number; prefix: string; downloadMb: number }>();

const say = (m: string): void => {
  process.stderr.write(`[topvpn] ${m}\n`);
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<number> {
  if (opts.hops > opts.relays) {
    say(`--hops ${opts.hops} needs at least as many relays (--relays ${opts.relays})`);
    return 2;
  }
  if (!topvpnBuilt()) {
    say('dist/relay/cli.js or dist/client/cli.js missing: run `npx tsc -p tsconfig.json` first');
    return 1;
  }
  const summary: Summary = {
    hops: opts.hops,
    relays: opts.relays,
    build_ms: null,
    client_address: null,
    exit_seen_as: null,
    http_ok: false,
    http_mbps: null,
    iperf_mbps: null,
    bytes: 0,
    duration_s: 0,
    interrupted: false,
  };
  let net: Testnet | undefined;
  let iperf: IperfRun | undefined;
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    summary.interrupted = true;
    if (interrupts === 1) {
      say(`${sig}: stopping traffic and tearing down (again to force)`);
      iperf?.proc.signal('SIGINT');
    } else {
      say(`${sig}: forcing teardown`);
      void (net?.teardown() ?? Promise.resolve()).finally(() => process.exit(130));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  try {
    say(`building testnet: prefix ${opts.prefix}, ${opts.relays} relays, client, inet`);
    net = await Testnet.create({ prefix: opts.prefix, relays: opts.relays, handleSignals: false, onProgress: say });
    if (summary.interrupted) return 1;
    const relays = await startRelays(net);
    say(`relays up: ${relays.map((r) => `${r.host.name}${r.exit ? '(exit)' : ''}@${r.endpoint} ${r.publicKey.slice(0, 8)}…`).join(', ')}`);
    if (summary.interrupted) return 1;
    const session: ClientSession = await connectClient(net, relays, { hops: opts.hops });
    summary.build_ms = round(session.up.buildMs);
    summary.client_address = session.up.address;
    say(`circuit up: ${session.up.hops} hops in ${round(session.up.buildMs)} ms, client inner address ${session.up.address}`);

    const trafficStart = Date.now();
    const ip = JSON.parse((await net.exec(net.client, ['curl', '-sS', '--fail', '--max-time', '10', inetUrl('/ip')])).stdout) as { remote?: string };
    summary.exit_seen_as = ip.remote ?? null;
    const exitIp = net.host('exit').ip;
    say(`inet sees the client as ${ip.remote} (exit relay is ${exitIp})`);
    if (!summary.interrupted) {
      const dl = await httpDownload(net, net.client, inetUrl(`/bytes/${opts.downloadMb * 1024 * 1024}`));
      summary.http_ok = ip.remote === exitIp && dl.bytes === opts.downloadMb * 1024 * 1024;
      summary.http_mbps = round(dl.mbps);
      summary.bytes += dl.bytes;
      say(`HTTP download: ${dl.bytes} B in ${round(dl.seconds, 2)} s = ${round(dl.mbps)} Mbit/s through ${opts.hops} hops`);
    }
    const left = Math.max(2, Math.round(opts.duration - (Date.now() - trafficStart) / 1000));
    if (!summary.interrupted) {
      say(`iperf3 for ${left} s …`);
      let total = summary.bytes;
      iperf = startIperf(net, net.client, left, (iv: IperfInterval) => {
        total += iv.bytes;
        say(`[${iv.end.toFixed(0).padStart(3)} s] ${round(iv.mbps).toString().padStart(7)} Mbit/s | hops ${opts.hops} | circuit build ${summary.build_ms} ms | ${round(total / 1e6)} MB carried`);
      });
      const sum = await iperf.done;
      summary.iperf_mbps = round(sum.mbps);
      summary.bytes += Math.round(sum.bytes);
      say(`iperf3: ${round(sum.mbps)} Mbit/s over ${round(sum.end - sum.start)} s`);
    }
    summary.duration_s = round((Date.now() - trafficStart) / 1000);
    try {
      const { path: _path, ...st } = await session.status();
      say(`client status: ${JSON.stringify(st).slice(0, 400)}`);
    } catch (err) {
      say(`client status failed: ${(err as Error).message}`);
    }
    const d = await session.disconnect();
    say(`client disconnected (exit code ${d.exit.code})`);
  } catch (err) {
    summary.error = (err as Error).message.split('\n')[0] ?? 'error';
    say(`failed: ${(err as Error).message}`);
  } finally {
    await net?.teardown();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  say(`done in ${round((Date.now() - t0) / 1000)} s`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (summary.interrupted) return 130;
  return summary.http_ok && summary.iperf_mbps !== null ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`fatal: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
