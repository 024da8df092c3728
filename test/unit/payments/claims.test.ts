import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimSplit, signPaymentReceipt, UNIT, type Channel, type PaymentReceipt } from '../../../chain/state/index.js';
import { MiB } from '../../../protocol/payment-price.js';
import type { SignedPaymentReceipt } from '../../../protocol/payment.js';
import { ClaimWorker, defaultClaimPolicy, planClaims, type ClaimPolicy } from '../../../relay/payments/claims.js';
import { ClaimConfigError } from '../../../relay/payments/errors.js';
import { FakeChain, PARAMS } from './fake-chain.js';
import { CHAIN_ID, key, keyNear } from './helpers.js';

const PRICE = UNIT; // 1 TOP per GiB
const payer = key('claims-payer');
const payer2 = key('claims-payer-2');
const relayKey = keyNear(payer, PARAMS.shardCount, 'claims-relay');
const policy: ClaimPolicy = defaultClaimPolicy({ pricePerGiB: PRICE, fee: PARAMS.minFee, burnPercent: PARAMS.claimBurnPercent });

function receipt(channelId: string, seq: number, amount: bigint, by = payer): SignedPaymentReceipt {
  const r: PaymentReceipt = { chainId: CHAIN_ID, channelId, cumulativeBytes: BigInt(seq) * MiB, cumulativeAmount: amount, seq };
  return { receipt: r, signature: signPaymentReceipt(r, by.seed) };
}

class Book {
  best = new Map<string, SignedPaymentReceipt>();
  bestReceipts(): Map<string, SignedPaymentReceipt> {
    return this.best;
  }
}

function setup(deposit = 10n * UNIT): { chain: FakeChain; id: string; book: Book; worker: ClaimWorker } {
  const chain = new FakeChain(relayKey, [{ who: payer, amount: 1000n * UNIT }, { who: payer2, amount: 1000n * UNIT }]);
  const id = chain.open(payer, deposit);
  const book = new Book();
  return { chain, id, book, worker: new ClaimWorker(chain, book, policy) };
}

test('default policy: threshold = the value of 1 GiB at our price, at least 10 fees', () => {
  assert.equal(policy.thresholdAmount, PRICE);
  assert.equal(defaultClaimPolicy({ pricePerGiB: 5n, fee: 10n, burnPercent: 10n }).thresholdAmount, 100n);
  assert.equal(defaultClaimPolicy({ pricePerGiB: PRICE, fee: 10n, burnPercent: 10n, thresholdBytes: 512n * MiB }).thresholdAmount, PRICE / 2n);
  assert.throws(() => defaultClaimPolicy({ pricePerGiB: -1n, fee: 10n, burnPercent: 10n }), ClaimConfigError);
});

test('threshold: nothing below it; at it one claim, pending until mined, never the same seq twice', async () => {
  const { chain, id, book, worker } = setup();
  book.best.set(id, receipt(id, 1, PRICE - 1n));
  let r = await worker.tick();
  assert.deepEqual(r.submitted, []);
  assert.deepEqual(r.skipped, [{ channelId: id, why: 'below_threshold' }]);
  book.best.set(id, receipt(id, 2, PRICE));
  r = await worker.tick();
  assert.equal(r.submitted.length, 1);
  assert.equal(r.submitted[0]!.reason, 'threshold');
  assert.equal(r.submitted[0]!.delta, PRICE);
  r = await worker.tick(); // not mined yet
  assert.deepEqual(r.submitted, []);
  assert.deepEqual(r.skipped, [{ channelId: id, why: 'pending' }]);
  book.best.set(id, receipt(id, 3, PRICE + 5n)); // a newer receipt does not trigger a second threshold claim while pending
  assert.deepEqual((await worker.tick()).skipped, [{ channelId: id, why: 'pending' }]);
  const burned0 = chain.burned();
  chain.mine();
  r = await worker.tick();
  assert.equal(r.confirmed.length, 1);
  const c = r.confirmed[0]!;
  assert.deepEqual({ seq: c.seq, delta: c.delta, burn: c.burn, fee: c.fee }, { seq: 2, delta: PRICE, burn: PRICE / 10n, fee: PARAMS.minFee });
  assert.equal(c.net, PRICE - PRICE / 10n - PARAMS.minFee);
  assert.equal(chain.burned() - burned0, PRICE / 10n + PARAMS.minFee);
  assert.equal(chain.findChannel(id)!.claimed, PRICE);
  assert.equal(chain.submissions, 1);
  assert.deepEqual(r.skipped, [{ channelId: id, why: 'dust' }]); // 5 units new: less than the fee
  assert.equal(chain.balance(relayKey), c.net);
});

