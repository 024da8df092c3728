/** RPC views and checks shared by the devnet e2e tests (chain-epoch, chain-outsider, chain-devnet, payments-attacks-chain), and the transfer they and the in-memory cluster sign. */
import assert from 'node:assert/strict';
import { decidedSupply, rpcCall, type SupplyAnswer } from '../../chain/node/rpc-client.js';
import type { KeyPair } from '../../chain/node/keys.js';
import { homeChain, signTx, UNIT, type SignedTx } from '../../chain/state/index.js';

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

/** True iff every node's `chain` has `field` (its head or its final height) ≥ h. */
export async function allReached(urls: readonly string[], field: 'height' | 'finalHeight', h: number, chain = 'shard-0'): Promise<boolean> {
  for (const u of urls) if ((await chainOf(u, chain))[field] < h) return false;
  return true;
}

/** True iff every node's `chain` has finalHeight ≥ h. */
export function allFinalAt(urls: readonly string[], h: number, chain = 'shard-0'): Promise<boolean> {
  return allReached(urls, 'finalHeight', h, chain);
}

export function committeeAt(url: string, chain: string, height: number): Promise<CommitteeView> {
  return rpcCall<CommitteeView>(url, 'committee_get', [chain, height]);
}

export function blockAt(url: string, chain: string, height: number): Promise<BlockView> {
  return rpcCall<BlockView>(url, 'chain_getBlock', [chain, height]);
}

export async function balanceOf(url: string, address: string): Promise<bigint> {
  return BigInt((await rpcCall<{ balance: string }>(url, 'account_get', [address])).balance);
}

/** True iff every node's beacon registry holds each of `addresses` with status 'active'. */
export async function allActive(urls: readonly string[], addresses: readonly string[]): Promise<boolean> {
  for (const u of urls) for (const x of addresses) if ((await rpcCall<{ status: string }>(u, 'node_get', [x])).status !== 'active') return false;
  return true;
}

/**
 * Once every tx of `hashes` is final on every node: the heights every node reports for them
 * (nodes × hashes); undefined while any is not final somewhere.
 */
export async function finalTxHeights(urls: readonly string[], hashes: readonly string[]): Promise<number[] | undefined> {
  const heights: number[] = [];
  for (const u of urls) {
    for (const h of hashes) {
      const st = await rpcCall<{ status: string; height?: number }>(u, 'tx_get', [h]);
      if (st.status !== 'final' || st.height === undefined) return undefined;
      heights.push(st.height);
    }
  }
  return heights;
}

/**
 * First height k·L+1 whose committee of `chain` (as `url` knows it) satisfies `pred`, or
 * undefined if no election known at `url` does yet.
 */
export async function firstElectedHeight(url: string, chain: string, epochBlocks: number, pred: (c: CommitteeView) => boolean): Promise<number | undefined> {
  for (let k = 1; ; k++) {
    let c: CommitteeView;
    try {
      c = await committeeAt(url, chain, k * epochBlocks + 1);
    } catch {
      return undefined; // not elected yet
    }
    if (pred(c)) return k * epochBlocks + 1;
  }
}

/** First height k·L+1 whose committee of `chain` (as `url` knows it) seats `address`. */
export function firstSeatedHeight(url: string, chain: string, address: string, epochBlocks: number): Promise<number | undefined> {
  return firstElectedHeight(url, chain, epochBlocks, (c) => c.validators.includes(address));
}

/** Asserts every node derived the same committee of `chain` at `height`; returns it. */
export async function assertSameCommittee(urls: readonly string[], chain: string, height: number): Promise<CommitteeView> {
  const ref = await committeeAt(urls[0]!, chain, height);
  for (const u of urls.slice(1)) assert.deepEqual(await committeeAt(u, chain, height), ref, `same committee of ${chain} at ${height} on ${u}`);
  return ref;
}

/**
 * Block `height` of `chain` at `url` with the committee in charge of it and its QC's signers;
 * asserts the QC holds ≥ `quorum` votes, all by that committee's validators.
 */
export async function certifiedBlock(url: string, chain: string, height: number, quorum: number): Promise<{ block: BlockView; committee: CommitteeView; signers: string[] }> {
  const committee = await committeeAt(url, chain, height);
  const block = await blockAt(url, chain, height);
  const signers = block.qc.votes.map((v) => v.signer);
  assert.ok(signers.length >= quorum && signers.every((s) => committee.validators.includes(s)), `QC of ${chain}#${height} by its own committee`);
  return { block, committee, signers };
}

/**
 * Asserts the committee starting at `height` (first view `firstView`) builds on the previous
 * committee's last block, and the views of the two periods are disjoint.
 */
export async function assertHandover(url: string, chain: string, height: number, firstView: number): Promise<void> {
  const first = await blockAt(url, chain, height);
  const last = await blockAt(url, chain, height - 1);
  assert.equal(first.justify.blockHash, last.hash, `the new committee of ${chain} builds on the old one's last block`);
  assert.ok(first.view >= firstView && last.view < firstView, `views of the two ${chain} periods are disjoint`);
}

/** Asserts every node holds the same block hash and state root at each height of from..to. */
export async function assertSameBlocks(urls: readonly string[], chain: string, from: number, to: number): Promise<void> {
  for (let height = from; height <= to; height++) {
    const ref = await blockAt(urls[0]!, chain, height);
    for (const u of urls.slice(1)) {
      const other = await blockAt(u, chain, height);
      assert.equal(other.hash, ref.hash, `same block at ${chain}#${height} on ${u}`);
      assert.equal(other.stateRoot, ref.stateRoot, `same state root at ${chain}#${height} on ${u}`);
    }
  }
}

/**
 * Asserts every node reports a sound supply (supply_get ok). A node whose chains are not yet a
 * consistent cut (one chain ahead of another while it catches up) is asked again for up to 20 s.
 */
export async function assertSupplyOk(urls: readonly string[]): Promise<void> {
  for (const u of urls) {
    const s = await decidedSupply(() => rpcCall<SupplyAnswer>(u, 'supply_get'));
    assert.equal(s.ok, true, `supply on ${u}: ${s.message}`);
  }
}

/** Asserts every node reports the same balance of `address`. */
export async function assertSameBalance(urls: readonly string[], address: string): Promise<void> {
  const ref = await balanceOf(urls[0]!, address);
  for (const u of urls.slice(1)) assert.equal(await balanceOf(u, address), ref, `same balance of ${address} on ${u}`);
}

/**
 * A signed transfer of `top` whole TOP from `from` to `to`, fee 0.01 TOP, on `chain` (default:
 * the sender's home shard of `shards`; a test may name another to get it refused).
 */
export function devnetTransfer(d: { readonly chainId: string; readonly shards: number }, from: KeyPair, to: string, top: bigint, nonce: number, chain: string = homeChain(from.address, d.shards)): SignedTx {
  return signTx(
    { chainId: d.chainId, chain: chain as SignedTx['tx']['chain'], from: from.address, nonce, fee: UNIT / 100n, op: { type: 'transfer', to, amount: top * UNIT } },
    Buffer.from(from.seedHex, 'hex'),
  );
}
