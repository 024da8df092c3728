/**
 * `toprelay unregister [--chain-rpc URL] [--node-key FILE] [--fee TOP] [--block-time SEC] [--json]`
 * Sends `unregister`, waits until final and the beacon shows the node unbonding, then prints
 * when the deposit returns: the beacon height and an estimated time (blocks left × block time,
 * the block time measured over ~2 s unless --block-time is given).
 */
import type { Command } from 'commander';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { printJson, UsageError } from '../cli-util.js';
import { formatTop, parseAmount, parseRpcUrl, guardFetch } from './amount.js';
import { beaconHeight, getNode, loadChainKey, pollNode, submitOp, type ChainStatus } from './chain-tx.js';
import { relayLayers } from './layers.js';

interface UnregisterOpts {
  chainRpc?: string;
  nodeKey?: string;
  fee?: string;
  blockTime?: string;
  json?: boolean;
}

export class NotRegisteredError extends Error {
  override readonly name = 'NotRegisteredError';
}

/** Seconds per beacon block: measured over `sampleMs` (undefined when the beacon did not move). */
async function measureBlockTime(url: string, sampleMs: number): Promise<number | undefined> {
  const h0 = beaconHeight(await rpcCall<ChainStatus>(url, 'chain_status'));
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, sampleMs));
  const h1 = beaconHeight(await rpcCall<ChainStatus>(url, 'chain_status'));
  if (h0 === undefined || h1 === undefined || h1 <= h0) return undefined;
  return (Date.now() - t0) / 1000 / (h1 - h0);
}

async function run(o: UnregisterOpts): Promise<void> {
  const url = parseRpcUrl('--chain-rpc', o.chainRpc);
  const me = loadChainKey(o.nodeKey);
  const fee = parseAmount('--fee', o.fee ?? '0.01');
  let blockSec: number | undefined;
  if (o.blockTime !== undefined) {
    blockSec = Number(o.blockTime);
    if (!Number.isFinite(blockSec) || blockSec <= 0) throw new UsageError(`--block-time: "${o.blockTime}" is not a positive number of seconds`);
  }
  const before = await getNode(url, me.address);
  if (!before || before.status === 'unbonded') throw new NotRegisteredError(`${me.address} is not registered`);
  if (before.status === 'unbonding') throw new NotRegisteredError(`${me.address} is already unbonding (deposit returns at beacon height ${before.unbondingUntil ?? '?'})`);
  const r = await submitOp({ url, seed: me.seed, address: me.address, fee, wait: true, op: { type: 'unregister' } });
  const node = await pollNode(url, me.address, (v) => v?.unbondingUntil !== undefined, 15_000);
  const height = beaconHeight(await rpcCall<ChainStatus>(url, 'chain_status'));
  blockSec ??= await measureBlockTime(url, 2_000);
  const until = node?.unbondingUntil;
  const blocksLeft = until !== undefined && height !== undefined ? Math.max(0, until - height) : undefined;
  const etaSec = blocksLeft !== undefined && blockSec !== undefined ? Math.round(blocksLeft * blockSec) : undefined;
  const out = {
    event: 'unregistered',
    address: me.address,
    txHash: r.hash,
    txStatus: r.state?.status ?? 'submitted',
    status: node?.status ?? 'unknown',
    deposit: node?.deposit ?? before.deposit,
    returnsAtHeight: until ?? null,
    beaconHeight: height ?? null,
    blocksLeft: blocksLeft ?? null,
    blockTimeSec: blockSec ?? null,
    etaSec: etaSec ?? null,
    returnsAt: etaSec !== undefined ? new Date(Date.now() + etaSec * 1000).toISOString() : null,
  };
  if (o.json) printJson(out);
  else {
    process.stdout.write(`unregister tx ${r.hash} ${out.txStatus}; relay ${out.status}\n`);
    if (until !== undefined) process.stdout.write(`deposit ${formatTop(BigInt(out.deposit))} TOP returns at beacon height ${until} (now ${height ?? '?'}, ${blocksLeft ?? '?'} blocks${etaSec !== undefined ? `, ≈ ${etaSec} s, ${out.returnsAt}` : ', time unknown'})\n`);
    else process.stdout.write('the beacon has not applied it yet; check with `toprelay status`\n');
  }
}

export function register(program: Command): void {
  relayLayers(
    program
      .command('unregister')
      .description('stop being a relay; prints when the deposit returns (height and time)')
      .option('--chain-rpc <url>', 'chain node JSON-RPC URL')
      .option('--node-key <file>', 'chain key (node-key.json from init)')
      .option('--fee <top>', 'tx fee in TOP (default 0.01)')
      .option('--block-time <sec>', 'seconds per beacon block for the estimate (default: measured)')
      .option('--json', 'print one JSON object'),
  ).action(guardFetch(run));
}
