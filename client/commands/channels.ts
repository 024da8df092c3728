/**
 * `topvpn channels [list] [--wallet F] --chain-rpc URL [--scan N] [--json]`
 * `topvpn channels close <id> | --all   [--wallet F] --chain-rpc URL [--password-file F] [--fee TOP] [--json]`
 * `topvpn channels finalize <id> | --all ...same...`
 * The wallet's payment channels on chain. There is no "channels of a payer" RPC; a channel's id
 * is channelIdFor(chainId, payer, nonce) of its channel-open tx, so `list` asks channel_get for
 * each of the payer's last --scan nonces (default 1000) and keeps those that exist. close starts
 * the challenge window (the relay may still claim); finalize refunds deposit − claimed after it.
 */
import type { Command } from 'commander';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { channelIdFor, type Channel } from '../../chain/state/index.js';
import { printJson, UsageError } from '../../relay/cli-util.js';
import { formatTop, guardFetch, jsonSafe, parseAmount, parseRpcUrl } from '../../relay/commands/amount.js';
import { defaultRpcCall, rpcChainIdentity, rpcGetChannel } from '../../relay/payments/chain-rpc.js';
import { ClientChain } from '../payments/chain.js';
import { loadWallet, readAddress } from '../wallet/keystore.js';
import { resolveWalletPath } from '../wallet/paths.js';
import { readPassword } from './password.js';
import { asUsage } from './wallet.js';

interface ChannelOpts {
  wallet?: string;
  chainRpc?: string;
  scan?: string;
  all?: boolean;
  passwordFile?: string;
  fee?: string;
  json?: boolean;
}

export const DEFAULT_SCAN = 1000;

/** The payer's channels found among its last `scan` nonces, oldest first. */
export async function findChannels(url: string, payer: string, scan: number): Promise<Channel[]> {
  const { chainId } = await rpcChainIdentity(defaultRpcCall, url);
  const { nonce } = await rpcCall<{ nonce: number }>(url, 'account_get', [payer]);
  const from = Math.max(0, nonce - scan);
  const ids: string[] = [];
  for (let n = from; n < nonce; n++) ids.push(channelIdFor(chainId, payer, n));
  const found: Channel[] = [];
  const CONCURRENCY = 8;
  for (let i = 0; i < ids.length; i += CONCURRENCY) {
    const batch = await Promise.all(ids.slice(i, i + CONCURRENCY).map((id) => rpcGetChannel(defaultRpcCall, url, id)));
    for (const c of batch) if (c !== null && c.payer === payer) found.push(c);
  }
  return found;
}

function rpcOf(o: ChannelOpts): string {
  return parseRpcUrl('--chain-rpc', o.chainRpc ?? process.env.TOPVPN_CHAIN_RPC);
}

function scanOf(o: ChannelOpts): number {
  if (o.scan === undefined) return DEFAULT_SCAN;
  if (!/^\d{1,7}$/.test(o.scan) || Number(o.scan) === 0) throw new UsageError(`--scan: "${o.scan}" must be a positive whole number`);
  return Number(o.scan);
}

function line(c: Channel): string {
  return `${c.id}  ${c.status.padEnd(9)} relay ${c.relay.slice(0, 16)}…  deposit ${formatTop(c.deposit)}  claimed ${formatTop(c.claimed)}  bytes ${c.cumulativeBytes}${c.closesAt !== null ? `  closes at ${c.closesAt}` : ''}`;
}

async function list(o: ChannelOpts): Promise<void> {
  const url = rpcOf(o);
  let payer: string;
  try {
    payer = readAddress(resolveWalletPath(o.wallet));
  } catch (err) {
    throw asUsage(err);
  }
  const chans = await findChannels(url, payer, scanOf(o));
  if (o.json) printJson({ event: 'channels', payer, channels: jsonSafe(chans) });
  else if (chans.length === 0) process.stdout.write(`no channels for ${payer}\n`);
  else process.stdout.write(`${chans.map(line).join('\n')}\n`);
}

