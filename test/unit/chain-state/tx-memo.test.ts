import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyPairFromSeed } from '../../../chain/state/crypto.js';
import { sha256 } from '../../../chain/state/encoding.js';
import { memoOn } from '../../../chain/state/memo.js';
import { signTx, txHash, txHashOf, txSigningBytes, txSigningBytesOf } from '../../../chain/state/tx.js';
import type { SignedTx, Tx } from '../../../chain/state/types.js';

const key = keyPairFromSeed(sha256('tx-memo'));
const transfer = (nonce: number): Tx => ({ chainId: 'topvpn-devnet', chain: 'shard-0', from: key.address, nonce, fee: 10_000n, op: { type: 'transfer', to: 'ab'.repeat(32), amount: 5n } });

test('txHashOf / txSigningBytesOf: equal to txHash / txSigningBytes, on the first call and on memoized calls', () => {
  for (const tx of [transfer(0), { ...transfer(1), op: { type: 'vote', node: 'cd'.repeat(32), amount: 7n } } as Tx]) {
    const stx = signTx(tx, key.seed);
    for (let i = 0; i < 2; i++) {
      assert.equal(txHashOf(stx), txHash(tx));
      assert.deepEqual(txSigningBytesOf(stx), txSigningBytes(tx));
    }
  }
});

test('the memo is invisible: keys, JSON, spread and deep equality see only tx and signature', () => {
  const stx = signTx(transfer(2), key.seed);
  const fresh: SignedTx = { tx: stx.tx, signature: stx.signature };
  const json = JSON.stringify(stx, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  txHashOf(stx);
  assert.deepEqual(Object.keys(stx), ['tx', 'signature']);
  assert.equal(JSON.stringify(stx, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), json);
  assert.deepStrictEqual(stx, fresh);
  assert.deepEqual(Object.getOwnPropertySymbols({ ...stx }), []);
});

test('a copy with another tx hashes that tx, not the memoized one', () => {
  const stx = signTx(transfer(3), key.seed);
  const before = txHashOf(stx);
  const other = { ...stx, tx: transfer(4) };
  assert.notEqual(txHashOf(other), before);
  assert.equal(txHashOf(other), txHash(transfer(4)));
  assert.equal(txHashOf(stx), before);
});

test('a frozen signed tx is hashed without a memo', () => {
  const stx = Object.freeze(signTx(transfer(5), key.seed));
  assert.equal(txHashOf(stx), txHash(stx.tx));
  assert.equal(txHashOf(stx), txHash(stx.tx));
  assert.deepEqual(Object.getOwnPropertySymbols(stx), []);
});

test('memoOn: computes once per object, again for a copy, every time for a sealed object', () => {
  const slot = Symbol('test');
  let calls = 0;
  const compute = (o: { n: number }): number => {
    calls++;
    return o.n * 2;
  };
  const a = { n: 3 };
  assert.equal(memoOn(a, slot, compute), 6);
  assert.equal(memoOn(a, slot, compute), 6);
  assert.equal(calls, 1);
  assert.equal(memoOn({ ...a, n: 4 }, slot, compute), 8);
  assert.equal(calls, 2);
  const sealed = Object.seal({ n: 5 });
  assert.equal(memoOn(sealed, slot, compute), 10);
  assert.equal(memoOn(sealed, slot, compute), 10);
  assert.equal(calls, 4);
});
