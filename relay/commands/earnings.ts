/**
 * `toprelay earnings [--metrics H:P] [--chain-rpc URL --node-key FILE] [--json]`
 * What the running relay has earned since it started (from its metrics): served, receipted,
 * claimed, burned, fees, lost and pending value (base units and TOP) and bytes, channels by
 * status; with --chain-rpc and --node-key also the relay account's balance on chain.
 */
import type { Command } from 'commander';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { printJson } from '../cli-util.js';
import { formatTop, parseRpcUrl, guardFetch } from './amount.js';
import { loadChainKey } from './chain-tx.js';
import { relayLayers } from './layers.js';
import { metricsUrl, scrape } from './scrape.js';

interface EarningsOpts {
  metrics?: string;
  chainRpc?: string;
  nodeKey?: string;
  json?: boolean;
}

const ROWS = [
  ['served', 'topvpn_relay_served_value_total', 'topvpn_relay_served_bytes_total'],
  ['receipted', 'topvpn_relay_receipted_value_total', 'topvpn_relay_receipted_bytes_total'],
  ['claimed', 'topvpn_relay_claimed_value_total', 'topvpn_relay_claimed_bytes_total'],
  ['burned', 'topvpn_relay_burned_value_total', undefined],
  ['fees', 'topvpn_relay_fees_value_total', undefined],
  ['lost', 'topvpn_relay_lost_value_total', undefined],
  ['pending', 'topvpn_relay_pending_value', 'topvpn_relay_pending_bytes'],
] as const;

async function run(o: EarningsOpts): Promise<void> {
  const url = metricsUrl(o.metrics);
  const rpc = o.chainRpc !== undefined ? parseRpcUrl('--chain-rpc', o.chainRpc) : undefined;
  const s = await scrape(url);
  const values: Record<string, { value: string; top: string; bytes: string | null }> = {};
  for (const [k, v, b] of ROWS) {
    const val = BigInt(Math.round(s.sum(v)));
    values[k] = { value: val.toString(), top: formatTop(val), bytes: b ? String(Math.round(s.sum(b))) : null };
  }
  const net = BigInt(values.claimed!.value) - BigInt(values.burned!.value) - BigInt(values.fees!.value);
  let account: { address: string; balance: string; top: string } | null = null;
  if (rpc && o.nodeKey !== undefined) {
    const address = loadChainKey(o.nodeKey).address;
    const a = await rpcCall<{ balance: string }>(rpc, 'account_get', [address]);
    account = { address, balance: a.balance, top: formatTop(BigInt(a.balance)) };
  }
  const claims = s.byLabel('topvpn_relay_claims_total', 'result');
  const channels = s.byLabel('topvpn_relay_channels', 'status');
  if (o.json) {
    printJson({ event: 'earnings', metrics: url, ...values, net: { value: net.toString(), top: formatTop(net) }, claims, channels, account });
    return;
  }
  const w = (k: string): string => `${k.padEnd(10)} ${values[k]!.top.padStart(14)} TOP${values[k]!.bytes !== null ? `  (${values[k]!.bytes} bytes)` : ''}`;
  const lines = ROWS.map(([k]) => w(k));
  lines.push(`${'net'.padEnd(10)} ${formatTop(net).padStart(14)} TOP  (claimed − burned − fees)`);
  lines.push(`claims:    ${Object.entries(claims).map(([k, v]) => `${k} ${v}`).join(', ') || '—'}; channels: ${Object.entries(channels).map(([k, v]) => `${k} ${v}`).join(', ') || '—'}`);
  if (account) lines.push(`balance:   ${account.top} TOP on chain (${account.address})`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  relayLayers(
    program
      .command('earnings')
      .description('served, receipted, claimed, burned and pending value of the running relay')
      .option('--metrics <host:port>', "the relay's metrics address (start --metrics)")
      .option('--chain-rpc <url>', 'chain node JSON-RPC URL (with --node-key: show the balance)')
      .option('--node-key <file>', 'chain key (node-key.json from init)')
      .option('--json', 'print one JSON object'),
  ).action(guardFetch(run));
}
