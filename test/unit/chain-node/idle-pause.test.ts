/**
 * An idle chain's leader pauses before another empty block (block-producer.ts), the replicas'
 * view timers allow for the pause (ConsensusConfig.idleGraceMs), and work arriving ends it.
 * The pause here (10 min) is longer than the test: every assertion would fail if the grace or
 * the wake-up were missing (views time out every 600 ms; the tx would wait out the pause).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, transfer, waitFor } from './cluster.js';
import { homeChain } from '../../../chain/state/index.js';

test('idle chain: the leader pauses without view changes, and a submitted tx ends the pause and is final', async () => {
  const c = await startCluster({ shards: 1, group: 4, auditors: 3, accounts: 2, timing: { baseTimeoutMs: 600, minBlockIntervalMs: 50, idleBlockMs: 600_000 } });
  try {
    const { dk, nodes } = c;
    const shard = 'shard-0';
    const n0 = nodes[0]!;
    // Nothing to do from genesis on (the empty ancestors count as idle): the first leader pauses.
    // 3 s = 5 view timeouts of 600 ms; the grace keeps the view alive.
    await new Promise((r) => setTimeout(r, 3_000));
    const paused = n0.runtime(shard).height;
    assert.deepEqual(nodes.map((n) => n.viewChangesByChain.get(shard) ?? 0), nodes.map(() => 0), 'no view change while the leader pauses');
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(n0.runtime(shard).height, paused, 'no empty block during the pause');
    // A tx wakes the leader: it is proposed, committed and audited long before the pause ends.
    const [a, b] = dk.accounts;
    assert.equal(homeChain(a!.address, 1), shard);
    const hash = n0.submitTx(transfer(a!, b!.address, 1n, 0, dk.genesis.chainId, 1, shard));
    await waitFor('tx final', async () => (await n0.txStatus(hash)).status === 'final');
    assert.equal(n0.runtime(shard).state.accounts.get(a!.address)!.nonce, 1);
  } finally {
    await c.stopAll();
  }
});
