#!/usr/bin/env node
/**
 * `npm run --silent bench:tunnel`: tunnel throughput and latency against baselines, all in
 * one testnet (deploy/testnet.ts; prefix "tvb" unless --prefix), measured from the client
 * namespace to the inet host:
 *   plain veth (client → inet directly), WireGuard (wireguard-go userspace; kernel WireGuard
 *   only if this kernel can create one), OpenVPN 2.6 (best of CHACHA20-POLY1305 and
 *   AES-256-GCM), topvpn with 1 hop and with 3 hops.
 * Each: iperf3 TCP single stream (--seconds, default 10), median of ~20 pings; topvpn also
 * the circuit build time (median of the 3-hop builds). Progress on stderr; the last stdout
 * line is exactly one JSON object:
 * {"veth_mbps","wireguard_go_mbps","openvpn_mbps","hops1_mbps","hops3_mbps","veth_rtt_ms",
 *  "hops1_rtt_ms","hops3_rtt_ms","circuit_build_ms"} — null where a peer cannot run (the
 * reason is on stderr). `--only veth,wireguard,openvpn,topvpn` runs a subset (the rest stay
 * null) and `--hops 1,3` picks the topvpn circuit lengths, for quick A/B runs.
 */
import { Command, InvalidArgumentError } from 'commander';
import { inetUrl, Testnet } from '../deploy/testnet.js';
import { connectClient, startRelays, topvpnBuilt, type RelayNode } from '../deploy/topvpn.js';
import { INET_IP } from '../deploy/topology.js';
import type { TunnelBaseline } from './baselines/baseline.js';
import { makePki, OPENVPN_CIPHERS, startOpenvpn } from './baselines/openvpn.js';
import { kernelWireguardAvailable, startWireguard } from './baselines/wireguard.js';
import { iperfTcp, median, pingMedian, round } from './baselines/measure.js';

