import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTx, checkSupply, cloneState, precheckTx, stateRoot, supplyOf } from '../../../chain/state/index.js';
import { keyOn, P, World, TOP } from './helpers.js';

const a = keyOn('shard-0');
const b = keyOn('shard-0', P, 1);
const c = keyOn('shard-1');

function world(): World {
  return new World(P, [{ who: a, amount: 1000n * TOP }, { who: c, amount: 50n * TOP }]);
}

test('transfer on the same shard moves value, burns the fee, bumps the nonce', () => {
  const w = world();
  const r = w.run(w.tx(a, { type: 'transfer', to: b.address, amount: 100n }));
  assert.equal(r.status, 'ok');
  assert.equal(r.feeCharged, P.minFee);
  assert.equal(w.balance(a), 1000n * TOP - 100n - P.minFee);
  assert.equal(w.balance(b), 100n);
  assert.equal(w.get('shard-0').burned, P.minFee);
  assert.equal(w.get('shard-0').accounts.get(a.address)!.nonce, 1);
});

test('cross-shard transfer: receipt out, applied once at the destination, confirmed back', () => {
  const w = world();
  const res = w.block('shard-0', { txs: [w.tx(a, { type: 'transfer', to: c.address, amount: 7n * TOP })] });
  assert.equal(res.outgoingReceipts.length, 1);
  const rc = res.outgoingReceipts[0]!;
  assert.deepEqual([rc.source, rc.destination, rc.id, rc.amount], ['shard-0', 'shard-1', 1, 7n * TOP]);
  assert.equal(w.balance(c), 50n * TOP); // not yet
  const applied = w.block('shard-1', { receipts: [rc] });
  assert.equal(applied.results[0]!.status, 'ok');
  assert.equal(w.balance(c), 57n * TOP);
  // duplicate: refused, no effect
  const dup = w.block('shard-1', { receipts: [rc] });
  assert.equal(dup.results[0]!.status, 'invalid');
  assert.match(dup.results[0]!.error!.message, /duplicate/);
  assert.equal(w.balance(c), 57n * TOP);
  // the confirm clears the pending receipt at the source
  assert.equal(supplyOf(w.get('shard-0')).outboxPending, 7n * TOP);
  w.block('shard-0', { confirms: w.confirmsFor('shard-0') });
  assert.equal(supplyOf(w.get('shard-0')).outboxPending, 0n);
  assert.equal(w.get('shard-0').outbox['shard-1']!.confirmedUpTo, 1);
});

test('supply over states that are not a consistent cut (one chain ahead of another) is undecided, not broken', () => {
  const w = world();
  const src0 = w.get('shard-0');
  const dest0 = w.get('shard-1');
  const rc = w.block('shard-0', { txs: [w.tx(a, { type: 'transfer', to: c.address, amount: 7n * TOP })] }).outgoingReceipts[0]!;
  const src1 = w.get('shard-0');
  w.block('shard-1', { receipts: [rc] });
  const dest1 = w.get('shard-1');
  w.block('shard-0', { confirms: w.confirmsFor('shard-0') });
  const src2 = w.get('shard-0');
  const beacon = w.get('beacon');
  // Every consistent pair of heights holds.
  for (const [s, d] of [[src0, dest0], [src1, dest0], [src1, dest1], [src2, dest1]] as const) {
    const r = checkSupply([beacon, s, d], w.supply);
    assert.ok(r.ok && r.consistent, r.message);
  }
  // The destination credited a receipt the source's state has not sent: 7 TOP would count twice.
  const ahead = checkSupply([beacon, src0, dest1], w.supply);
  assert.equal(ahead.consistent, false);
  assert.equal(ahead.ok, false);
  assert.match(ahead.message, /not a consistent cut \(shard-1@1 applied receipts from shard-0 up to id 1, shard-0@0 has sent up to 0\)/);
  assert.equal(ahead.actual - ahead.expected, 7n * TOP, 'what an unguarded check would call broken');
  // The source saw the confirm of a receipt the destination's state has not applied: 7 TOP would vanish.
  const confirmed = checkSupply([beacon, src2, dest0], w.supply);
  assert.equal(confirmed.consistent, false);
  assert.match(confirmed.message, /shard-0@2 saw receipts to shard-1 confirmed up to id 1, shard-1@0 has applied up to 0/);
  // A real imbalance on a consistent cut is still broken.
  const minted = cloneState(dest1);
  minted.accounts = minted.accounts.beginWrite().set(c.address, { ...dest1.accounts.get(c.address)!, balance: dest1.accounts.get(c.address)!.balance + 1n });
  const broken = checkSupply([beacon, src2, minted], w.supply);
  assert.equal(broken.consistent, true);
  assert.equal(broken.ok, false);
  assert.match(broken.message, /^supply broken/);
});