async function act(kind: 'close' | 'finalize', id: string | undefined, o: ChannelOpts): Promise<void> {
  if ((id === undefined) === (o.all !== true)) throw new UsageError(`channels ${kind}: give a channel ID or --all (not both)`);
  if (id !== undefined && !/^[0-9a-f]{64}$/.test(id)) throw new UsageError(`channels ${kind}: "${id}" is not a channel id (64 hex chars)`);
  const url = rpcOf(o);
  const fee = parseAmount('--fee', o.fee ?? '0.01');
  const path = resolveWalletPath(o.wallet);
  let chain: ClientChain;
  try {
    readAddress(path);
    const wallet = await loadWallet(path, await readPassword({ ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}) }));
    chain = await ClientChain.connect({ url, signer: wallet, fee });
  } catch (err) {
    throw asUsage(err);
  }
  let targets: Channel[];
  if (id !== undefined) {
    const c = await chain.getChannel(id);
    if (c === null) throw new UsageError(`channel ${id} does not exist`);
    if (c.payer !== chain.payer) throw new UsageError(`channel ${id} belongs to another payer`);
    targets = [c];
  } else {
    const want = kind === 'close' ? 'open' : 'closing';
    targets = (await findChannels(url, chain.payer, scanOf(o))).filter((c) => c.status === want);
  }
  const height = kind === 'finalize' ? await chain.homeHeight() : 0;
  const done: Array<{ channelId: string; txHash?: string; status: string; error?: string }> = [];
  let failed = 0;
  for (const c of targets) {
    if (kind === 'finalize' && c.closesAt !== null && height < c.closesAt) {
      done.push({ channelId: c.id, status: 'skipped', error: `challenge window open until height ${c.closesAt} (now ${height})` });
      continue;
    }
    try {
      const hash = kind === 'close' ? await chain.closeChannel(c.id) : await chain.finalizeChannel(c.id);
      const st = await chain.waitFinal(hash);
      done.push({ channelId: c.id, txHash: hash, status: st.status });
    } catch (err) {
      failed++;
      done.push({ channelId: c.id, status: 'failed', error: (err as Error).message });
    }
  }
  if (o.json) printJson({ event: kind === 'close' ? 'channels-closed' : 'channels-finalized', payer: chain.payer, results: done });
  else if (done.length === 0) process.stdout.write(`no ${kind === 'close' ? 'open' : 'closing'} channels\n`);
  else for (const d of done) process.stdout.write(`${d.channelId} ${d.status}${d.txHash ? ` (tx ${d.txHash})` : ''}${d.error ? `: ${d.error}` : ''}\n`);
  if (failed > 0) process.exitCode = 1;
}

export function register(program: Command): void {
  const ch = program.command('channels').description("the wallet's payment channels on chain: list, close, finalize");
  const common = (c: Command): Command =>
    c
      .option('--wallet <file>', 'wallet file (default $XDG_CONFIG_HOME/topvpn/wallet.json)')
      .option('--chain-rpc <url>', 'chain node JSON-RPC URL (or $TOPVPN_CHAIN_RPC)')
      .option('--scan <n>', `how many of the payer's latest nonces to search (default ${DEFAULT_SCAN})`)
      .option('--json', 'print one JSON object');
  common(ch.command('list', { isDefault: true }).description('list the channels (no password needed)')).action(guardFetch(list));
  for (const kind of ['close', 'finalize'] as const) {
    common(ch.command(kind).argument('[id]', 'channel id').description(kind === 'close' ? 'start closing (the relay may still claim during the challenge window)' : 'after the challenge window: refund deposit − claimed'))
      .option('--all', kind === 'close' ? 'every open channel' : 'every closing channel whose window has passed')
      .option('--password-file <file>', 'wallet password file (else $TOPVPN_WALLET_PASSWORD, else a prompt)')
      .option('--fee <top>', 'tx fee in TOP (default 0.01)')
      .action(guardFetch((id: string | undefined, o: ChannelOpts) => act(kind, id, o)));
  }
}
