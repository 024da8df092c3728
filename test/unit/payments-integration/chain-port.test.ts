/**
 * RpcChainPort, ChannelWatcher and ClientChain over real HTTP / WebSocket JSON-RPC (the node's
 * RpcServer, in-process) backed by the real chain/state transition: open a channel, claim over
 * RPC, the watchtower claims when the payer closes, refund after the challenge window; the
 * polling fallback when there is no subscription.
 */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { channelIdFor, claimSplit, signPaymentReceipt, UNIT, type PaymentReceipt } from '../../../chain/state/index.js';
import { RpcCallError } from '../../../chain/node/rpc-client.js';
import { silentLogger } from '../../../common/log.js';
import { MiB, amountForBytes } from '../../../protocol/payment-price.js';
import type { SignedPaymentReceipt } from '../../../protocol/payment.js';
import { ClientChain, seedSigner, TxRejectedError } from '../../../client/payments/chain.js';
import { importWallet, loadWallet } from '../../../client/wallet/keystore.js';
import { planChannels } from '../../../client/payments/channels.js';
import { ChannelWatcher, RpcChainPort } from '../../../relay/payments/chain-port.js';
import { ChainRpcError, type RpcCallFn } from '../../../relay/payments/chain-rpc.js';
import { ClaimWorker, defaultClaimPolicy } from '../../../relay/payments/claims.js';
import { FakeChain, PARAMS } from '../payments/fake-chain.js';
import { CHAIN_ID, key, keyNear } from '../payments/helpers.js';
import { RpcFakeNode } from './rpc-chain.js';

const PRICE = UNIT;