test('shutdown: every channel with anything claimable, whatever the threshold', async () => {
  const { chain, id, book, worker } = setup();
  const id2 = chain.open(payer2, 5n * UNIT);
  book.best.set(id, receipt(id, 4, 1000n));
  book.best.set(id2, receipt(id2, 1, 2000n, payer2));
  assert.deepEqual((await worker.tick()).submitted, []);
  const r = await worker.tick('shutdown');
  assert.deepEqual(r.submitted.map((s) => [s.channelId, s.reason, s.delta]).sort(), [[id, 'shutdown', 1000n], [id2, 'shutdown', 2000n]].sort());
  chain.mine();
  const done = await worker.tick('shutdown');
  assert.equal(done.confirmed.length, 2);
  assert.deepEqual(done.submitted, []);
  assert.deepEqual(done.skipped.map((s) => s.why), ['nothing_new', 'nothing_new']);
});

test('watchtower: a close of our channel is claimed at once (below threshold), before the window ends', async () => {
  const { chain, id, book, worker } = setup();
  book.best.set(id, receipt(id, 7, 12345n));
  await worker.tick();
  chain.send(payer, { type: 'channel-close', channelId: id });
  chain.mine();
  const closesAt = chain.findChannel(id)!.closesAt!;
  worker.onChannelClosing(id); // the chain event
  const r = await worker.tick();
  assert.equal(r.submitted.length, 1);
  assert.equal(r.submitted[0]!.reason, 'watchtower');
  chain.mine();
  assert.ok(chain.height(chain.home(payer.address)) < closesAt);
  assert.equal(chain.findChannel(id)!.claimed, 12345n);
  await worker.tick();
  // after the window the payer gets the rest back, and the relay kept its claim
  const bal0 = chain.balance(payer);
  while (chain.height(chain.home(payer.address)) < closesAt - 1) chain.mine();
  chain.send(payer, { type: 'channel-finalize', channelId: id });
  chain.mine();
  assert.equal(chain.balance(payer) - bal0, 10n * UNIT - 12345n - PARAMS.minFee);
  const { burn } = claimSplit(12345n, 10n);
  assert.equal(chain.balance(relayKey), 12345n - burn - PARAMS.minFee);
});

test('watchtower without events: the periodic refresh notices the close', async () => {
  const { chain, id, book } = setup();
  const worker = new ClaimWorker(chain, book, policy, { refreshEveryTicks: 3 });
  book.best.set(id, receipt(id, 2, 5000n));
  await worker.tick(); // fetched: open, below threshold
  chain.send(payer, { type: 'channel-close', channelId: id });
  chain.mine();
  assert.deepEqual((await worker.tick()).submitted, []); // view 1 tick old
  assert.deepEqual((await worker.tick()).submitted, []);
  const r = await worker.tick(); // 3 ticks since the fetch: re-read
  assert.equal(r.submitted[0]?.reason, 'watchtower');
});

test('a relay offline during the close claims when it comes back before the window ends', async () => {
  const { chain, id, book, worker } = setup();
  book.best.set(id, receipt(id, 3, 777n));
  await worker.tick();
  chain.send(payer, { type: 'channel-close', channelId: id });
  chain.mine();
  const closesAt = chain.findChannel(id)!.closesAt!;
  // the relay is down: no ticks, no events, while 5 of the 10 window blocks pass
  for (let i = 0; i < 5; i++) chain.mine();
  // it restarts with its persisted best receipts and a fresh worker
  const restarted = new ClaimWorker(chain, book, policy);
  const r = await restarted.tick();
  assert.equal(r.submitted.length, 1);
  assert.equal(r.submitted[0]!.reason, 'watchtower');
  chain.mine();
  assert.ok(chain.height(chain.home(payer.address)) < closesAt);
  assert.equal(chain.findChannel(id)!.claimed, 777n);
  assert.equal((await restarted.tick()).confirmed.length, 1);
});

test('a relay back after the payer finalized can claim nothing (reported as finalized)', async () => {
  const { chain, id, book } = setup();
  book.best.set(id, receipt(id, 3, 777n));
  chain.send(payer, { type: 'channel-close', channelId: id });
  chain.mine();
  for (let i = 0; i < PARAMS.challengeWindowBlocks; i++) chain.mine();
  chain.send(payer, { type: 'channel-finalize', channelId: id });
  chain.mine();
  const r = await new ClaimWorker(chain, book, policy).tick();
  assert.deepEqual(r.submitted, []);
  assert.deepEqual(r.skipped, [{ channelId: id, why: 'finalized' }]);
});

test('a failed submission is retried with backoff 1, 2, 4 ticks; one tx reaches the chain', async () => {
  const { chain, id, book, worker } = setup();
  book.best.set(id, receipt(id, 1, 2n * PRICE));
  chain.failSubmissions = 3;
  const log: string[] = [];
  for (let t = 1; t <= 9; t++) {
    const r = await worker.tick();
    log.push(r.failed.length ? 'F' : r.submitted.length ? 'S' : r.skipped[0]!.why === 'backoff' ? 'b' : r.skipped[0]!.why);
  }
  // tick1 fail → retry at 2; tick2 fail → retry at 4; tick4 fail → retry at 8
  assert.deepEqual(log, ['F', 'F', 'b', 'F', 'b', 'b', 'b', 'S', 'pending']);
  assert.equal(chain.submissions, 4);
  assert.equal(chain.mempool.length, 1);
  chain.mine();
  assert.equal((await worker.tick()).confirmed.length, 1);
});

