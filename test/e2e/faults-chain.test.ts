/**
 * Chain faults on the devnet (12 node processes on 127.0.0.1) under a load of intra/cross-shard
 * transfers and channel open/claim/close/finalize: SIGKILL + restart of a shard-0 validator, a
 * shard-1 validator and an auditor (also a beacon member), and a SIGSTOP/SIGCONT pause of a
 * shard validator (a stand-in for partitioning a minority: the nodes share one loopback).
 * After each fault every node reaches the new final heights on every chain, earlier final txs
 * keep their block and position on every node, and the supply invariant holds; at the end every
 * node has the same block hash and state root per chain at the common final height.
 * Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChainFaults } from '../../bench/faults-chain.js';

test('devnet: 3 kills (validator shard-0, validator shard-1, auditor+beacon) and 1 pause under load: finality resumes, no final tx lost or moved, supply holds, state roots agree', { timeout: 240_000 }, async () => {
  // Default layout: nodes 0–3 validate shard-0, 4–7 shard-1, 8–11 audit both and form the beacon.
  const r = await runChainFaults({ killPlan: [2, 5, 10], pauses: 1, outageMs: 2000, pauseMs: 5000, settleMs: 1500, sampleSize: 16, seed: 7 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.kills, 3);
  assert.equal(r.kills_recovered, 3);
  assert.deepEqual(r.kills_by_role, { 'validator shard-0': 1, 'validator shard-1': 1, 'auditor+beacon': 1 });
  assert.equal(r.pauses, 1);
  assert.equal(r.pauses_recovered, 1);
  assert.equal(r.supply_violations, 0);
  assert.equal(r.lost_txs, 0);
  assert.equal(r.reordered_txs, 0);
  assert.equal(r.state_roots_agree, true);
  // the load really ran through the faults: transfers, cross-shard transfers and channel txs final
  assert.ok(r.txs_final > 0 && r.cross_shard_final > 0 && r.channel_ops_final > 0, JSON.stringify(r));
  // every final tx was re-checked on all 12 nodes at the end
  assert.ok(r.tx_checks >= 12 * r.txs_final);
  for (const c of ['beacon', 'shard-0', 'shard-1']) assert.ok((r.common_final_heights[c] ?? 0) > 0, c);
});
