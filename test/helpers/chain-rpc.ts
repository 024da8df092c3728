/** RPC views and checks shared by the devnet e2e tests (chain-epoch, chain-outsider). */
import assert from 'node:assert/strict';
import { rpcCall } from '../../chain/node/rpc-client.js';

export interface ChainStatusView {
  chains: Array<{ chain: string; height: number; finalHeight: number; validator: boolean; epoch: number }>;
}

export interface CommitteeView {
  epoch: number;
  validators: string[];
  auditors: string[];
  firstView: number;
}

export interface BlockView {
  hash: string;
  view: number;
  proposer: string;
  stateRoot: string;
  qc: { votes: Array<{ signer: string }> };
  audit: { signers: string[] } | null;
  justify: { view: number; blockHash: string };
}

/** One chain's entry of a node's chain_status. */
export async function chainOf(url: string, chain = 'shard-0'): Promise<ChainStatusView['chains'][number]> {
  const c = (await rpcCall<ChainStatusView>(url, 'chain_status')).chains.find((x) => x.chain === chain);
  if (!c) throw new Error(`no ${chain} on ${url}`);
  return c;
}

/** True iff every node's `chain` has finalHeight ≥ h. */
export async function allFinalAt(urls: readonly string[], h: number, chain = 'shard-0'): Promise<boolean> {
  for (const u of urls) if ((await chainOf(u, chain)).finalHeight < h) return false;
  return true;
}

/**
 * First height k·L+1 whose committee of `chain` (as `url` knows it) seats `address`, or
 * undefined if no election known at `url` seats it yet.
 */
export async function firstSeatedHeight(url: string, chain: string, address: string, epochBlocks: number): Promise<number | undefined> {
  for (let k = 1; ; k++) {
    let c: CommitteeView;
    try {
      c = await rpcCall<CommitteeView>(url, 'committee_get', [chain, k * epochBlocks + 1]);
    } catch {
      return undefined; // not elected yet
    }
    if (c.validators.includes(address)) return k * epochBlocks + 1;
  }
}

/** Asserts every node holds the same block hash and state root at each height of from..to. */
export async function assertSameBlocks(urls: readonly string[], chain: string, from: number, to: number): Promise<void> {
  for (let height = from; height <= to; height++) {
    const ref = await rpcCall<BlockView>(urls[0]!, 'chain_getBlock', [chain, height]);
    for (const u of urls.slice(1)) {
      const other = await rpcCall<BlockView>(u, 'chain_getBlock', [chain, height]);
      assert.equal(other.hash, ref.hash, `same block at ${chain}#${height} on ${u}`);
      assert.equal(other.stateRoot, ref.stateRoot, `same state root at ${chain}#${height} on ${u}`);
    }
  }
}
