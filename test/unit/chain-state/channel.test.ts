import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTx, channelIdFor, claimSplit, signPaymentReceipt, stateRoot, type PaymentReceipt, type SignedTx } from '../../../chain/state/index.js';
import { keyOn, P, World, TOP } from './helpers.js';

const payer = keyOn('shard-0');
const relaySame = keyOn('shard-0', P, 1);
const relayFar = keyOn('shard-1');
const stranger = keyOn('shard-1', P, 1);

function setup(relay = relaySame): { w: World; id: string } {
  const w = new World(P, [{ who: payer, amount: 1000n * TOP }, { who: stranger, amount: 1n * TOP }]);
  const open = w.tx(payer, { type: 'channel-open', relay: relay.address, deposit: 100n * TOP });
  assert.equal(w.run(open).status, 'ok');
  return { w, id: channelIdFor(P.chainId, payer.address, 0) };
}

function receipt(id: string, seq: number, amount: bigint, over: Partial<PaymentReceipt> = {}): { receipt: PaymentReceipt; receiptSignature: string } {
  const r: PaymentReceipt = { chainId: P.chainId, channelId: id, cumulativeBytes: BigInt(seq) * 1000n, cumulativeAmount: amount, seq, ...over };
  return { receipt: r, receiptSignature: signPaymentReceipt(r, payer.seed) };
}

function claim(w: World, relay: typeof relaySame, id: string, seq: number, amount: bigint, over: Partial<PaymentReceipt> = {}): SignedTx {
  return w.tx(relay, { type: 'channel-claim', channelId: id, ...receipt(id, seq, amount, over) }, { chain: 'shard-0' });
}

test('claim burn rounding: burn = ceil(delta/10), relay gets the rest', () => {
  assert.deepEqual(claimSplit(15n, 10n), { burn: 2n, relay: 13n });
  assert.deepEqual(claimSplit(10n, 10n), { burn: 1n, relay: 9n });
  assert.deepEqual(claimSplit(1n, 10n), { burn: 1n, relay: 0n });
  assert.deepEqual(claimSplit(1_000_000n, 10n), { burn: 100_000n, relay: 900_000n });
});

test('open locks the deposit; claims pay amount − claimed, burn 10%, fee from the relay share', () => {
  const { w, id } = setup();
  assert.equal(w.balance(payer), 900n * TOP - P.minFee);
  assert.equal(w.get('shard-0').channels.get(id)!.deposit, 100n * TOP);
  assert.equal(w.run(claim(w, relaySame, id, 1, 10n * TOP)).status, 'ok');
  assert.equal(w.balance(relaySame), 9n * TOP - P.minFee);
  const burned0 = w.get('shard-0').burned;
  assert.equal(w.run(claim(w, relaySame, id, 5, 25n * TOP)).status, 'ok');
  assert.equal(w.balance(relaySame), 9n * TOP - P.minFee + (15n * TOP * 9n) / 10n - P.minFee);
  assert.equal(w.get('shard-0').burned - burned0, (15n * TOP) / 10n + P.minFee);
  const ch = w.get('shard-0').channels.get(id)!;
  assert.equal(ch.claimed, 25n * TOP);
  assert.equal(ch.seq, 5);
});

test('claim to a relay on another shard pays its 90% through a receipt', () => {
  const { w, id } = setup(relayFar);
  const res = w.block('shard-0', { txs: [claim(w, relayFar, id, 1, 10n * TOP)] });
  assert.equal(res.results[0]!.status, 'ok');
  assert.equal(res.outgoingReceipts.length, 1);
  assert.equal(res.outgoingReceipts[0]!.amount, 9n * TOP - P.minFee);
  assert.equal(res.outgoingReceipts[0]!.destination, 'shard-1');
  w.settle();
  assert.equal(w.balance(relayFar), 9n * TOP - P.minFee);
});

test('claim rejections leave the state untouched', async (t) => {
  const { w, id } = setup();
  w.run(claim(w, relaySame, id, 4, 10n * TOP));
  const forged = w.tx(relaySame, { type: 'channel-claim', channelId: id, receipt: receipt(id, 9, 50n * TOP).receipt, receiptSignature: signPaymentReceipt(receipt(id, 9, 50n * TOP).receipt, relaySame.seed) }, { chain: 'shard-0' });
  const cases: [string, SignedTx, RegExp][] = [
    ['equal seq', claim(w, relaySame, id, 4, 20n * TOP), /receipt seq 4 ≤ claimed seq 4 \(stale\)/],
    ['stale seq', claim(w, relaySame, id, 3, 20n * TOP), /seq 3 ≤ claimed seq 4 \(stale\)/],
    ['foreign chain', claim(w, relaySame, id, 6, 20n * TOP, { chainId: 'other-net' }), /foreign chain other-net/],
    ['wrong channel', claim(w, relaySame, id, 6, 20n * TOP, { channelId: 'ab'.repeat(32) }), /wrong channel/],
    ['forged', forged, /forged/],
    ['not the relay', claim(w, stranger, id, 6, 20n * TOP), /only its relay may claim/],
    ['nothing new', claim(w, relaySame, id, 6, 10n * TOP), /adds nothing over claimed/],
    ['unknown channel', w.tx(relaySame, { type: 'channel-claim', channelId: 'cd'.repeat(32), ...receipt('cd'.repeat(32), 1, 1n) }, { chain: 'shard-0' }), /unknown/],
    ['fee above share', w.tx(relaySame, { type: 'channel-claim', channelId: id, ...receipt(id, 7, 10n * TOP + 100n) }, { chain: 'shard-0', fee: 91n }), /fee 91 exceeds the relay share 90/],
  ];
  for (const [name, stx, re] of cases) {
    await t.test(name, () => {
      const before = w.get('shard-0');
      const { state, result } = applyTx(before, stx, P);
      assert.equal(result.status, 'invalid');
      assert.equal(result.error!.rule, 'channel-claim');
      assert.match(result.error!.message, re);
      assert.equal(stateRoot(state), stateRoot(before));
    });
  }
  await t.test('a replayed claim tx is rejected', () => {
    const stx = claim(w, relaySame, id, 8, 12n * TOP);
    assert.equal(w.run(stx).status, 'ok');
    const again = w.run(stx);
    assert.equal(again.status, 'invalid');
    assert.match(again.error!.message, /stale/);
  });
});

