/**
 * The JSON-RPC pieces that both the relay's ChainPort and the client's channel manager use
 * (chain/node/rpc-methods.ts): reading a channel, the chain's identity, tx status and waiting for
 * a tx to commit or become final. The RPC call is injectable (tests, other transports).
 */
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import type { Channel, ChannelStatus, ItemResult } from '../../chain/state/types.js';

/** rpcCall's shape. */
export type RpcCallFn = <T = unknown>(url: string, method: string, params?: unknown[] | Record<string, unknown>, timeoutMs?: number) => Promise<T>;

export const defaultRpcCall: RpcCallFn = rpcCall;

/** channel_get's "not found" code (RPC_NOT_FOUND). */
export const RPC_NOT_FOUND_CODE = -32001;

/** A node answered something we cannot read. */
export class ChainRpcError extends Error {
  override readonly name = 'ChainRpcError';
}

/** A tx was committed with a status other than ok (`rule` names the chain rule it broke). */
export class TxFailedError extends Error {
  override readonly name = 'TxFailedError';
  constructor(
    readonly hash: string,
    readonly status: string,
    readonly rule: string | undefined,
    detail: string | undefined,
  ) {
    super(`tx ${hash.slice(0, 12)} ${status}${rule ? ` (${rule})` : ''}${detail ? `: ${detail}` : ''}`);
  }
}

/** A tx did not reach the wanted status in time. */
export class TxTimeoutError extends Error {
  override readonly name = 'TxTimeoutError';
  constructor(
    readonly hash: string,
    readonly lastStatus: string,
    readonly waitedMs: number,
  ) {
    super(`tx ${hash.slice(0, 12)} still ${lastStatus} after ${waitedMs} ms`);
  }
}

const HEX32 = /^[0-9a-f]{64}$/;
const STATUSES: readonly ChannelStatus[] = ['open', 'closing', 'finalized'];

function big(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  throw new ChainRpcError(`channel field ${what} is not an unsigned integer`);
}

/** Parses channel_get's answer (amounts as decimal strings) into a chain/state Channel. */
export function parseRpcChannel(raw: unknown): Channel {
  if (raw === null || typeof raw !== 'object') throw new ChainRpcError('channel is not an object');
  const r = raw as Record<string, unknown>;
  for (const k of ['id', 'payer', 'relay'] as const) if (typeof r[k] !== 'string' || !HEX32.test(r[k])) throw new ChainRpcError(`channel field ${k} is not 32-byte hex`);
  if (!STATUSES.includes(r.status as ChannelStatus)) throw new ChainRpcError(`channel status ${String(r.status)}`);
  if (!Number.isSafeInteger(r.seq) || !Number.isSafeInteger(r.openedAt)) throw new ChainRpcError('channel seq/openedAt not integers');
  if (r.closesAt !== null && !Number.isSafeInteger(r.closesAt)) throw new ChainRpcError('channel closesAt not an integer');
  return {
    id: r.id as string,
    payer: r.payer as string,
    relay: r.relay as string,
    deposit: big(r.deposit, 'deposit'),
    claimed: big(r.claimed, 'claimed'),
    seq: r.seq as number,
    cumulativeBytes: big(r.cumulativeBytes, 'cumulativeBytes'),
    status: r.status as ChannelStatus,
    openedAt: r.openedAt as number,
    closesAt: r.closesAt as number | null,
  };
}

/** channel_get: the channel as the node's committed state holds it, null if unknown. Throws on transport errors. */
export async function rpcGetChannel(call: RpcCallFn, url: string, channelId: string, timeoutMs?: number): Promise<Channel | null> {
  try {
    return parseRpcChannel(await call(url, 'channel_get', [channelId], timeoutMs));
  } catch (e) {
    if (e instanceof RpcCallError && e.code === RPC_NOT_FOUND_CODE) return null;
    throw e;
  }
}

export interface ChainIdentity {
  chainId: string;
  shardCount: number;
}

/** chain_status → chain id and number of shards. */
export async function rpcChainIdentity(call: RpcCallFn, url: string, timeoutMs?: number): Promise<ChainIdentity> {
  const s = await call<{ chainId?: unknown; chains?: Array<{ chain?: unknown }> }>(url, 'chain_status', [], timeoutMs);
  if (typeof s?.chainId !== 'string' || !Array.isArray(s.chains)) throw new ChainRpcError('chain_status: no chainId/chains');
  const shardCount = s.chains.filter((c) => typeof c.chain === 'string' && c.chain.startsWith('shard-')).length;
  if (shardCount < 1) throw new ChainRpcError('chain_status: no shard chains');
  return { chainId: s.chainId, shardCount };
}

export type TxStatus = 'pending' | 'committed' | 'final' | 'unknown';

export interface TxState {
  hash: string;
  status: TxStatus;
  chain?: string;
  height?: number;
  result?: Pick<ItemResult, 'status' | 'error'>;
}

export async function rpcTxStatus(call: RpcCallFn, url: string, hash: string, timeoutMs?: number): Promise<TxState> {
  const r = await call<TxState>(url, 'tx_get', [hash], timeoutMs);
  if (typeof r?.status !== 'string') throw new ChainRpcError('tx_get: no status');
  return r;
}

export interface WaitTxOptions {
  /** 'committed' resolves on committed or final; 'final' only on final. Default 'final'. */
  until?: 'committed' | 'final';
  timeoutMs?: number;
  pollMs?: number;
}

/**
 * Polls tx_get until the tx is committed/final. Resolves with its state when its result is ok;
 * throws TxFailedError when it was applied with another status, TxTimeoutError on timeout.
 * Transport errors during the wait are retried until the timeout.
 */
export async function rpcWaitTx(call: RpcCallFn, url: string, hash: string, o: WaitTxOptions = {}): Promise<TxState> {
  const until = o.until ?? 'final';
  const timeoutMs = o.timeoutMs ?? 60_000;
  const pollMs = o.pollMs ?? 250;
  const t0 = Date.now();
  let last: string = 'unknown';
  for (;;) {
    try {
      const s = await rpcTxStatus(call, url, hash);
      last = s.status;
      if (s.status === 'final' || (until === 'committed' && s.status === 'committed')) {
        if (s.result && s.result.status !== 'ok') throw new TxFailedError(hash, s.result.status, s.result.error?.rule, s.result.error?.message);
        return s;
      }
    } catch (e) {
      if (e instanceof TxFailedError) throw e;
      last = `unreachable (${e instanceof Error ? e.message : String(e)})`;
    }
    if (Date.now() - t0 >= timeoutMs) throw new TxTimeoutError(hash, last, Date.now() - t0);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
