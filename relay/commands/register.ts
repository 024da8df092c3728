/**
 * `toprelay register [--chain-rpc URL] [--node-key FILE] [--key FILE] [--deposit TOP]
 *                    [--price-per-gib UNITS] [--region R] [--endpoint H:P[,H:P]] [--fee TOP] [--no-wait] [--json]`
 * Registers the relay on chain: a `register` tx (role relay, deposit, onion key, endpoints,
 * price, region) signed by the chain key; waits until final and until the beacon lists it,
 * then prints its status. Values come from flags > $TOPRELAY_* > relay.yaml.
 */
import type { Command } from 'commander';
import { parseEndpoint } from '../addr.js';
import { printJson, UsageError } from '../cli-util.js';
import { readKeyFile, toHex } from '../keys.js';
import { formatTop, jsonSafe, parseAmount, parseBaseUnits, parseRpcUrl, guardFetch } from './amount.js';
import { getNode, loadChainKey, pollNode, submitOp } from './chain-tx.js';
import { relayLayers } from './layers.js';

interface RegisterOpts {
  chainRpc?: string;
  nodeKey?: string;
  key?: string;
  deposit?: string;
  pricePerGib?: string;
  region?: string;
  endpoint?: string;
  fee?: string;
  wait?: boolean;
  json?: boolean;
}

export class AlreadyRegisteredError extends Error {
  override readonly name = 'AlreadyRegisteredError';
}

async function run(o: RegisterOpts): Promise<void> {
  const url = parseRpcUrl('--chain-rpc', o.chainRpc);
  const me = loadChainKey(o.nodeKey);
  if (o.key === undefined) throw new UsageError('--key FILE (the onion key) is required');
  const onion = readKeyFile(o.key);
  if (o.deposit === undefined) throw new UsageError('--deposit TOP is required');
  const deposit = parseAmount('--deposit', o.deposit);
  if (o.pricePerGib === undefined) throw new UsageError('--price-per-gib UNITS is required');
  const price = parseBaseUnits('--price-per-gib', o.pricePerGib);
  const fee = parseAmount('--fee', o.fee ?? '0.01');
  if (o.endpoint === undefined) throw new UsageError('--endpoint HOST:PORT (the public address clients dial) is required');
  const endpoints = o.endpoint.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
  for (const e of endpoints) {
    try {
      parseEndpoint(e);
    } catch (err) {
      throw new UsageError(`--endpoint: ${(err as Error).message}`);
    }
  }
  const region = o.region ?? '';
  if (region !== '' && !/^[a-z0-9-]{1,32}$/.test(region)) throw new UsageError(`--region: "${region}" must be 1-32 chars of a-z 0-9 -`);

  const existing = await getNode(url, me.address);
  if (existing && existing.status !== 'unbonded') throw new AlreadyRegisteredError(`${me.address} is already registered (${existing.role}, ${existing.status}); unregister first`);
  const wait = o.wait !== false;
  const r = await submitOp({ url, seed: me.seed, address: me.address, fee, wait, op: { type: 'register', role: 'relay', deposit, consensusKey: me.address, onionKey: toHex(onion.publicKey), endpoints, pricePerGiB: price, region } });
  const node = wait ? await pollNode(url, me.address, (v) => v !== undefined && v.status !== 'unbonded', 15_000) : undefined;
  const out = { event: 'registered', address: me.address, txHash: r.hash, txStatus: r.state?.status ?? 'submitted', chain: r.chain, deposit: deposit.toString(), price: price.toString(), region, endpoints, node: node ? jsonSafe(node) : null };
  if (o.json) printJson(out);
  else {
    process.stdout.write(`register tx ${r.hash} ${out.txStatus} on ${r.chain}\n`);
    if (node) process.stdout.write(`relay ${me.address}: ${node.status}, deposit ${formatTop(BigInt(node.deposit))} TOP, price ${formatTop(BigInt(node.price))} TOP/GiB, endpoints ${node.endpoints.join(',')}${node.region ? `, region ${node.region}` : ''}\n`);
    else if (wait) process.stdout.write('the beacon does not list the relay yet; check with `toprelay status`\n');
  }
}

export function register(program: Command): void {
  relayLayers(
    program
      .command('register')
      .description('register this relay on chain with a deposit (role relay)')
      .option('--chain-rpc <url>', 'chain node JSON-RPC URL')
      .option('--node-key <file>', 'chain key (node-key.json from init)')
      .option('--key <file>', 'onion key file (its public key is announced)')
      .option('--deposit <top>', 'deposit to lock, TOP (≥ the relay minimum)')
      .option('--price-per-gib <units>', 'price per GiB in base units (10^6 = 1 TOP)')
      .option('--region <r>', 'region (a-z 0-9 -)')
      .option('--endpoint <host:port>', 'public endpoint(s), comma-separated')
      .option('--fee <top>', 'tx fee in TOP (burned; default 0.01)')
      .option('--no-wait', 'return once the node accepted the tx')
      .option('--json', 'print one JSON object'),
  ).action(guardFetch(run));
}
