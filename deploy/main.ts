#!/usr/bin/env node
/**
 * `npm start`: pay per byte, end to end, on one machine. Brings up the local testnet (prefix
 * "tvs", one network namespace per host, see deploy/testnet.ts) with a chain host running a
 * devnet (`--shards` × `--group` validators + auditors, deploy/chain-net.ts), registers the
 * relays on chain (deposit + price; their accounts and the client's are funded at genesis),
 * starts them paid (--chain-rpc) publishing signed descriptors over libp2p (a country each,
 * their own operator id; the first relay is the others' bootstrap peer), connects the client
 * with only that bootstrap peer and the chain RPC (no relay list: it discovers the relays,
 * checks them on chain and picks its own `--hops` path; one channel per hop), pushes real traffic for `--duration` seconds (an HTTP download, then
 * iperf3) with a live summary (throughput, hops, receipts, claims) on stderr, then settles:
 * the client closes its channels, the relays' watchtowers and shutdown claims claim, the
 * challenge window passes, the payer finalizes (refund), and the supply is checked on every
 * node. The last stdout line is one JSON object:
 *   {"client_bytes","relay_bytes":[…],"paid","claimed","burned","refunded","claim_txs","supply_ok"}
 * (token amounts as decimal strings of base units), plus details on the lines before it.
 * The first stdout line (the traffic summary) also names the relays discovered and the path's
 * countries. `--no-discovery` gives the client a hand-written --relays list instead.
 * `--no-chain` runs the unpaid network of the first version (a list, no discovery).
 * Ctrl-C: the first stops the traffic early (settlement still runs), a second forces teardown.
 * Exit code: 0 if traffic went through the tunnel (and, paid, settled with the supply intact),
 * 1 otherwise, 2 on bad flags, 130 if interrupted.
 */
import { Command, InvalidArgumentError } from 'commander';
import { inetUrl, Testnet } from './testnet.js';
import { connectClient, discoveryReport, startRelays, topvpnBuilt, type ClientSession, type RelayNode } from './topvpn.js';
import { MAX_RELAYS } from './topology.js';
import { httpDownload, startIperf, type IperfInterval, type IperfRun } from './traffic.js';
import { connectPaid, settle, startPaidNetwork, summaryJson, type PaidNetwork, type Settlement } from './paid-network.js';
import { DEFAULT_BUDGET, DEFAULT_PRICE_PER_GIB } from './economy.js';

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
  /** Relays the client's directory held after syncing (null: it was given a list). */
  discovered_relays: number | null;
  /** The countries of the path the client chose, entry first (null: it was given a list). */
  path_countries: string[] | null;
  error?: string;
}