test('watchtower retries every tick (the window is short)', async () => {
  const { chain, id, book, worker } = setup();
  book.best.set(id, receipt(id, 1, 100n));
  chain.send(payer, { type: 'channel-close', channelId: id });
  chain.mine();
  chain.failSubmissions = 3;
  const kinds: string[] = [];
  for (let t = 0; t < 5; t++) {
    const r = await worker.tick();
    kinds.push(r.failed.length ? 'F' : r.submitted.length ? 'S' : r.skipped[0]!.why);
  }
  assert.deepEqual(kinds, ['F', 'F', 'F', 'S', 'pending']);
});

test('a claim accepted by the node but never mined is resubmitted after the confirm timeout (same seq, claimed once)', async () => {
  const { chain, id, book } = setup();
  const worker = new ClaimWorker(chain, book, policy, { confirmTimeoutTicks: 3 });
  book.best.set(id, receipt(id, 4, 3n * PRICE));
  chain.dropSubmissions = 1;
  assert.equal((await worker.tick()).submitted.length, 1);
  assert.equal((await worker.tick()).skipped[0]!.why, 'pending');
  assert.equal((await worker.tick()).skipped[0]!.why, 'pending');
  const r = await worker.tick();
  assert.deepEqual(r.dropped, [id]);
  assert.equal(r.submitted.length, 1);
  assert.equal(r.submitted[0]!.best.receipt.seq, 4);
  chain.mine();
  const c = await worker.tick();
  assert.equal(c.confirmed.length, 1);
  assert.equal(chain.findChannel(id)!.claimed, 3n * PRICE);
  assert.equal(chain.findChannel(id)!.seq, 4);
});

test('chain unreachable: the worker keeps its view and claims once it is back', async () => {
  const { chain, id, book, worker } = setup();
  book.best.set(id, receipt(id, 1, 2n * PRICE));
  chain.offline = true;
  const r = await worker.tick();
  assert.deepEqual(r.skipped, [{ channelId: id, why: 'not_fetched' }]);
  chain.offline = false;
  assert.equal((await worker.tick()).submitted.length, 1);
});

test('planClaims: dust, stale seq, deposit cap, unknown channel', () => {
  const ch: Channel = { id: 'aa'.repeat(32), payer: payer.address, relay: relayKey.address, deposit: 1000n * PRICE, claimed: 500n, seq: 5, cumulativeBytes: 0n, status: 'open', openedAt: 1, closesAt: null };
  const best = (seq: number, amount: bigint): SignedPaymentReceipt => receipt(ch.id, seq, amount);
  const plan = (b: SignedPaymentReceipt, c: Channel | null, mode: 'normal' | 'shutdown' = 'shutdown') => planClaims([{ best: b, chain: c }], policy, { mode, tick: 1 });
  assert.deepEqual(plan(best(5, 10n * PRICE), ch).skip, [{ channelId: ch.id, why: 'nothing_new' }]); // seq not above claimed seq
  assert.deepEqual(plan(best(6, 500n), ch).skip, [{ channelId: ch.id, why: 'nothing_new' }]); // amount not above claimed
  // delta 21: burn 3, relay 18 > fee 10 → claimable; delta 11: burn 2, relay 9 ≤ 10 → dust
  assert.equal(plan(best(6, 521n), ch).submit[0]?.delta, 21n);
  assert.deepEqual(plan(best(6, 511n), ch).skip, [{ channelId: ch.id, why: 'dust' }]);
  assert.equal(plan(best(6, 2000n * PRICE), ch).submit[0]?.delta, 1000n * PRICE - 500n); // capped at the deposit
  assert.deepEqual(plan(best(6, 2000n), null).skip, [{ channelId: ch.id, why: 'unknown_channel' }]);
  assert.equal(plan(best(6, 500n + PRICE), ch, 'normal').submit[0]?.reason, 'threshold');
  assert.deepEqual(plan(best(6, 499n + PRICE), ch, 'normal').skip, [{ channelId: ch.id, why: 'below_threshold' }]);
  // watchtower claims a newer receipt even while an older claim is pending
  const closing = { ...ch, status: 'closing' as const, closesAt: 50 };
  assert.equal(planClaims([{ best: best(7, 600n), chain: closing, pendingSeq: 6 }], policy, { mode: 'normal', tick: 1 }).submit[0]?.reason, 'watchtower');
  assert.deepEqual(planClaims([{ best: best(6, 600n), chain: closing, pendingSeq: 6 }], policy, { mode: 'normal', tick: 1 }).skip, [{ channelId: ch.id, why: 'pending' }]);
});
