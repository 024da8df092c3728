/**
 * The money side of the testnet: relay registration on the devnet, the client's wallet, and
 * the settlement figures read back from the chain after a run (claims found in the channel's
 * shard blocks, burn per claim, refunds, supply on every node). Amounts are base units.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distBin } from '../common/paths.js';
import { claimSplit, homeChain, UNIT } from '../chain/state/index.js';
import type { Channel } from '../chain/state/types.js';
import type { KeyPair } from '../chain/node/keys.js';
import { writeKeyFile } from '../chain/node/keys.js';
import { parseRpcChannel } from '../relay/payments/chain-rpc.js';
import { importWallet } from '../client/wallet/keystore.js';
import { type ChainNet, waitFor } from './chain-net.js';
import { parseJsonObject } from './procs.js';
import type { Host, Testnet } from './testnet.js';

export class EconomyError extends Error {
  override readonly name = 'EconomyError';
}

/** Default relay price: 1000 TOP per GiB (a few MiB are worth a claim). */
export const DEFAULT_PRICE_PER_GIB = 1000n * UNIT;
/** The relay role's minimum deposit on the devnet (chain/state/params.ts). */
export const RELAY_DEPOSIT = 200_000n * UNIT;
/** Every tx's fee (the chain's minFee, 0.01 TOP). */
export const TX_FEE = UNIT / 100n;
export const BURN_PERCENT = 10n;
/** Client budget: deposits for 10 GiB at three hops at the default price, plus the open fees. */
export const DEFAULT_BUDGET = 31_000n * UNIT;

/** Writes a chain key file (chain/node/keys.ts format, mode 0600) for `kp` into the testnet dir. */
export function writeChainKey(net: Testnet, name: string, kp: KeyPair): string {
  const file = join(net.dir, `${name}.chain-key.json`);
  writeKeyFile(file, kp);
  return file;
}

/** Encrypts `kp`'s seed as the client's wallet (devnet-cheap scrypt) and writes a password file. */
export async function writeClientWallet(net: Testnet, kp: KeyPair): Promise<{ wallet: string; passwordFile: string; address: string }> {
  const wallet = join(net.dir, 'client-wallet.json');
  const passwordFile = join(net.dir, 'client-wallet.pass');
  const password = 'testnet-only-password';
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const address = await importWallet(wallet, kp.seedHex, password, { kdf: { N: 2 ** 10 } });
  return { wallet, passwordFile, address };
}

export interface RelayRegistration {
  host: Host;
  keyFile: string;
  address: string;
  onionKey: string;
  endpoint: string;
  rpcUrl: string;
  pricePerGiB: bigint;
}

/**
 * Registers a relay on chain with `topchain register relay` run in the relay's namespace
 * (deposit RELAY_DEPOSIT, its onion key, endpoint and price), waits until the tx is final and
 * the beacon lists the node.
 */
export async function registerRelay(net: Testnet, chain: ChainNet, r: RelayRegistration): Promise<string> {
  const argv = [
    process.execPath, distBin('chain/cli'), '--rpc', r.rpcUrl, '--json',
    'register', 'relay', `${RELAY_DEPOSIT}u`, '--key', r.keyFile,
    '--onion-key', r.onionKey, '--endpoint', `udp://${r.endpoint}`, '--price', `${r.pricePerGiB}u`, '--region', 'testnet', '--wait',
  ];
  const res = await net.exec(r.host, argv, { timeoutMs: 90_000 });
  const out = res.stdout.trim().split('\n').map(parseJsonObject).find((o) => o && typeof o['hash'] === 'string');
  if (!out) throw new EconomyError(`register on ${r.host.name}: no tx hash in output: ${res.stdout.slice(0, 200)} ${res.stderr.slice(0, 200)}`);
  await waitFor(`beacon lists relay ${r.host.name}`, async () => {
    const n = await chain.call<{ role: string; status: string }>(chain.urls[0]!, 'node_get', [r.address]);
    return n.role === 'relay';
  }, 60_000);
  return out['hash'] as string;
}

export async function getChannel(chain: ChainNet, url: string, id: string): Promise<Channel> {
  return parseRpcChannel(await chain.call(url, 'channel_get', [id]));
}

export interface ClaimRecord {
  channelId: string;
  relay: string;
  height: number;
  seq: number;
  cumulativeBytes: bigint;
  /** What this claim paid out of the channel (its cumulative amount, capped by the deposit, minus what was claimed before). */
  delta: bigint;
  /** ceil(delta · 10 %). */
  burn: bigint;
  fee: bigint;
}

interface RawSignedTx {
  tx: { chain: string; from: string; fee: string; op: { type: string; channelId?: string; receipt?: { seq: number; cumulativeAmount: string; cumulativeBytes: string } } };
}
interface RawBlock {
  body: { txs: RawSignedTx[]; receipts: unknown[]; confirms: unknown[] };
  results: Array<{ kind: string; status: string }>;
}

/**
 * Every applied (status ok) claim on `channels` in blocks (from, to] of `chainName`, in chain
 * order, with its delta and burn recomputed from the chain's rule (claimSplit).
 */
export async function scanClaims(chain: ChainNet, url: string, chainName: string, from: number, to: number, channels: ReadonlyMap<string, { deposit: bigint }>): Promise<ClaimRecord[]> {
  const claimed = new Map<string, bigint>();
  const out: ClaimRecord[] = [];
  for (let h = from + 1; h <= to; h++) {
    const b = await chain.call<RawBlock>(url, 'chain_getBlock', [chainName, h]);
    const skip = b.body.confirms.length + b.body.receipts.length;
    b.body.txs.forEach((stx, i) => {
      const op = stx.tx.op;
      if (op.type !== 'channel-claim' || !op.channelId || !op.receipt) return;
      const ch = channels.get(op.channelId);
      if (!ch || b.results[skip + i]?.status !== 'ok') return;
      const amount = BigInt(op.receipt.cumulativeAmount);
      const capped = amount < ch.deposit ? amount : ch.deposit;
      const delta = capped - (claimed.get(op.channelId) ?? 0n);
      claimed.set(op.channelId, capped);
      out.push({ channelId: op.channelId, relay: stx.tx.from, height: h, seq: op.receipt.seq, cumulativeBytes: BigInt(op.receipt.cumulativeBytes), delta, burn: claimSplit(delta, BURN_PERCENT).burn, fee: BigInt(stx.tx.fee) });
    });
  }
  return out;
}

/** supply_get on every node: true when each reports the invariant holds (polled until `timeoutMs`). */
export async function supplyOk(chain: ChainNet, timeoutMs = 30_000): Promise<boolean[]> {
  return Promise.all(
    chain.urls.map(async (u) => {
      try {
        await waitFor(`supply on ${u}`, async () => (await chain.call<{ ok: boolean }>(u, 'supply_get')).ok, timeoutMs);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** The channels' home chain (the payer's shard). */
export function channelChain(payer: string, shards: number): string {
  return homeChain(payer, shards);
}

export async function balance(chain: ChainNet, url: string, address: string): Promise<bigint> {
  return BigInt((await chain.call<{ balance: string }>(url, 'account_get', [address])).balance);
}
