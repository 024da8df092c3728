/**
 * `topvpn relays --chain-rpc URL --bootstrap MULTIADDR[,..] [--sort price|latency|bandwidth]
 *                [--exit-country CC] [--max-price TOP] [--exits] [--timeout SEC] [--no-ping] [--json]`
 * Gathers relay descriptors over libp2p (a short-lived DiscoveryNode + Directory checking
 * each relay on chain through RpcChainView), measures each relay's handshake round trip
 * (ping.ts) and lists the candidates: country, price, latency, bandwidth, stake, exit.
 * Exit 1 when no bootstrap peer could be reached.
 */
import type { Command } from 'commander';
import { DiscoverySession, DiscoveryUnreachableError } from '../../discovery/session.js';
import { printJson, UsageError } from '../../relay/cli-util.js';
import { formatTop, parseAmount, parseRpcUrl, guardFetch } from '../../relay/commands/amount.js';
import type { RelayCandidate } from '../path/relays.js';
import { handshakeRtt } from './ping.js';

export { DiscoveryUnreachableError };

interface RelaysOpts {
  chainRpc?: string;
  bootstrap?: string[];
  sort?: string;
  exitCountry?: string;
  maxPrice?: string;
  exits?: boolean;
  timeout?: string;
  ping?: boolean;
  json?: boolean;
}

export interface RelayRow {
  nodeAddress: string;
  country: string;
  pricePerGiB: string;
  priceTop: string;
  latencyMs: number | null;
  bandwidthBps: number;
  stake: string;
  stakeTop: string;
  exit: boolean;
  udp: string;
  ws: string | null;
  peerId: string;
  expiresAt: number;
}

const SORTS = ['price', 'latency', 'bandwidth'] as const;
type SortKey = (typeof SORTS)[number];

export function toRow(c: RelayCandidate, latencyMs: number | undefined): RelayRow {
  const d = c.descriptor;
  return {
    nodeAddress: d.nodeAddress,
    country: d.region,
    pricePerGiB: d.pricePerGiB.toString(),
    priceTop: formatTop(d.pricePerGiB),
    latencyMs: latencyMs === undefined ? null : Math.round(latencyMs * 100) / 100,
    bandwidthBps: d.bandwidthBps,
    stake: c.stake.toString(),
    stakeTop: formatTop(c.stake),
    exit: d.exitPolicy.length > 0,
    udp: d.endpoints.udp,
    ws: d.endpoints.ws ?? null,
    peerId: d.peerId,
    expiresAt: d.expiresAt,
  };
}

/** Sorts rows in place: price ascending, latency ascending (unmeasured last), bandwidth descending; ties by address. */
export function sortRows(rows: RelayRow[], key: SortKey): RelayRow[] {
  const cmp = (a: RelayRow, b: RelayRow): number => {
    if (key === 'price') {
      const d = BigInt(a.pricePerGiB) - BigInt(b.pricePerGiB);
      if (d !== 0n) return d < 0n ? -1 : 1;
    } else if (key === 'latency') {
      const la = a.latencyMs ?? Infinity;
      const lb = b.latencyMs ?? Infinity;
      if (la !== lb) return la < lb ? -1 : 1;
    } else if (a.bandwidthBps !== b.bandwidthBps) return b.bandwidthBps - a.bandwidthBps;
    return a.nodeAddress < b.nodeAddress ? -1 : 1;
  };
  return rows.sort(cmp);
}

/** Collects candidates from the bootstrap peers: waits for a connection, then asks every connected peer for its set. */
async function gather(url: string, bootstrap: string[], timeoutMs: number): Promise<{ chainId: string; candidates: RelayCandidate[]; peers: number }> {
  const session = await DiscoverySession.open({ chainRpc: url, bootstrap, timeoutMs });
  try {
    return { chainId: session.chainId, candidates: session.candidates(), peers: session.peers() };
  } finally {
    await session.close();
  }
}