export interface TunnelBenchResult {
  veth_mbps: number | null;
  wireguard_go_mbps: number | null;
  openvpn_mbps: number | null;
  hops1_mbps: number | null;
  hops3_mbps: number | null;
  veth_rtt_ms: number | null;
  hops1_rtt_ms: number | null;
  hops3_rtt_ms: number | null;
  circuit_build_ms: number | null;
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer ${min}..${max}`);
    return n;
  };
}

const opts = new Command()
  .name('bench-tunnel')
  .option('--seconds <s>', 'iperf3 duration per peer', intArg(1, 120), 10)
  .option('--pings <n>', 'pings per RTT median', intArg(3, 200), 20)
  .option('--builds <n>', '3-hop circuit builds for the build-time median', intArg(1, 20), 3)
  .option('--prefix <p>', 'network namespace prefix', 'tvb')
  .option('--only <list>', 'comma-separated subset of veth,wireguard,openvpn,topvpn (default: all)')
  .option('--hops <list>', 'comma-separated topvpn circuit lengths', '1,3')
  .parse()
  .opts<{ seconds: number; pings: number; builds: number; prefix: string; only?: string; hops: string }>();

const only = new Set((opts.only ?? 'veth,wireguard,openvpn,topvpn').split(',').map((s) => s.trim()));
const hopList = opts.hops.split(',').map((s) => Number(s.trim())).filter((n) => n === 1 || n === 3);

const say = (m: string): void => {
  process.stderr.write(`[bench:tunnel] ${m}\n`);
};

async function measureTunnel(net: Testnet, label: string, target: string): Promise<{ mbps: number; rtt: number }> {
  const rtt = await pingMedian(net, net.client, target, opts.pings);
  const ip = await iperfTcp(net, net.client, target, opts.seconds);
  say(`${label}: ${round(ip.mbps)} Mbit/s (retransmits ${ip.retransmits ?? '?'}), median RTT ${round(rtt, 3)} ms`);
  return { mbps: ip.mbps, rtt };
}

async function baseline(net: Testnet, label: string, start: () => Promise<TunnelBaseline>): Promise<{ mbps: number; rtt: number } | null> {
  let b: TunnelBaseline | undefined;
  try {
    b = await start();
    say(`${label}: ${b.impl} up`);
    return await measureTunnel(net, b.impl, b.peerIp);
  } catch (err) {
    say(`${label}: cannot run: ${(err as Error).message.split('\n')[0]}`);
    return null;
  } finally {
    await b?.stop();
  }
}

async function topvpn(net: Testnet, relays: RelayNode[], hops: number, res: TunnelBenchResult, builds: number[]): Promise<void> {
  const key = hops === 1 ? 'hops1' : 'hops3';
  const s = await connectClient(net, relays, { hops });
  try {
    say(`topvpn ${hops} hop(s): circuit built in ${round(s.up.buildMs)} ms`);
    if (hops === 3) builds.push(s.up.buildMs);
    const seen = JSON.parse((await net.exec(net.client, ['curl', '-sS', '--fail', '--max-time', '10', inetUrl('/ip')])).stdout) as { remote?: string };
    if (seen.remote !== net.host('exit').ip) throw new Error(`traffic is not leaving through the exit (inet saw ${seen.remote})`);
    const m = await measureTunnel(net, `topvpn ${hops} hop(s)`, INET_IP);
    res[`${key}_mbps`] = round(m.mbps);
    res[`${key}_rtt_ms`] = round(m.rtt, 3);
  } finally {
    await s.disconnect();
  }
}

async function main(): Promise<TunnelBenchResult> {
  const res: TunnelBenchResult = {
    veth_mbps: null,
    wireguard_go_mbps: null,
    openvpn_mbps: null,
    hops1_mbps: null,
    hops3_mbps: null,
    veth_rtt_ms: null,
    hops1_rtt_ms: null,
    hops3_rtt_ms: null,
    circuit_build_ms: null,
  };
  const net = await Testnet.create({ prefix: opts.prefix, relays: 3, onProgress: say });
  try {
    if (only.has('veth')) {
      const veth = await measureTunnel(net, 'plain veth', INET_IP);
      res.veth_mbps = round(veth.mbps);
      res.veth_rtt_ms = round(veth.rtt, 3);
    }
    if (only.has('wireguard')) await wireguardBaseline(net, res);
    if (only.has('openvpn')) await openvpnBaseline(net, res);
    if (only.has('topvpn')) await topvpnAll(net, res);
    return res;
  } finally {
    await net.teardown();
  }
}

async function wireguardBaseline(net: Testnet, res: TunnelBenchResult): Promise<void> {
  const kernelWg = await kernelWireguardAvailable(net, net.client);
  say(`kernel WireGuard: ${kernelWg ? 'available, used' : 'not available here (ip link add … type wireguard fails); using wireguard-go'}`);
  const wg = await baseline(net, 'wireguard', () => startWireguard(net, net.client, net.inet));
  res.wireguard_go_mbps = wg ? round(wg.mbps) : null;
}

async function openvpnBaseline(net: Testnet, res: TunnelBenchResult): Promise<void> {
  let pkiErr: string | undefined;
  const pki = await makePki(net.dir).catch((err: Error) => {
    pkiErr = err.message;
    return undefined;
  });
  if (pki) {
    const runs: number[] = [];
    for (const cipher of OPENVPN_CIPHERS) {
      const r = await baseline(net, `openvpn ${cipher}`, () => startOpenvpn(net, net.client, net.inet, cipher, pki));
      if (r) runs.push(r.mbps);
    }
    res.openvpn_mbps = runs.length > 0 ? round(Math.max(...runs)) : null;
  } else {
    say(`openvpn: cannot run: PKI: ${pkiErr}`);
  }
}

async function topvpnAll(net: Testnet, res: TunnelBenchResult): Promise<void> {
  if (!topvpnBuilt()) {
    say('topvpn: cannot run: dist/relay/cli.js or dist/client/cli.js missing');
    return;
  }
  let relays: RelayNode[];
  try {
    relays = await startRelays(net);
  } catch (err) {
    say(`topvpn: cannot run: relays did not start: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  const builds: number[] = [];
  for (const hops of hopList) {
    try {
      await topvpn(net, relays, hops, res, builds);
    } catch (err) {
      say(`topvpn ${hops} hop(s): failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  for (let i = builds.length; i > 0 && i < opts.builds; i++) {
    try {
      const s = await connectClient(net, relays, { hops: 3 });
      builds.push(s.up.buildMs);
      await s.disconnect();
    } catch (err) {
      say(`extra 3-hop build failed: ${(err as Error).message.split('\n')[0]}`);
      break;
    }
  }
  if (builds.length > 0) {
    res.circuit_build_ms = round(median(builds));
    say(`3-hop circuit build: ${builds.map((b) => round(b)).join(', ')} ms → median ${res.circuit_build_ms} ms`);
  }
}

main().then(
  (res) => {
    process.stdout.write(`${JSON.stringify(res)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    say(`fatal: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