function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer ${min}..${max}`);
    return n;
  };
}

function baseUnits(v: string): bigint {
  if (!/^\d{1,30}$/.test(v)) throw new InvalidArgumentError('must be a whole number of base units');
  return BigInt(v);
}

const program = new Command()
  .name('topvpn-testnet')
  .description('Local topvpn network in network namespaces: a devnet chain, paid relays, a paying client and real traffic')
  .option('--duration <s>', 'seconds of traffic', intArg(3, 3600), 20)
  .option('--relays <n>', 'relay hosts (the last is the exit)', intArg(1, MAX_RELAYS), 3)
  .option('--hops <n>', 'circuit length', intArg(1, 3), 3)
  .option('--prefix <p>', 'network namespace name prefix', 'tvs')
  .option('--download-mb <n>', 'size of the HTTP download (MiB)', intArg(1, 4096), 32)
  .option('--shards <n>', 'devnet shards', intArg(1, 4), 2)
  .option('--group <n>', 'validators per shard (and auditors)', intArg(1, 7), 4)
  .option('--price-per-gib <n>', 'relay price, base units per GiB', baseUnits, DEFAULT_PRICE_PER_GIB)
  .option('--budget <n>', 'client budget (deposits + open fees), base units', baseUnits, DEFAULT_BUDGET)
  .option('--no-chain', 'no chain and no payments (the unpaid network)')
  .option('--no-discovery', 'give the client a --relays list instead of relay discovery over libp2p')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
program.parse();
const opts = program.opts<{ duration: number; relays: number; hops: number; prefix: string; downloadMb: number; shards: number; group: number; pricePerGib: bigint; budget: bigint; chain: boolean; discovery: boolean }>();

const say = (m: string): void => {
  process.stderr.write(`[topvpn] ${m}\n`);
};
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

interface PayLive {
  receipts: number;
  acked: number;
  held: number;
}

/** Receipts signed / acknowledged over all hops, from `topvpn status`. */
function payLive(st: Record<string, unknown>): PayLive {
  const p = st['payments'] as { held?: number; hops?: Array<{ signed?: number; bestAckedSeq?: number }> } | undefined;
  const hops = p?.hops ?? [];
  return { receipts: hops.reduce((a, h) => a + (h.signed ?? 0), 0), acked: hops.reduce((a, h) => a + (h.bestAckedSeq ?? 0), 0), held: p?.held ?? 0 };
}

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
    discovered_relays: null,
    path_countries: null,
  };
  let net: Testnet | undefined;
  let pn: PaidNetwork | undefined;
  let iperf: IperfRun | undefined;
  let settlement: Settlement | undefined;
  let clientBytes = 0;
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    summary.interrupted = true;
    if (interrupts === 1) {
      say(`${sig}: stopping traffic${pn ? ', then settling' : ''} and tearing down (again to force)`);
      iperf?.proc.signal('SIGINT');
    } else {
      say(`${sig}: forcing teardown`);
      void (pn?.chain.stop() ?? Promise.resolve()).finally(() => void (net?.teardown() ?? Promise.resolve()).finally(() => process.exit(130)));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const t0 = Date.now();
  try {
    say(`building testnet: prefix ${opts.prefix}, ${opts.relays} relays, client, inet${opts.chain ? ', chain' : ''}`);
    net = await Testnet.create({ prefix: opts.prefix, relays: opts.relays, handleSignals: false, onProgress: say, chain: opts.chain });
    if (summary.interrupted) return 1;
    let relays: RelayNode[];
    let fromHeight = 0;
    if (opts.chain) {
      pn = await startPaidNetwork(net, { shards: opts.shards, group: opts.group, pricePerGiB: opts.pricePerGib, budget: opts.budget, discovery: opts.discovery, onProgress: say });
      relays = pn.relays;
      fromHeight = await pn.chain.finalHeight(pn.chain.urls[0]!, pn.payerChain);
    } else {
      relays = await startRelays(net);
    }
    say(`relays up: ${relays.map((r) => `${r.host.name}${r.exit ? '(exit)' : ''}@${r.endpoint} ${r.publicKey.slice(0, 8)}…${r.address ? ` paid to ${r.address.slice(0, 8)}…` : ''}`).join(', ')}`);
    if (summary.interrupted) return 1;
    if (pn) say(`client ${pn.wallet.address.slice(0, 12)}… ${pn.discovery ? 'discovers the relays (bootstrap peer + chain, no relay list), picks its path, ' : ''}opens one channel per hop (budget ${opts.budget} base units), then builds the circuit`);
    const session: ClientSession = pn ? await connectPaid(pn, opts.hops) : await connectClient(net, relays, { hops: opts.hops });
    summary.build_ms = round(session.up.buildMs);
    summary.client_address = session.up.address;
    const found = pn?.discovery ? discoveryReport(session.proc) : undefined;
    if (pn?.discovery && !found) throw new Error('the client printed no discovery/path events');
    if (found) {
      summary.discovered_relays = found.relays;
      summary.path_countries = found.path.map((h) => h.country);
      const hostOf = (a: string): string => relays.find((r) => r.address === a)?.host.name ?? a.slice(0, 8);
      say(`client discovered ${found.relays} relays from ${found.peers} peer(s); chose ${found.path.map((h) => `${h.role} on host ${hostOf(h.address)} (${h.country})`).join(' → ')}`);
    }
    say(`circuit up${pn ? ' and paid' : ''}: ${session.up.hops} hops in ${round(session.up.buildMs)} ms, client inner address ${session.up.address}`);

    let live: PayLive = { receipts: 0, acked: 0, held: 0 };
    const poll = pn
      ? setInterval(() => {
          void session.status().then(
            (st) => (live = payLive(st)),
            () => undefined,
          );
        }, 2000)
      : undefined;
    const pathTail = found ? ` | discovered ${found.relays}, path ${found.path.map((h) => h.country).join('→')}` : '';
    const liveTail = (): string => (pn ? ` | receipts ${live.receipts} signed, ${live.acked} acked | claims ${pn.claimsSeen()}${pathTail}` : '');

    const trafficStart = Date.now();
    try {
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
          say(`[${iv.end.toFixed(0).padStart(3)} s] ${round(iv.mbps).toString().padStart(7)} Mbit/s | hops ${opts.hops} | ${round(total / 1e6)} MB carried${liveTail()}`);
        });
        const sum = await iperf.done;
        summary.iperf_mbps = round(sum.mbps);
        summary.bytes += Math.round(sum.bytes);
        say(`iperf3: ${round(sum.mbps)} Mbit/s over ${round(sum.end - sum.start)} s`);
      }
    } finally {
      if (poll) clearInterval(poll);
    }
    summary.duration_s = round((Date.now() - trafficStart) / 1000);
    try {
      const { path: _path, ...st } = await session.status();
      clientBytes = Number(st['bytesIn'] ?? 0) + Number(st['bytesOut'] ?? 0);
      if (pn) {
        live = payLive(st);
        say(`client: ${round(clientBytes / 1e6)} MB through the tunnel, ${live.receipts} receipts signed, ${live.held} packets held for payment`);
      } else say(`client status: ${JSON.stringify(st).slice(0, 400)}`);
    } catch (err) {
      say(`client status failed: ${(err as Error).message}`);
    }
    if (pn) {
      settlement = await settle(pn, session, fromHeight, say);
      for (const c of settlement.channels) {
        say(`channel ${c.channelId.slice(0, 12)}… relay ${c.relay.slice(0, 8)}…: deposit ${c.deposit}, promised ${c.promised}, claimed ${c.claimed} for ${c.claimedBytes} B, refunded ${c.refunded} (${c.status})`);
      }
      say(`claims submitted by the relays: ${Object.entries(pn.claimReasons()).map(([r, n]) => `${n} ${r}`).join(', ') || 'none'}`);
      for (const k of settlement.claims) say(`claim at ${pn.payerChain}#${k.height} by ${k.relay.slice(0, 8)}…: ${k.delta} paid, ${k.burn} burned, fee ${k.fee}`);
      for (const r of settlement.relays) say(`relay ${r.host}: served ${r.servedBytes} B on paid circuits, receipted ${r.receiptedBytes} B (exit code ${r.exitCode})`);
      say(`supply invariant per node: ${settlement.supply.map((ok) => (ok ? 'ok' : 'BROKEN')).join(' ')}`);
    } else {
      const d = await session.disconnect();
      say(`client disconnected (exit code ${d.exit.code})`);
    }
  } catch (err) {
    summary.error = (err as Error).message.split('\n')[0] ?? 'error';
    say(`failed: ${(err as Error).message}`);
  } finally {
    await pn?.chain.stop();
    await net?.teardown();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  say(`done in ${round((Date.now() - t0) / 1000)} s`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (opts.chain) {
    const last = settlement
      ? summaryJson(settlement, clientBytes)
      : { client_bytes: clientBytes, relay_bytes: [], paid: '0', claimed: '0', burned: '0', refunded: '0', claim_txs: 0, supply_ok: false };
    process.stdout.write(`${JSON.stringify(last)}\n`);
  }
  if (summary.interrupted) return 130;
  const trafficOk = summary.http_ok && summary.iperf_mbps !== null;
  if (!opts.chain) return trafficOk ? 0 : 1;
  return trafficOk && settlement !== undefined && settlement.supply.every(Boolean) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`fatal: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