function receipt(channelId: string, seq: number, bytes: bigint, by: Uint8Array): SignedPaymentReceipt {
  const r: PaymentReceipt = { chainId: CHAIN_ID, channelId, cumulativeBytes: bytes, cumulativeAmount: amountForBytes(bytes, PRICE), seq };
  return { receipt: r, signature: signPaymentReceipt(r, by) };
}

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('over JSON-RPC: client opens a planned channel, relay claims, watchtower claims on close, payer refunded after the window', { timeout: 60_000 }, async () => {
  const payer = key('rpc-payer');
  const relay = keyNear(payer, PARAMS.shardCount, 'rpc-relay');
  const chain = new FakeChain(relay, [{ who: payer, amount: 100n * UNIT }]);
  const node = new RpcFakeNode(chain);
  const url = await node.listen();
  let watcher: ChannelWatcher | undefined;
  try {
    // the payer signs with its client/wallet keystore (Wallet satisfies TxSigner)
    const wdir = mkdtempSync(join(tmpdir(), 'tvq-wallet-'));
    await importWallet(join(wdir, 'wallet.json'), Buffer.from(payer.seed).toString('hex'), 'pw', { kdf: { N: 2 ** 10 } });
    const wallet = await loadWallet(join(wdir, 'wallet.json'), 'pw');
    rmSync(wdir, { recursive: true, force: true });
    const client = await ClientChain.connect({ url, signer: wallet, fee: PARAMS.minFee });
    assert.equal(client.o.chainId, CHAIN_ID);
    assert.equal(client.o.shardCount, PARAMS.shardCount);
    assert.equal(client.payer, payer.address);

    // open per plan; the wait resolves once the tx is final with an ok result
    const plan = planChannels([{ relay: relay.address, pricePerGiB: PRICE }], [], { budget: 20n * UNIT, openFee: PARAMS.minFee });
    const opening = client.openPlanned(plan, { pollMs: 10, timeoutMs: 5_000 });
    await until('open submitted', () => chain.mempool.length === 1);
    node.mine();
    const [opened] = await opening;
    const channelId = opened!.channelId;
    const ch = await client.getChannel(channelId);
    assert.ok(ch);
    assert.equal(ch.status, 'open');
    assert.equal(ch.deposit, 10n * UNIT);
    assert.equal(ch.relay, relay.address);
    assert.equal(typeof ch.deposit, 'bigint');
    assert.equal(await client.getChannel('ee'.repeat(32)), null);
    const { balance } = await client.account();
    assert.equal(balance, 100n * UNIT - 10n * UNIT - PARAMS.minFee);

    // relay: claim worker over RpcChainPort
    const port = await RpcChainPort.connect({ url, relaySeed: relay.seed, relay: relay.address, fee: PARAMS.minFee });
    const best = new Map<string, SignedPaymentReceipt>([[channelId, receipt(channelId, 3, 2048n * MiB, payer.seed)]]);
    const worker = new ClaimWorker(port, { bestReceipts: () => best }, defaultClaimPolicy({ pricePerGiB: PRICE, fee: PARAMS.minFee, burnPercent: PARAMS.claimBurnPercent }));
    const relayBefore = chain.balance(relay);
    const burnedBefore = chain.burned();
    const t1 = await worker.tick();
    assert.equal(t1.submitted.length, 1, JSON.stringify(t1.skipped));
    assert.equal(t1.submitted[0]!.reason, 'threshold');
    const st = port.waitTx(t1.submitted[0]!.txHash, { pollMs: 10, timeoutMs: 5_000 });
    node.mine();
    assert.equal((await st).status, 'final');
    const t2 = await worker.tick();
    assert.equal(t2.confirmed.length, 1);
    const k1 = t2.confirmed[0]!;
    assert.equal(k1.delta, 2n * UNIT);
    assert.equal(k1.burn, claimSplit(2n * UNIT, 10n).burn);
    assert.equal(k1.burn, (2n * UNIT) / 10n);
    assert.equal(chain.balance(relay) - relayBefore, k1.delta - k1.burn - PARAMS.minFee);
    assert.equal(chain.burned() - burnedBefore, k1.burn + PARAMS.minFee);

    // a stale claim is refused by the node, naming the rule
    await assert.rejects(port.submitClaim(best.get(channelId)!.receipt, best.get(channelId)!.signature), (e: unknown) => e instanceof ChainRpcError && /stale|seq/.test(e.message));

    // watchtower: subscribe, the payer closes, the relay claims its newer (sub-threshold) receipt at once
    const closing: string[] = [];
    watcher = new ChannelWatcher({
      url,
      port,
      isOurs: (id) => best.has(id),
      channels: () => best.keys(),
      onClosing: (id) => {
        closing.push(id);
        worker.onChannelClosing(id);
      },
      log: silentLogger(),
      pollMs: 60_000,
    });
    assert.equal(await watcher.start(), 'subscription');
    best.set(channelId, receipt(channelId, 4, 2048n * MiB + 100n * MiB, payer.seed));
    const t3 = await worker.tick();
    assert.equal(t3.submitted.length, 0, 'below the threshold while open');
    const closeHash = await client.closeChannel(channelId);
    node.mine();
    await client.waitFinal(closeHash, { pollMs: 10 });
    await until('close event', () => closing.length === 1);
    assert.equal(closing[0], channelId);
    assert.equal(watcher.events, 1);
    const t4 = await worker.tick();
    assert.equal(t4.submitted.length, 1);
    assert.equal(t4.submitted[0]!.reason, 'watchtower');
    node.mine();
    const t5 = await worker.tick();
    assert.equal(t5.confirmed.length, 1);
    const after = chain.findChannel(channelId)!;
    assert.equal(after.status, 'closing');
    assert.equal(after.claimed, amountForBytes(2148n * MiB, PRICE));
    assert.equal(after.seq, 4);

    // finalize: refused inside the window, refund after it
    await assert.rejects(client.finalizeChannel(channelId), (e: unknown) => e instanceof TxRejectedError && e.rule === 'channel-finalize' && /challenge window/.test(e.message));
    for (let i = 0; i < PARAMS.challengeWindowBlocks; i++) node.mine();
    const payerBefore = chain.balance(payer);
    const fin = await client.finalizeChannel(channelId);
    node.mine();
    await client.waitFinal(fin, { pollMs: 10 });
    assert.equal(chain.findChannel(channelId)!.status, 'finalized');
    assert.equal(chain.balance(payer) - payerBefore, 10n * UNIT - after.claimed - PARAMS.minFee);
  } finally {
    watcher?.stop();
    await node.close();
  }
});

