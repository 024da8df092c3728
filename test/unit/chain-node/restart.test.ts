import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, transfer, waitFor } from './cluster.js';
import { homeChain, UNIT } from '../../../chain/state/index.js';

test('in-memory cluster: finality continues with a validator and an auditor down; both restart from their store and catch up', async () => {
  const c = await startCluster({ accounts: 4 });
  try {
    const { dk, nodes } = c;
    const S = dk.genesis.shards;
    const validatorIdx = 0; // shard-0 validator
    const auditorIdx = dk.nodeKeys.length - 1; // auditor + beacon member
    await waitFor('some finality', () => nodes[validatorIdx]!.runtime('shard-0').finalHeight >= 5);
    await c.kill(validatorIdx);
    await c.kill(auditorIdx);
    // Stopping stored its snapshot with one record per account (state-snapshot.ts); the restart below reads it.
    const stopped = nodes[validatorIdx]!.runtime('shard-0').state;
    const records = [...c.stores[validatorIdx]!.data.keys()].filter((k) => k.startsWith('sm/shard-0/accounts/'));
    assert.deepEqual(records.map((k) => k.slice('sm/shard-0/accounts/'.length)).sort(), [...stopped.accounts.keys()].sort());
    const live = nodes.filter((_, i) => i !== validatorIdx && i !== auditorIdx);
    const h0 = live[0]!.runtime('shard-0').finalHeight;
    const a = dk.accounts.find((k) => homeChain(k.address, S) === 'shard-0')!;
    const x = dk.accounts.find((k) => homeChain(k.address, S) === 'shard-1')!;
    const x0 = live[0]!.runtime('shard-1').state.accounts.get(x.address)!.balance;
    live[1]!.submitTx(transfer(a, x.address, 3n, 0, dk.genesis.chainId, S, 'shard-0'));
    await waitFor('finality progresses on all chains without them', () =>
      live.every((n) => n.runtime('shard-0').finalHeight >= h0 + 10 && n.runtime('beacon').finalHeight >= 10),
    );
    const shard0 = dk.genesis.committees['shard-0']!.validators;
    for (const n of live.filter((x) => shard0.includes(x.self))) {
      assert.ok(n.viewChanges > 0, 'the killed validator\'s views time out on every other shard-0 validator');
      assert.ok((n.viewChangesByChain.get('shard-0') ?? 0) > 0, 'and are counted for shard-0');
    }
    await waitFor('cross-shard transfer final while nodes are down', () => live.every((n) => n.runtime('shard-1').state.accounts.get(x.address)!.balance === x0 + 3n * UNIT));
    const heightBefore = nodes[validatorIdx]!.runtime('shard-0').height;
    await c.restart(validatorIdx);
    await c.restart(auditorIdx);
    const v = c.nodes[validatorIdx]!;
    // restarted from its store: not from genesis
    assert.ok(v.runtime('shard-0').height >= heightBefore - 1, `restored height ${v.runtime('shard-0').height} < ${heightBefore}`);
    const target = live[0]!.runtime('shard-0').height;
    await waitFor('restarted nodes catch up', () =>
      [c.nodes[validatorIdx]!, c.nodes[auditorIdx]!].every((n) => n.runtime('shard-0').height >= target && n.runtime('shard-1').state.accounts.get(x.address)!.balance === x0 + 3n * UNIT),
    );
    // The auditor signs what it applies, so it checked the transfer's signature in the block it
    // synced (its verification cache was empty after the restart).
    assert.ok(c.nodes[auditorIdx]!.txVerifications >= 1, 'the restarted auditor verified the synced transfer');
    for (const n of c.nodes) assert.ok(n.supply().ok, n.supply().message);
  } finally {
    await c.stopAll();
  }
});
