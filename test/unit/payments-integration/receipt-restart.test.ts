/**
 * Regression: a relay that went down (crash, no shutdown claim) while holding unclaimed
 * receipts, and whose payer closed the channel meanwhile, claims the best receipt as soon as it
 * is back (RelayPayments with a receiptsFile: relay/payments/receipt-store.ts). Before the store
 * the ReceiptBook lived only in memory and the restarted relay had nothing to claim. Plus the
 * store's own contract: round trip, tampered entries skipped, another relay's file and a
 * corrupt file refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimSplit, UNIT } from '../../../chain/state/index.js';
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { ReceiptBook } from '../../../relay/payments/meter.js';
import { ReceiptStore, ReceiptStoreError } from '../../../relay/payments/receipt-store.js';
import { RelayPayments } from '../../../relay/payments/service.js';
import { FakeChain, PARAMS } from '../payments/fake-chain.js';
import { CHAIN_ID, key, keyNear, signed } from '../payments/helpers.js';
import { RpcFakeNode } from './rpc-chain.js';

const PRICE = 1000n * UNIT;

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('restart: receipts kept on disk are claimed by the watchtower of the restarted relay after a close while it was down', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tn4-rstore-'));
  const payer = key('rs-payer');
  const relay = keyNear(payer, PARAMS.shardCount, 'rs-relay');
  const chain = new FakeChain(relay, [{ who: payer, amount: 100n * UNIT }]);
  const node = new RpcFakeNode(chain);
  const url = await node.listen();
  const file = join(dir, 'relay.receipts.json');
  const start = (receiptsFile?: string): Promise<RelayPayments> =>
    RelayPayments.start({ rpcUrl: url, relaySeed: relay.seed, pricePerGiB: PRICE, fee: PARAMS.minFee, log: silentLogger(), clock: new ManualClock(), claimTickMs: 3_600_000, ...(receiptsFile ? { receiptsFile } : {}) });
  const running: RelayPayments[] = [];
  try {
    const deposit = 20n * UNIT;
    const channelId = chain.open(payer, deposit);
    const ch = chain.findChannel(channelId)!;
    const pay1 = await start(file);
    running.push(pay1);
    const best = signed({ channelId, seq: 7, cumulativeBytes: 5n << 20n, cumulativeAmount: 5n * UNIT }, payer);
    assert.ok(pay1.book.restore(ch, best, { forward: 5n << 20n, backward: 0n }, PRICE));
    pay1.store!.save(pay1.book);
    // the relay dies without its shutdown claim; the payer closes meanwhile
    pay1.watcher.stop();
    chain.send(payer, { type: 'channel-close', channelId });
    node.mine();
    assert.equal(chain.findChannel(channelId)!.status, 'closing');
    assert.equal(chain.findChannel(channelId)!.claimed, 0n, 'the chain holds the old state');

    // a restart without the store knows nothing (the bug this guards against)
    const amnesiac = await start();
    running.push(amnesiac);
    assert.equal(amnesiac.book.accountsList().length, 0);
    await amnesiac.tick();
    assert.equal(chain.mempool.length, 0);

    // with the store: restored at start, claimed at once (reason watchtower)
    const relay0 = chain.balance(relay);
    const pay2 = await start(file);
    running.push(pay2);
    assert.equal(pay2.book.get(channelId)?.best?.receipt.seq, 7);
    await until('the restarted relay submits its watchtower claim', () => chain.mempool.length === 1);
    node.mine();
    const after = chain.findChannel(channelId)!;
    assert.equal(after.claimed, 5n * UNIT);
    assert.equal(after.seq, 7);
    const { burn } = claimSplit(5n * UNIT, PARAMS.claimBurnPercent);
    assert.equal(chain.balance(relay) - relay0, 5n * UNIT - burn - PARAMS.minFee);
  } finally {
    for (const p of running) await p.stop();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ReceiptStore: round trip; filtered save; tampered entries skipped; another relay\'s or a corrupt file refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tn4-rstore-'));
  try {
    const payer = key('rs2-payer');
    const relay = key('rs2-relay');
    const channelId = 'cd'.repeat(32);
    const ch = { id: channelId, payer: payer.address, relay: relay.address, deposit: 9n * UNIT };
    const book = new ReceiptBook();
    assert.ok(book.restore(ch, signed({ channelId, seq: 4, cumulativeBytes: 3n << 20n, cumulativeAmount: 3n * UNIT }, payer), { forward: 1234n, backward: 5678n }, PRICE, 20_000));
    const file = join(dir, 'r.json');
    const store = new ReceiptStore(file, relay.address, silentLogger());
    assert.deepEqual(store.load(), [], 'an absent file is an empty store');
    store.save(book);
    const back = new ReceiptBook();
    assert.deepEqual(store.restoreInto(back), { restored: 1, skipped: 0 });
    const a = back.get(channelId)!;
    assert.equal(a.best!.receipt.seq, 4);
    assert.equal(a.best!.receipt.cumulativeAmount, 3n * UNIT);
    assert.equal(a.best!.receipt.chainId, CHAIN_ID);
    assert.equal(a.servedForward, 1234n);
    assert.equal(a.servedBackward, 5678n);
    assert.equal(a.deposit, 9n * UNIT);
    assert.equal(a.lossAllowancePpm, 20_000);

    // a channel the filter rejects (the service passes "not finalized") is not written
    store.save(book, (id) => id !== channelId);
    assert.deepEqual(store.load(), []);
    store.save(book);

    // an amount raised on disk no longer verifies against the payer's signature
    const j = JSON.parse(readFileSync(file, 'utf8')) as { channels: Array<{ best: { receipt: { cumulativeAmount: string } } }> };
    j.channels[0]!.best.receipt.cumulativeAmount = (9n * UNIT).toString();
    writeFileSync(file, JSON.stringify(j));
    const tampered = new ReceiptBook();
    assert.deepEqual(store.restoreInto(tampered), { restored: 0, skipped: 1 });
    assert.equal(tampered.get(channelId)?.best ?? null, null);

    assert.throws(() => new ReceiptStore(file, key('rs2-other').address, silentLogger()).load(), (e: unknown) => e instanceof ReceiptStoreError && /not ours/.test(e.message));
    writeFileSync(file, '{"version":1,');
    assert.throws(() => store.load(), (e: unknown) => e instanceof ReceiptStoreError && /not JSON/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