test('a claim never exceeds the deposit', () => {
  const { w, id } = setup();
  assert.equal(w.run(claim(w, relaySame, id, 1, 500n * TOP)).status, 'ok');
  const ch = w.get('shard-0').channels.get(id)!;
  assert.equal(ch.claimed, 100n * TOP);
  assert.equal(w.balance(relaySame), 90n * TOP - P.minFee);
  const more = w.run(claim(w, relaySame, id, 2, 600n * TOP));
  assert.equal(more.status, 'invalid');
  assert.match(more.error!.message, /adds nothing/);
});

test('close → claims still allowed during the window → finalize refunds deposit − claimed', () => {
  const { w, id } = setup();
  w.run(claim(w, relaySame, id, 1, 10n * TOP));
  const early = w.run(w.tx(payer, { type: 'channel-finalize', channelId: id }));
  assert.match(early.error!.message, /not closing/);
  assert.equal(w.run(w.tx(payer, { type: 'channel-close', channelId: id })).status, 'ok');
  const closesAt = w.get('shard-0').channels.get(id)!.closesAt!;
  assert.equal(w.get('shard-0').channels.get(id)!.status, 'closing');
  const again = w.run(w.tx(payer, { type: 'channel-close', channelId: id }));
  assert.match(again.error!.message, /already closing/);
  // the payer closed holding an old state; the relay's newer receipt still pays during the window
  assert.equal(w.run(claim(w, relaySame, id, 2, 30n * TOP)).status, 'ok');
  const tooSoon = w.run(w.tx(payer, { type: 'channel-finalize', channelId: id }));
  assert.equal(tooSoon.status, 'failed');
  assert.match(tooSoon.error!.message, /challenge window open until height/);
  while (w.get('shard-0').height + 1 < closesAt) w.block('shard-0');
  const bal = w.balance(payer);
  assert.equal(w.run(w.tx(payer, { type: 'channel-finalize', channelId: id })).status, 'ok');
  assert.equal(w.balance(payer), bal - P.minFee + 70n * TOP);
  assert.equal(w.get('shard-0').channels.get(id)!.status, 'finalized');
  const late = w.run(claim(w, relaySame, id, 3, 40n * TOP));
  assert.match(late.error!.message, /finalized/);
  const twice = w.run(w.tx(payer, { type: 'channel-finalize', channelId: id }));
  assert.match(twice.error!.message, /not closing/);
});

test('only the payer closes; open rejections', () => {
  const { w, id } = setup();
  const byRelay = w.run(w.tx(relaySame, { type: 'channel-close', channelId: id }, { fee: 0n }));
  // relaySame has no balance and no quota: the fee cannot be paid → invalid
  assert.equal(byRelay.status, 'invalid');
  w.run(claim(w, relaySame, id, 1, 10n * TOP));
  const byRelay2 = w.run(w.tx(relaySame, { type: 'channel-close', channelId: id }));
  assert.equal(byRelay2.status, 'failed');
  assert.match(byRelay2.error!.message, /only the payer may close/);
  const self = w.run(w.tx(payer, { type: 'channel-open', relay: payer.address, deposit: 1n }));
  assert.match(self.error!.message, /payer and relay must differ/);
  const dupId = w.run(w.tx(payer, { type: 'channel-open', relay: relaySame.address, deposit: 1n, channelId: id }));
  assert.match(dupId.error!.message, /already exists/);
  const tooMuch = w.run(w.tx(payer, { type: 'channel-open', relay: relaySame.address, deposit: 10_000n * TOP }));
  assert.match(tooMuch.error!.message, /channel deposit of .* balance/);
  const given = 'ef'.repeat(32);
  assert.equal(w.run(w.tx(payer, { type: 'channel-open', relay: relaySame.address, deposit: 1n, channelId: given })).status, 'ok');
  assert.equal(w.get('shard-0').channels.get(given)!.deposit, 1n);
});
