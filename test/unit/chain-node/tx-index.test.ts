import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heightKey } from '../../../chain/node/store.js';
import { storeKinds, type StoreOpener } from './stores.js';
import { indexedTx, txIndexKey, txLocationValue } from '../../../chain/node/tx-index.js';
import { unpackValue } from '../../../chain/node/wire.js';
import type { ItemResult } from '../../../chain/state/types.js';

const H = (c: string): string => c.repeat(64);

/** A block record's results: one confirm, one receipt, then three txs (the second failed). */
const results: ItemResult[] = [
  { kind: 'confirm', id: 'confirm:shard-1', status: 'ok' },
  { kind: 'receipt', id: H('e'), status: 'ok' },
  { kind: 'tx', id: H('a'), status: 'ok', feeCharged: 10n },
  { kind: 'tx', id: H('b'), status: 'failed', error: { rule: 'transfer.balance', message: 'insufficient balance' }, feeCharged: 10n },
  { kind: 'tx', id: H('c'), status: 'ok', feeCharged: 0n },
];

async function suite(name: string, open: StoreOpener): Promise<void> {
  await test(`tx index (${name}): a location entry resolves to the tx's result in its block record`, async () => {
    const { store, close } = await open();
    try {
      await store.batch([
        { type: 'put', key: heightKey('blk', 'shard-0', 7), value: { results } },
        { type: 'put', key: txIndexKey(H('a')), value: txLocationValue('shard-0', 7, 0) },
        { type: 'put', key: txIndexKey(H('b')), value: txLocationValue('shard-0', 7, 1) },
        // Pointing at a position whose result is another tx's: the entry is not believed.
        { type: 'put', key: txIndexKey(H('d')), value: txLocationValue('shard-0', 7, 2) },
        // Its block record is missing.
        { type: 'put', key: txIndexKey(H('f')), value: txLocationValue('shard-0', 8, 0) },
      ]);
      assert.deepEqual(await indexedTx(store, H('a')), { loc: { chain: 'shard-0', height: 7, index: 0 }, result: results[2] });
      const b = await indexedTx(store, H('b'));
      assert.equal(b?.result?.status, 'failed');
      assert.equal(b?.result?.error?.rule, 'transfer.balance');
      assert.deepEqual(await indexedTx(store, H('d')), { loc: { chain: 'shard-0', height: 7, index: 2 }, result: undefined });
      assert.deepEqual(await indexedTx(store, H('f')), { loc: { chain: 'shard-0', height: 8, index: 0 }, result: undefined });
      assert.equal(await indexedTx(store, H('9')), undefined);
    } finally {
      await close();
    }
  });

  await test(`tx index (${name}): an entry written by an older node (with its result) is read as it is`, async () => {
    const { store, close } = await open();
    try {
      const old = { chain: 'shard-1', height: 3, index: 4, result: { kind: 'tx', id: H('a'), status: 'ok', feeCharged: 5n } };
      await store.batch([{ type: 'put', key: txIndexKey(H('a')), value: old }]);
      assert.deepEqual(await indexedTx(store, H('a')), { loc: old, result: old.result });
    } finally {
      await close();
    }
  });
}

test('txLocationValue is wire JSON text that unpackValue reads back', () => {
  assert.deepEqual(unpackValue(txLocationValue('shard-12', 123456, 349).bytes), { chain: 'shard-12', height: 123456, index: 349 });
  assert.deepEqual(unpackValue(txLocationValue('a"b\\', 1, 0).bytes), { chain: 'a"b\\', height: 1, index: 0 });
});

for (const [name, open] of storeKinds('txindex')) await suite(name, open);