test('receipt ids are monotonic per pair; a gap is refused until filled', () => {
  const w = world();
  const r1 = w.block('shard-0', { txs: [w.tx(a, { type: 'transfer', to: c.address, amount: 1n })] }).outgoingReceipts[0]!;
  const r2 = w.block('shard-0', { txs: [w.tx(a, { type: 'transfer', to: c.address, amount: 2n })] }).outgoingReceipts[0]!;
  assert.equal(r2.id, r1.id + 1);
  const gap = w.block('shard-1', { receipts: [r2] });
  assert.equal(gap.results[0]!.status, 'invalid');
  assert.match(gap.results[0]!.error!.message, /gap \(next expected 1\)/);
  const ok = w.block('shard-1', { receipts: [r1, r2, r1] });
  assert.deepEqual(ok.results.map((x) => x.status), ['ok', 'ok', 'invalid']);
  assert.equal(w.balance(c), 50n * TOP + 3n);
});

test('confirm regressions and confirms beyond what was sent are refused', () => {
  const w = world();
  w.block('shard-0', { txs: [w.tx(a, { type: 'transfer', to: c.address, amount: 1n })] });
  const beyond = w.block('shard-0', { confirms: [{ from: 'shard-1', appliedUpTo: 2 }] });
  assert.equal(beyond.results[0]!.status, 'invalid');
  w.settle();
  const back = w.block('shard-0', { confirms: [{ from: 'shard-1', appliedUpTo: 0 }] });
  assert.equal(back.results[0]!.status, 'invalid');
});

test('transfer rejections', async (t) => {
  const w = world();
  const cases: [string, ReturnType<World['tx']>, 'invalid' | 'failed', RegExp][] = [
    ['insufficient balance', w.tx(a, { type: 'transfer', to: b.address, amount: 2000n * TOP }), 'failed', /balance .* < 2000000000/],
    ['zero amount', w.tx(a, { type: 'transfer', to: b.address, amount: 0n }), 'failed', /positive/],
    ['bad recipient', w.tx(a, { type: 'transfer', to: 'zz', amount: 1n }), 'failed', /not a 32-byte hex address/],
    ['wrong nonce', w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { nonce: 5 }), 'invalid', /nonce 5 ≠ expected 0/],
    ['fee below minimum', w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { fee: 1n }), 'invalid', /fee 1 < minimum/],
    ['wrong shard', w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { chain: 'shard-1' }), 'invalid', /lives on shard-0/],
    ['on the beacon', w.tx(a, { type: 'transfer', to: b.address, amount: 1n }, { chain: 'beacon' }), 'invalid', /beacon executes no transactions/],
    ['fee unpayable', w.tx(b, { type: 'transfer', to: a.address, amount: 1n }), 'invalid', /balance 0 < fee/],
  ];
  for (const [name, stx, status, re] of cases) {
    await t.test(name, () => {
      const before = w.get(stx.tx.chain);
      const { state, result } = applyTx(before, stx, P);
      assert.equal(result.status, status);
      assert.match(result.error!.message, re);
      // the cheap mempool check agrees on what is invalid
      assert.equal(precheckTx(before, stx, P)?.status, status === 'invalid' ? 'invalid' : undefined);
      if (status === 'invalid') assert.equal(stateRoot(state), stateRoot(before));
      else {
        // failed: only fee + nonce changed
        const acct = state.accounts.get(stx.tx.from)!;
        assert.equal(acct.nonce, before.accounts.get(stx.tx.from)!.nonce + 1);
        assert.equal(acct.balance, before.accounts.get(stx.tx.from)!.balance - stx.tx.fee);
        assert.equal(state.burned, before.burned + stx.tx.fee);
        assert.equal(state.accounts.size, before.accounts.size);
        assert.equal(Object.keys(state.outbox).length, 0);
      }
    });
  }
  await t.test('foreign chain id', () => {
    const stx = w.tx(a, { type: 'transfer', to: b.address, amount: 1n });
    const other = { ...stx, tx: { ...stx.tx, chainId: 'other' } };
    const { result } = applyTx(w.get('shard-0'), other, P);
    assert.equal(result.status, 'invalid');
    assert.match(result.error!.message, /chain id other/);
  });
});
