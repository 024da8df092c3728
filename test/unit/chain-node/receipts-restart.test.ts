import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, transfer, waitFor } from './cluster.js';
import { homeChain, UNIT } from '../../../chain/state/index.js';

/**
 * A receipt whose source block a node committed before it restarted: the node holds that block
 * in its store only, not in memory. Its destination validators must still offer and accept the
 * receipt (receipt-source.ts reads such blocks from the store), or the value stays in flight for
 * good once every destination validator has restarted. The halted group also restarts with a
 * certified block no member has committed (its copies are in the stored safety states,
 * SafetyState.certified) and with its members in different views (f+1 timeouts move the ones
 * behind): without either, shard-1 never makes another block.
 */
test('in-memory cluster: a receipt sent while its destination shard was halted is applied after every destination validator restarted', async () => {
  const c = await startCluster({ accounts: 4 });
  try {
    const { dk } = c;
    const S = dk.genesis.shards;
    const shard1 = dk.genesis.committees['shard-1']!.validators.map((a) => dk.nodeKeys.findIndex((k) => k.address === a));
    assert.equal(shard1.length, 4);
    await waitFor('shard-1 running', () => c.nodes[0]!.runtime('shard-1').finalHeight >= 3);
    // Two of four down: shard-1 has no quorum and halts.
    await c.kill(shard1[0]!);
    await c.kill(shard1[1]!);
    const a = dk.accounts.find((k) => homeChain(k.address, S) === 'shard-0')!;
    const x = dk.accounts.find((k) => homeChain(k.address, S) === 'shard-1')!;
    const x0 = c.nodes[0]!.runtime('shard-1').state.accounts.get(x.address)!.balance;
    c.nodes[0]!.submitTx(transfer(a, x.address, 7n, 0, dk.genesis.chainId, S, 'shard-0'));
    // The receipt's source block is final, and shard-0 has moved on well past it.
    const sourceHeight = (): number | undefined => c.nodes[0]!.runtime('shard-0').state.outbox['shard-1']?.pending.find((r) => r.payload.kind === 'credit' && r.payload.to === x.address)?.sourceHeight;
    await waitFor('the receipt is sent', () => sourceHeight() !== undefined);
    const h = sourceHeight()!;
    await waitFor('its block is final and buried', () => c.nodes[0]!.runtime('shard-0').finalHeight >= h + 5);
    assert.equal(c.nodes[0]!.runtime('shard-1').state.accounts.get(x.address)!.balance, x0, 'not applied while shard-1 is halted');
    // The two live shard-1 validators restart (the source block is now in their store only),
    // then the two down ones (they sync shard-0 past the source block after their restart).
    await c.restart(shard1[2]!);
    await c.restart(shard1[3]!);
    await c.restart(shard1[0]!);
    await c.restart(shard1[1]!);
    await waitFor('the receipt applies on every node', () => c.nodes.every((n) => n.runtime('shard-1').state.accounts.get(x.address)!.balance === x0 + 7n * UNIT), 30_000);
    for (const n of c.nodes) assert.ok(n.supply().ok, n.supply().message);
  } finally {
    await c.stopAll();
  }
});
