import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeStatusOf } from '../../../chain/node/node-status.js';
import { DEVNET_PARAMS, genesis, UNIT, voteKey } from '../../../chain/state/index.js';

test('nodeStatusOf: stake = deposit + votes on the node; jailed stays true while unbonding; unknown → undefined', () => {
  const params = { ...DEVNET_PARAMS, shardCount: 2 };
  const relay = 'aa'.repeat(32);
  const other = 'bb'.repeat(32);
  const voter = 'cc'.repeat(32);
  const g = genesis(params, [{ address: voter, amount: 1_000n * UNIT }], {
    nodes: [
      { owner: relay, role: 'relay', consensusKey: relay, onionKey: 'dd'.repeat(32), endpoints: ['udp://198.18.0.1:51820'], pricePerGiB: 7n * UNIT, region: 'eu', deposit: 200_000n * UNIT },
      { owner: other, role: 'relay', consensusKey: other, onionKey: 'ee'.repeat(32), endpoints: [], pricePerGiB: 1n, region: 'us', deposit: 300_000n * UNIT },
    ],
  });
  const b = g.beacon;
  b.votes[voteKey(voter, relay)] = { voter, node: relay, amount: 40n * UNIT };
  b.votes[voteKey(voter, other)] = { voter, node: other, amount: 9n * UNIT };
  let v = nodeStatusOf(b, relay)!;
  assert.equal(v.role, 'relay');
  assert.equal(v.deposit, 200_000n * UNIT);
  assert.equal(v.votes, 40n * UNIT);
  assert.equal(v.stake, 200_040n * UNIT);
  assert.equal(v.jailed, false);
  assert.equal(v.price, 7n * UNIT);
  assert.equal(v.region, 'eu');
  assert.deepEqual(v.endpoints, ['udp://198.18.0.1:51820']);
  assert.deepEqual(v.keys, { consensus: relay, onion: 'dd'.repeat(32) });
  assert.equal('unbondingUntil' in v, false);
  // Slashed, then unbonding: still jailed (tombstone), with its release height.
  const n = b.nodes[relay]!;
  n.slashed = 10n;
  n.deposit -= 10n;
  n.status = 'unbonding';
  n.releaseHeight = 42;
  v = nodeStatusOf(b, relay)!;
  assert.equal(v.jailed, true);
  assert.equal(v.status, 'unbonding');
  assert.equal(v.unbondingUntil, 42);
  assert.equal(v.stake, 200_000n * UNIT - 10n + 40n * UNIT);
  assert.equal(nodeStatusOf(b, voter), undefined);
  assert.equal(nodeStatusOf(b, 'toString'), undefined);
});