async function run(o: RelaysOpts): Promise<void> {
  const url = parseRpcUrl('--chain-rpc', o.chainRpc ?? process.env.TOPVPN_CHAIN_RPC);
  const bootstrap = (o.bootstrap ?? (process.env.TOPVPN_BOOTSTRAP ? [process.env.TOPVPN_BOOTSTRAP] : [])).flatMap((b) => b.split(',')).map((b) => b.trim()).filter((b) => b.length > 0);
  if (bootstrap.length === 0) throw new UsageError('--bootstrap MULTIADDR is required (a discovery peer: /ip4/H/tcp/P/p2p/PEERID)');
  for (const b of bootstrap) if (!b.includes('/p2p/')) throw new UsageError(`--bootstrap: ${b} must end in /p2p/<peer id>`);
  const sort = (o.sort ?? 'price') as SortKey;
  if (!SORTS.includes(sort)) throw new UsageError(`--sort: "${o.sort}" must be one of ${SORTS.join('|')}`);
  const cc = o.exitCountry?.toUpperCase();
  if (cc !== undefined && !/^[A-Z]{2}$/.test(cc)) throw new UsageError(`--exit-country: "${o.exitCountry}" is not a 2-letter country code`);
  const maxPrice = o.maxPrice !== undefined ? parseAmount('--max-price', o.maxPrice) : undefined;
  const timeoutSec = o.timeout === undefined ? 10 : Number(o.timeout);
  if (!Number.isFinite(timeoutSec) || timeoutSec <= 0 || timeoutSec > 300) throw new UsageError(`--timeout: "${o.timeout}" must be 0..300 seconds`);

  const g = await gather(url, bootstrap, timeoutSec * 1000);
  let cands = g.candidates;
  if (cc !== undefined) cands = cands.filter((c) => c.descriptor.region === cc && c.descriptor.exitPolicy.length > 0);
  if (o.exits) cands = cands.filter((c) => c.descriptor.exitPolicy.length > 0);
  if (maxPrice !== undefined) cands = cands.filter((c) => c.descriptor.pricePerGiB <= maxPrice);
  const rtts = o.ping === false ? cands.map(() => undefined) : await Promise.all(cands.map((c) => handshakeRtt(c.descriptor.endpoints.udp, c.descriptor.onionKey).catch(() => undefined)));
  const rows = sortRows(cands.map((c, i) => toRow(c, rtts[i])), sort);
  if (o.json) {
    printJson({ event: 'relays', chainId: g.chainId, peers: g.peers, total: g.candidates.length, relays: rows });
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no relays match (${g.candidates.length} known from ${g.peers} peer${g.peers === 1 ? '' : 's'})\n`);
    return;
  }
  const head = ['RELAY', 'CC', 'PRICE/GiB', 'LATENCY', 'BANDWIDTH', 'STAKE', 'EXIT', 'ENDPOINT'];
  const table = rows.map((r) => [
    `${r.nodeAddress.slice(0, 12)}…`,
    r.country,
    `${r.priceTop} TOP`,
    r.latencyMs === null ? '—' : `${r.latencyMs.toFixed(1)} ms`,
    `${(r.bandwidthBps / 1e6).toFixed(1)} Mbit/s`,
    `${r.stakeTop} TOP`,
    r.exit ? 'yes' : 'no',
    r.udp,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${[fmt(head), ...table.map(fmt)].join('\n')}\n`);
}

export function register(program: Command): void {
  program
    .command('relays')
    .description('list the staked relays known to the discovery network, with price, country, latency and stake')
    .option('--chain-rpc <url>', 'chain node JSON-RPC URL (or $TOPVPN_CHAIN_RPC)')
    .option('--bootstrap <multiaddr>', 'discovery peer to ask (repeatable or comma-separated; or $TOPVPN_BOOTSTRAP)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--sort <key>', 'price | latency | bandwidth (default price)')
    .option('--exit-country <cc>', 'only exits in this country (ISO 3166-1 alpha-2)')
    .option('--max-price <top>', 'only relays at most this price per GiB (TOP)')
    .option('--exits', 'only exits')
    .option('--timeout <sec>', 'how long to wait for a bootstrap peer (default 10)')
    .option('--no-ping', 'do not measure latency (handshake round trip)')
    .option('--json', 'print one JSON object')
    .action(guardFetch(run));
}
