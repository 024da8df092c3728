/**
 * A real network partition of the chain devnet: each of the 12 node processes in its own network
 * namespace (prefix tn8t, 198.18.181.0/24, joined by a bridge in tn8t-br), the load of
 * bench/faults-chain.ts running throughout. Twice a minority (a shard validator plus an
 * auditor+beacon member: every committee keeps 3 of 4) is cut off the bridge (link down) for 8 s
 * and healed. Needs root. Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPartitions } from '../../bench/faults-partition.js';
import { listNetns, ownedBy } from '../../deploy/netns.js';

test('devnet in namespaces: a cut-off minority stalls, the majority keeps finalizing, after the heal all catch up; no final tx lost, supply holds, state roots agree', { timeout: 170_000 }, async () => {
  const r = await runPartitions({ prefix: 'tn8t', subnet: '198.18.181', partitions: 2, minorities: [[3, 11], [6, 8]], cutMs: 8000, settleMs: 1500, seed: 3 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.partitions, 2);
  assert.equal(r.partitions_healed, 2);
  assert.deepEqual(r.records.map((x) => x.roles), [['validator shard-0', 'auditor+beacon'], ['validator shard-1', 'auditor+beacon']]);
  for (const rec of r.records) {
    assert.equal(rec.leaked, false, 'the minority could not reach the majority while cut');
    for (const c of ['beacon', 'shard-0', 'shard-1']) {
      assert.ok((rec.majority_progress[c] ?? 0) > 0, `majority finalized ${c} during the cut: ${JSON.stringify(rec)}`);
      assert.equal(rec.minority_progress[c], 0, `minority stalled on ${c}`);
    }
    assert.ok(rec.txs_final_during > 0, 'transfers became final while the minority was cut off');
    assert.notEqual(rec.catchup_ms, null, 'the minority caught up after the heal');
  }
  assert.equal(r.supply_violations, 0);
  assert.equal(r.lost_txs, 0);
  assert.equal(r.reordered_txs, 0);
  assert.equal(r.state_roots_agree, true);
  assert.ok(r.txs_final > 0 && r.cross_shard_final > 0, JSON.stringify(r));
  assert.ok(r.tx_checks >= 12 * r.txs_final, 'every final tx re-checked on all 12 nodes');
  for (const c of ['beacon', 'shard-0', 'shard-1']) assert.ok((r.common_final_heights[c] ?? 0) > 0, c);
  assert.deepEqual(ownedBy('tn8t', await listNetns()), [], 'namespaces removed');
});
