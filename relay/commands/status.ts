/**
 * `toprelay status [--metrics H:P] [--chain-rpc URL] [--node-key FILE] [--sample SEC] [--json]`
 * The running relay as its metrics endpoint shows it (circuits, throughput over --sample
 * seconds, peers, handshakes, drops) plus, with --chain-rpc, the chain height and this relay's
 * registration (node_get of the chain key's address). Exit 1 when the relay is not running.
 */
import type { Command } from 'commander';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { printJson, UsageError } from '../cli-util.js';
import { formatTop, parseRpcUrl, guardFetch } from './amount.js';
import { beaconHeight, getNode, loadChainKey, type ChainStatus, type NodeView } from './chain-tx.js';
import { relayLayers } from './layers.js';
import { metricsUrl, scrape } from './scrape.js';

interface StatusOpts {
  metrics?: string;
  chainRpc?: string;
  nodeKey?: string;
  sample?: string;
  json?: boolean;
}

const FWD = 'topvpn_relay_forwarded_bytes_total';

async function run(o: StatusOpts): Promise<void> {
  const url = metricsUrl(o.metrics);
  const sampleSec = o.sample === undefined ? 1 : Number(o.sample);
  if (!Number.isFinite(sampleSec) || sampleSec < 0 || sampleSec > 60) throw new UsageError(`--sample: "${o.sample}" must be 0..60 seconds`);
  const rpc = o.chainRpc !== undefined ? parseRpcUrl('--chain-rpc', o.chainRpc) : undefined;
  const a = await scrape(url);
  let bps: number | null = null;
  let pps: number | null = null;
  if (sampleSec > 0) {
    await new Promise((r) => setTimeout(r, sampleSec * 1000));
    const b = await scrape(url);
    const dt = (b.at - a.at) / 1000;
    bps = Math.max(0, (b.sum(FWD) - a.sum(FWD)) / dt);
    pps = Math.max(0, (b.sum('topvpn_relay_forwarded_packets_total') - a.sum('topvpn_relay_forwarded_packets_total')) / dt);
  }
  const info = a.samples.find((s) => s.name === 'topvpn_relay_info')?.labels ?? {};
  const relay = {
    up: a.sum('topvpn_relay_up') === 1,
    region: info.region ?? null,
    exit: info.exit === 'true',
    circuitsActive: a.sum('topvpn_relay_circuits_active'),
    circuitsTotal: a.sum('topvpn_relay_circuits_total'),
    forwardedBytes: a.sum(FWD),
    throughputBps: bps,
    packetsPerSec: pps,
    peers: a.has('topvpn_relay_peers') ? a.sum('topvpn_relay_peers') : null,
    handshakes: a.byLabel('topvpn_relay_handshakes_total', 'result'),
    drops: a.sum('topvpn_relay_drops_total'),
    channels: a.byLabel('topvpn_relay_channels', 'status'),
  };
  let chain: { url: string; chainId: string; beaconHeight: number | null; peers: number | null; node: NodeView | null; address: string | null } | null = null;
  if (rpc) {
    const st = await rpcCall<ChainStatus>(rpc, 'chain_status');
    let node: NodeView | undefined;
    let address: string | null = null;
    if (o.nodeKey !== undefined) {
      address = loadChainKey(o.nodeKey).address;
      node = await getNode(rpc, address);
    }
    chain = { url: rpc, chainId: st.chainId, beaconHeight: beaconHeight(st) ?? null, peers: st.peers ?? null, node: node ?? null, address };
  }
  if (o.json) {
    printJson({ event: 'status', metrics: url, relay, chain });
    return;
  }
  const rate = (n: number | null): string => (n === null ? '—' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB/s` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB/s` : `${n.toFixed(0)} B/s`);
  const lines = [
    `relay:      ${relay.up ? 'up' : 'down'}${relay.exit ? ' (exit)' : ''}${relay.region ? `, region ${relay.region}` : ''}  [${url}]`,
    `circuits:   ${relay.circuitsActive} active, ${relay.circuitsTotal} since start`,
    `throughput: ${rate(bps)}${pps !== null ? ` (${pps.toFixed(0)} pkt/s)` : ''}; ${relay.forwardedBytes} bytes forwarded`,
    `peers:      ${relay.peers ?? '—'}`,
    `handshakes: ${Object.entries(relay.handshakes).map(([k, v]) => `${k} ${v}`).join(', ') || '—'}; drops ${relay.drops}`,
  ];
  if (chain) {
    lines.push(`chain:      ${chain.chainId}, beacon height ${chain.beaconHeight ?? '?'}`);
    if (chain.address) lines.push(chain.node ? `registered: ${chain.node.status}${chain.node.jailed ? ' (jailed)' : ''}, deposit ${formatTop(BigInt(chain.node.deposit))} TOP, price ${formatTop(BigInt(chain.node.price))} TOP/GiB${chain.node.unbondingUntil !== undefined ? `, deposit returns at height ${chain.node.unbondingUntil}` : ''}` : `registered: no (${chain.address})`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  relayLayers(
    program
      .command('status')
      .description('the running relay: circuits, throughput, peers; with --chain-rpc its chain height and registration')
      .option('--metrics <host:port>', "the relay's metrics address (start --metrics)")
      .option('--chain-rpc <url>', 'chain node JSON-RPC URL')
      .option('--node-key <file>', 'chain key (to show this relay\'s registration)')
      .option('--sample <sec>', 'seconds between the two scrapes used for throughput (default 1, 0 = skip)')
      .option('--json', 'print one JSON object'),
  ).action(guardFetch(run));
}
