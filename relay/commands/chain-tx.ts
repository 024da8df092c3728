/**
 * One signed tx from a node key over JSON-RPC, for the operator commands (register,
 * unregister): nonce from account_get, the sender's home shard, submit, optionally wait.
 * A node refusing the tx at submission is a TxRejectedError (exit 1) naming the rule.
 */
import { nextNonce, RpcCallError, rpcCall, type AccountNonces } from '../../chain/node/rpc-client.js';
import { homeChain, signTx, type Tx, type TxOp } from '../../chain/state/index.js';
import { readKeyFile as readChainKey } from '../../chain/node/keys.js';
import { UsageError } from '../cli-util.js';
import { rpcWaitTx, type TxState } from '../payments/chain-rpc.js';

export class TxRejectedError extends Error {
  override readonly name = 'TxRejectedError';
}

export interface ChainStatus {
  chainId: string;
  chains: Array<{ chain: string; height: number; finalHeight?: number }>;
  peers?: number;
}

export interface SubmitResult {
  hash: string;
  chain: string;
  nonce: number;
  /** Present when waited for: the tx's final state. */
  state?: TxState;
}

export async function submitOp(o: { url: string; seed: Uint8Array; address: string; op: TxOp; fee: bigint; wait: boolean; timeoutMs?: number }): Promise<SubmitResult> {
  const st = await rpcCall<ChainStatus>(o.url, 'chain_status');
  const shards = st.chains.filter((c) => c.chain.startsWith('shard-')).length;
  const acct = await rpcCall<AccountNonces>(o.url, 'account_get', [o.address]);
  const chain = homeChain(o.address, shards);
  const tx: Tx = { chainId: st.chainId, chain, from: o.address, nonce: nextNonce(acct), fee: o.fee, op: o.op };
  let hash: string;
  try {
    hash = await rpcCall<string>(o.url, 'tx_submit', [signTx(tx, o.seed)]);
  } catch (e) {
    if (e instanceof RpcCallError) throw new TxRejectedError(`${o.op.type} refused by the node: ${e.message}`);
    throw e;
  }
  const out: SubmitResult = { hash, chain, nonce: acct.nonce };
  if (o.wait) out.state = await rpcWaitTx(rpcCall, o.url, hash, { timeoutMs: o.timeoutMs ?? 60_000 });
  return out;
}

/** The beacon's committed height (where registrations and unbonding are kept). */
export function beaconHeight(st: ChainStatus): number | undefined {
  return st.chains.find((c) => c.chain === 'beacon')?.height;
}

/** node_get as JSON (amounts are decimal strings). */
export interface NodeView {
  address: string;
  role: string;
  status: string;
  deposit: string;
  votes: string;
  stake: string;
  jailed: boolean;
  slashed: string;
  unbondingUntil?: number;
  endpoints: string[];
  price: string;
  region: string;
  keys: { consensus: string; onion: string | null };
  registeredAt: number;
  height: number;
}

const RPC_NOT_FOUND = -32001;

/** The node registered by `address`, or undefined when the beacon has none. */
export async function getNode(url: string, address: string): Promise<NodeView | undefined> {
  try {
    return await rpcCall<NodeView>(url, 'node_get', [address]);
  } catch (e) {
    if (e instanceof RpcCallError && e.code === RPC_NOT_FOUND) return undefined;
    throw e;
  }
}

/** Polls node_get until `done(view)` or `timeoutMs`; returns the last view. */
export async function pollNode(url: string, address: string, done: (v: NodeView | undefined) => boolean, timeoutMs: number): Promise<NodeView | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await getNode(url, address);
    if (done(v) || Date.now() >= end) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Loads a chain key file (node-key.json: {address, seed}); a missing/bad file is a UsageError. */
export function loadChainKey(path: string | undefined): { address: string; seed: Uint8Array } {
  if (path === undefined || path === '') throw new UsageError('--node-key FILE is required (see `toprelay init`)');
  try {
    const kp = readChainKey(path);
    return { address: kp.address, seed: new Uint8Array(Buffer.from(kp.seedHex, 'hex')) };
  } catch (err) {
    throw new UsageError(`--node-key ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`);
  }
}
