/**
 * The state snapshot as records (state-snapshot.ts), on the in-memory store and on LevelDB: a
 * snapshot writes only the entries changed since the last one, reads back to the same state
 * and state root, and a snapshot from before the records is still read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchOp } from '../../../chain/node/store.js';
import { storeKinds, type StoreOpener } from './stores.js';
import { loadSnapshot, mapsOf, snapshotKey, snapshotOps } from '../../../chain/node/state-snapshot.js';
import { cloneState, stateRootFull, type ChainState } from '../../../chain/state/index.js';
import { keyOn, P, World, TOP } from '../chain-state/helpers.js';

const puts = (ops: BatchOp[], prefix: string): string[] => ops.filter((o) => o.type === 'put' && o.key.startsWith(prefix)).map((o) => o.key.slice(prefix.length));

async function suite(name: string, open: StoreOpener): Promise<void> {
  await test(`${name} store: entries(prefix) yields exactly the keys under the prefix, in key order`, async () => {
    const { store, close } = await open();
    try {
      await store.batch(['sm/a/x/2', 'sm/a/x/1', 'sm/a/x/', 'sm/a/x0', 'sm/a/y/1', 'sm/a/', 'sm/b/x/1'].map((key, i) => ({ type: 'put', key, value: { i } })));
      const got: Array<[string, unknown]> = [];
      for await (const e of store.entries('sm/a/x/')) got.push(e);
      assert.deepEqual(got, [['sm/a/x/', { i: 2 }], ['sm/a/x/1', { i: 1 }], ['sm/a/x/2', { i: 0 }]]);
      for await (const e of store.entries('none/')) assert.fail(`unexpected ${e[0]}`);
    } finally {
      await close();
    }
  });

  await test(`${name} store: a snapshot writes the entries changed since the last one and reads back to the same state`, async () => {
    const { store, close } = await open();
    try {
      const a = keyOn('shard-0');
      const b = keyOn('shard-0', P, 1);
      const w = new World(P, [{ who: a, amount: 100n * TOP }, { who: b, amount: 5n * TOP }, { who: keyOn('shard-0', P, 2), amount: TOP }]);
      const s0 = w.get('shard-0');
      assert.equal(await loadSnapshot(store, 'shard-0'), undefined, 'no snapshot yet');

      const first = snapshotOps('shard-0', s0, undefined);
      assert.equal(puts(first, 'sm/shard-0/accounts/').length, s0.accounts.size, 'the first snapshot writes every entry');
      await store.batch(first);
      const back0 = await loadSnapshot(store, 'shard-0');
      assert.deepEqual(back0!.state, s0);
      assert.equal(stateRootFull(back0!.state), stateRootFull(s0));

      w.run(w.tx(a, { type: 'transfer', to: b.address, amount: TOP }));
      w.run(w.tx(a, { type: 'channel-open', relay: keyOn('shard-1').address, deposit: 2n * TOP }));
      const s2 = w.get('shard-0');
      const next = snapshotOps('shard-0', s2, mapsOf(s0));
      assert.deepEqual(puts(next, 'sm/shard-0/accounts/').sort(), [a.address, b.address].sort(), 'only the two accounts written since');
      assert.deepEqual(puts(next, 'sm/shard-0/channels/'), [...s2.channels.keys()]);
      assert.ok(next.some((o) => o.key === snapshotKey('shard-0')));
      await store.batch(next);
      const back2 = await loadSnapshot(store, 'shard-0');
      assert.deepEqual(back2!.state, s2);
      assert.equal(stateRootFull(back2!.state), stateRootFull(s2));
      assert.deepEqual(back2!.stored, mapsOf(back2!.state));

      // An entry removed from a map is deleted from the records.
      const s3: ChainState = cloneState(s2);
      s3.accounts = s3.accounts.beginWrite();
      s3.accounts.delete(b.address);
      s3.accounts.endWrite();
      const del = snapshotOps('shard-0', s3, mapsOf(s2));
      assert.deepEqual(del.filter((o) => o.type === 'del').map((o) => o.key), [`sm/shard-0/accounts/${b.address}`]);
      await store.batch(del);
      assert.equal((await loadSnapshot(store, 'shard-0'))!.state.accounts.has(b.address), false);
    } finally {
      await close();
    }
  });

  await test(`${name} store: a snapshot from before the records (the maps inside st/) is read; the next one writes every entry`, async () => {
    const { store, close } = await open();
    try {
      const a = keyOn('shard-0');
      const w = new World(P, [{ who: a, amount: 100n * TOP }, { who: keyOn('shard-0', P, 1), amount: TOP }]);
      const s = w.get('shard-0');
      await store.batch([{ type: 'put', key: snapshotKey('shard-0'), value: { height: s.height, state: s } }]);
      const old = await loadSnapshot(store, 'shard-0');
      assert.deepEqual(old!.state, s);
      assert.equal(old!.stored, undefined, 'no records yet');
      const ops = snapshotOps('shard-0', old!.state, old!.stored);
      assert.equal(puts(ops, 'sm/shard-0/accounts/').length, s.accounts.size);
      await store.batch(ops);
      assert.deepEqual((await loadSnapshot(store, 'shard-0'))!.state, s);
    } finally {
      await close();
    }
  });
}

for (const [name, open] of storeKinds('snapshot')) await suite(name, open);
