import { test } from 'node:test';
import assert from 'node:assert/strict';
import { genesis, GenesisError, TxRejectedError, type TxOp } from '../../../chain/state/index.js';
import { key, keyOn, nodeSpec, P, World, TOP } from './helpers.js';

const a = keyOn('shard-0');
const b = keyOn('shard-0', P, 1);

test('shard-side rejections of the remaining rules are named and leave only fee + nonce', () => {
  const w = new World(P, [{ who: a, amount: 1000n * TOP }, { who: b, amount: 1000n * TOP }]);
  w.run(w.tx(a, { type: 'channel-open', relay: b.address, deposit: 1n * TOP }));
  const cid = [...w.get('shard-0').channels.keys()][0]!;
  const cases: [TxOp, string, RegExp][] = [
    [{ type: 'update-node', changes: {} }, 'update-node', /no changes/],
    [{ type: 'update-node', changes: { endpoints: Array.from({ length: 9 }, () => 'h:1') } }, 'update-node', /at most 8/],
    [{ type: 'update-node', changes: { onionKey: 'xyz' } }, 'update-node', /onion key must be 32-byte hex/],
    [{ type: 'update-node', changes: { pricePerGiB: -1n } }, 'update-node', /non-negative/],
    [{ type: 'unvote', node: b.address, amount: 0n }, 'unvote', /positive/],
    [{ type: 'unvote', node: 'nope', amount: 1n }, 'unvote', /not a 32-byte hex address/],
    [{ type: 'vote', node: b.address, amount: 10_000n * TOP }, 'vote', /balance/],
    [{ type: 'channel-close', channelId: 'ab'.repeat(32) }, 'channel-close', /unknown/],
    [{ type: 'channel-finalize', channelId: 'ab'.repeat(32) }, 'channel-finalize', /unknown/],
    [{ type: 'channel-open', relay: b.address, deposit: 0n }, 'channel-open', /positive/],
    [{ type: 'channel-open', relay: b.address, deposit: 1n, channelId: 'short' }, 'channel-open', /32-byte hex/],
    [{ type: 'resource-withdraw', amount: 1n }, 'resource-withdraw', /locked 0 < 1/],
    [{ type: 'resource-deposit', amount: 10_000n * TOP }, 'resource-deposit', /balance/],
  ];
  for (const [op, rule, re] of cases) {
    const before = w.get('shard-0').accounts.get(a.address)!;
    const r = w.run(w.tx(a, op));
    assert.equal(r.status, 'failed', `${op.type}: ${r.error?.message}`);
    assert.equal(r.error!.rule, rule);
    assert.match(r.error!.message, re);
    const after = w.get('shard-0').accounts.get(a.address)!;
    assert.equal(after.balance, before.balance - P.minFee);
    assert.equal(after.nonce, before.nonce + 1);
  }
  const byOther = w.run(w.tx(b, { type: 'channel-finalize', channelId: cid }));
  assert.match(byOther.error!.message, /only the payer may finalize/);
  assert.equal(Object.keys(w.get('shard-0').outbox).length, 0, 'no receipt left the shard');
});

test('error classes carry the rule name; unknown op types fail by name', () => {
  const e = new TxRejectedError('channel-claim', 'channel c1: receipt seq 4 ≤ claimed seq 4 (stale)');
  assert.ok(e instanceof Error);
  assert.equal(e.rule, 'channel-claim');
  assert.equal(e.name, 'TxRejectedError');
  const w = new World(P, [{ who: a, amount: 10n * TOP }]);
  const r = w.run(w.tx(a, { type: 'mint' } as never));
  assert.equal(r.status, 'failed');
  assert.match(r.error!.message, /unknown tx type mint/);
});

test('genesis: allocations land on home shards, nodes on the beacon, bad input refused', () => {
  const v = key('gv');
  const g = genesis(P, [{ address: a.address, amount: 5n }, { address: keyOn('shard-1').address, amount: 7n }], { nodes: [nodeSpec(v, 'validator', P.minDeposit.validator)], reserve: 100n });
  assert.equal(g.shards[0]!.accounts.get(a.address)!.balance, 5n);
  assert.equal(g.shards[1]!.accounts.get(keyOn('shard-1').address)!.balance, 7n);
  assert.equal(g.beacon.nodes[v.address]!.status, 'active');
  assert.deepEqual(g.supply, { total: 12n + P.minDeposit.validator, reserve: 100n });
  assert.equal(g.beacon.reserve, 100n);
  assert.throws(() => genesis(P, [], { nodes: [nodeSpec(v, 'validator', 1n)] }), GenesisError);
  assert.throws(() => genesis(P, [], { nodes: [nodeSpec(v, 'validator', P.minDeposit.validator), nodeSpec(v, 'validator', P.minDeposit.validator)] }), /twice/);
  assert.throws(() => genesis(P, [{ address: 'xx', amount: 1n }]), /bad address/);
  assert.throws(() => genesis(P, [], { nodes: [{ ...nodeSpec(v, 'relay', P.minDeposit.relay), onionKey: null }] }), /onion key/);
});
