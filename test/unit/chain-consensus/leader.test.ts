import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundRobinLeader, stakeWeightedLeader } from '../../../chain/consensus/leader.js';
import { Simulator } from '../../../chain/consensus/sim.js';
import { createConsensus } from '../../../chain/consensus/core.js';
import { verifyCommittedChain } from '../../../chain/consensus/sync.js';

const members = ['aa', 'bb', 'cc', 'dd'];

test('round robin rotates over the group', () => {
  const l = roundRobinLeader(members);
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(l), ['aa', 'bb', 'cc', 'dd', 'aa', 'bb']);
});

test('stake-weighted leader is deterministic and follows stake', () => {
  const stakes = [70n, 20n, 10n, 0n];
  const a = stakeWeightedLeader(members, stakes, 'seed-1');
  const b = stakeWeightedLeader(members, stakes, 'seed-1');
  const counts = new Map<string, number>();
  for (let v = 0; v < 2000; v++) {
    assert.equal(a(v), b(v));
    counts.set(a(v), (counts.get(a(v)) ?? 0) + 1);
  }
  assert.equal(counts.get('dd'), undefined, 'zero stake never leads');
  assert.ok((counts.get('aa') ?? 0) > (counts.get('bb') ?? 0) && (counts.get('bb') ?? 0) > (counts.get('cc') ?? 0));
  const other = stakeWeightedLeader(members, stakes, 'seed-2');
  assert.ok([...Array(50).keys()].some((v) => other(v) !== a(v)), 'seed changes the schedule');
  assert.throws(() => stakeWeightedLeader(members, [1n, 2n], 's'), RangeError);
});

test('a committee with a custom leader schedule commits, and its chain verifies with the same schedule', () => {
  const sim = new Simulator({ n: 4, seed: 3 });
  const keys = sim.members;
  const leaderOf = stakeWeightedLeader(keys, [5n, 3n, 1n, 1n], 'epoch-7');
  // Rebuild the nodes with the weighted schedule.
  sim.nodes.forEach((node) => {
    node.state = createConsensus({ chainId: 'topvpn-sim', chain: 'shard-0', members: keys, signer: node.signer, genesisId: 'sim-genesis', baseTimeoutMs: 200, leaderOf });
  });
  sim.runUntil(2000);
  sim.checkSafety();
  const node = sim.nodes[0]!;
  assert.ok(node.committed.length >= 20);
  assert.ok(node.committed.every((b) => b.proposer === leaderOf(b.view)));
  const opts = { chainId: 'topvpn-sim', chain: 'shard-0', genesisId: 'sim-genesis', proof: node.lastProof!, leaderOf };
  assert.equal(verifyCommittedChain(node.committed, keys, opts).length, node.committed.length);
  assert.throws(() => verifyCommittedChain(node.committed, keys, { ...opts, leaderOf: roundRobinLeader(keys) }), /leader/);
});
