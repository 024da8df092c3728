import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quotaAvailable } from '../../../chain/state/index.js';
import { keyOn, P, World, TOP } from './helpers.js';

const a = keyOn('shard-0');
const b = keyOn('shard-0', P, 1);

test('resource deposit buys fee-free txs that refill over the window', () => {
  const w = new World(P, [{ who: a, amount: 1000n * TOP }]);
  const lock = 3n * P.resource.lockPerTx; // capacity 3 txs per window
  assert.equal(w.run(w.tx(a, { type: 'resource-deposit', amount: lock })).status, 'ok');
  const bal = w.balance(a);
  const burned = w.get('shard-0').burned;
  for (let i = 0; i < 3; i++) {
    const r = w.run(w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { fee: 0n }));
    assert.equal(r.status, 'ok', `tx ${i}`);
    assert.equal(r.feeCharged, 0n);
  }
  assert.equal(w.balance(a), bal - 3n);
  assert.equal(w.get('shard-0').burned, burned);
  // quota used up: a zero-fee tx is invalid, a paying one is charged
  const over = w.run(w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { fee: 0n }));
  assert.equal(over.status, 'invalid');
  assert.match(over.error!.message, /no resource quota left/);
  const paid = w.run(w.tx(a, { type: 'transfer', to: b.address, amount: 1n }));
  assert.equal(paid.feeCharged, P.minFee);
  // refill: after a third of the window one tx is available again
  const acct = w.get('shard-0').accounts.get(a.address)!;
  const h = w.get('shard-0').height;
  assert.equal(quotaAvailable(acct.resource, P.resource, h + 1), 0n);
  assert.equal(quotaAvailable(acct.resource, P.resource, h + Math.ceil(P.resource.windowBlocks / 3)), 1n);
  assert.equal(quotaAvailable(acct.resource, P.resource, h + P.resource.windowBlocks), 3n);
  w.advance('shard-0', P.resource.windowBlocks);
  const free = w.run(w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { fee: 0n }));
  assert.equal(free.feeCharged, 0n);
});

test('resource withdraw waits one window after the last deposit; over-withdraw refused', () => {
  const w = new World(P, [{ who: a, amount: 1000n * TOP }]);
  w.run(w.tx(a, { type: 'resource-deposit', amount: 100n * TOP }));
  const early = w.run(w.tx(a, { type: 'resource-withdraw', amount: 10n * TOP }));
  assert.equal(early.status, 'failed');
  assert.match(early.error!.message, /locked until height/);
  w.advance('shard-0', P.resource.windowBlocks);
  const tooMuch = w.run(w.tx(a, { type: 'resource-withdraw', amount: 101n * TOP }));
  assert.match(tooMuch.error!.message, /locked 100000000 < 101000000/);
  const bal = w.balance(a);
  const r = w.run(w.tx(a, { type: 'resource-withdraw', amount: 100n * TOP }));
  assert.equal(r.status, 'ok');
  assert.equal(w.balance(a), bal + 100n * TOP - r.feeCharged!);
  const none = w.run(w.tx(a, { type: 'resource-deposit', amount: 0n }));
  assert.match(none.error!.message, /positive/);
});