test('watchtower falls back to polling when the subscription is unavailable', { timeout: 30_000 }, async () => {
  const payer = key('poll-payer');
  const relay = keyNear(payer, PARAMS.shardCount, 'poll-relay');
  const chain = new FakeChain(relay, [{ who: payer, amount: 100n * UNIT }]);
  const node = new RpcFakeNode(chain);
  const url = await node.listen();
  const channelId = chain.open(payer, 5n * UNIT);
  const port = await RpcChainPort.connect({ url, relaySeed: relay.seed, relay: relay.address, fee: PARAMS.minFee });
  const closing: string[] = [];
  // the WebSocket endpoint is a port where nothing listens; reads go to the real node
  const watcher = new ChannelWatcher({ url: 'http://127.0.0.1:1', port, isOurs: () => true, channels: () => [channelId], onClosing: (id) => closing.push(id), log: silentLogger(), pollMs: 60_000 });
  try {
    assert.equal(await watcher.start(), 'polling');
    await watcher.poll();
    assert.equal(closing.length, 0, 'an open channel is not reported');
    chain.send(payer, { type: 'channel-close', channelId });
    chain.mine();
    await watcher.poll();
    assert.deepEqual(closing, [channelId]);
    await watcher.poll();
    assert.equal(closing.length, 1, 'reported once');
    assert.ok(watcher.polls >= 3);
  } finally {
    watcher.stop();
    await node.close();
  }
  // a malformed seed is refused up front
  assert.throws(() => new RpcChainPort({ url, chainId: CHAIN_ID, shardCount: 2, relaySeed: new Uint8Array(3), relay: relay.address, fee: 1n }), ChainRpcError);
});

test('ClientChain: signs with the node\'s pendingNonce and steps past a nonce another process still holds; other refusals are not retried', async () => {
  const payer = key('nonce-payer');
  const relay = keyNear(payer, PARAMS.shardCount, 'nonce-relay');
  const submitted: number[] = [];
  let taken = new Set<number>([5]);
  const call = (async (_url: string, method: string, params?: unknown) => {
    if (method === 'account_get') return { balance: '100', nonce: 3, pendingNonce: 5 };
    if (method === 'tx_submit') {
      const nonce = ((params as Array<{ tx: { nonce: number } }>)[0]!).tx.nonce;
      submitted.push(nonce);
      if (taken.has(nonce)) throw new RpcCallError(-32000, `mempool: nonce: a transaction with nonce ${nonce} from this sender is already pending`, { rule: 'mempool' });
      if (nonce > 20) throw new RpcCallError(-32000, 'transfer: balance too low', { rule: 'transfer' });
      return `hash-${nonce}`;
    }
    throw new Error(`unexpected ${method}`);
  }) as RpcCallFn;
  const client = new ClientChain({ url: 'http://unused', chainId: CHAIN_ID, shardCount: PARAMS.shardCount, signer: seedSigner(payer.seed), fee: PARAMS.minFee, call });
  const a = await client.openChannel(relay.address, UNIT);
  assert.deepEqual(submitted, [5, 6], 'nonce 3 is committed, 3..4 pending elsewhere (pendingNonce 5), 5 taken by a racing process');
  assert.equal(a.txHash, 'hash-6');
  assert.equal(a.channelId, channelIdFor(CHAIN_ID, payer.address, 6));
  // The next tx of this process continues after its own.
  submitted.length = 0;
  await client.closeChannel(a.channelId);
  assert.deepEqual(submitted, [7]);
  // Every nonce taken: at most NONCE_RETRIES (8) more, then the refusal surfaces.
  submitted.length = 0;
  taken = new Set(Array.from({ length: 30 }, (_, i) => i));
  await assert.rejects(client.closeChannel(a.channelId), (e: unknown) => e instanceof TxRejectedError && /already pending/.test(e.message));
  assert.deepEqual(submitted, [8, 9, 10, 11, 12, 13, 14, 15, 16]);
  // A refusal for another reason is not retried.
  submitted.length = 0;
  taken = new Set();
  const rich = new ClientChain({ url: 'http://unused', chainId: CHAIN_ID, shardCount: PARAMS.shardCount, signer: seedSigner(payer.seed), fee: PARAMS.minFee, call: (async (u: string, m: string, p?: unknown) => (m === 'account_get' ? { balance: '1', nonce: 21, pendingNonce: 21 } : call(u, m, p as unknown[]))) as RpcCallFn });
  await assert.rejects(rich.openChannel(relay.address, UNIT), (e: unknown) => e instanceof TxRejectedError && e.rule === 'transfer');
  assert.deepEqual(submitted, [21]);
});
