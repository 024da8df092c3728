/**
 * The committee schedule's pure parts (chain/node/epochs.ts): epoch of a height, consensus
 * periods and their view ranges, the height → group lookup, and the election every node runs
 * at a beacon epoch boundary (deterministic, ≤ ¼ rotation, spares electable, directory only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CommitteeSchedule,
  VIEW_EPOCH_STRIDE,
  adoptElection,
  electEpoch,
  electableRegistry,
  epochOfHeight,
  firstViewOf,
  sameMembers,
} from '../../../chain/node/epochs.js';
import { DEVNET_PARAMS, makeParams, type Committees } from '../../../chain/state/index.js';
import type { ChainState, NodeRecord } from '../../../chain/state/types.js';

const addr = (i: number): string => i.toString(16).padStart(64, '0');

test('epochOfHeight: epoch k holds exactly heights k·L+1 … (k+1)·L; disabled (L=0) is always epoch 0', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 1000 }), (L, k) => {
      assert.equal(epochOfHeight(k * L + 1, L), k);
      assert.equal(epochOfHeight((k + 1) * L, L), k);
      assert.equal(epochOfHeight((k + 1) * L + 1, L), k + 1);
      assert.equal(epochOfHeight(k * L + 1, 0), 0);
    }),
  );
});

test('firstViewOf: periods own disjoint view ranges of width VIEW_EPOCH_STRIDE', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1_000_000 }), (k) => {
      assert.ok(firstViewOf(k + 1) - firstViewOf(k) >= VIEW_EPOCH_STRIDE - 1);
      assert.ok(Number.isSafeInteger(firstViewOf(k + 1)));
    }),
  );
});

/** Random committees per epoch for one shard drawn from a small pool, so runs of equal groups happen. */
const groupArb = fc.constantFrom([addr(1), addr(2), addr(3), addr(4)], [addr(2), addr(3), addr(4), addr(5)], [addr(1), addr(3), addr(4), addr(5)]);

test('CommitteeSchedule.groupAt: a height gets its epoch\'s group; a period is a run of equal groups; unknown epochs are undefined', () => {
  fc.assert(
    fc.property(fc.array(groupArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 3, max: 9 }), (groups, L) => {
      const genesis: Committees = { beacon: [addr(9)], shards: [{ shard: 0, validators: [...groups[0]!], auditors: [addr(7)] }] };
      const s = new CommitteeSchedule(genesis, L);
      for (let e = 1; e < groups.length; e++) s.set(e, { beacon: [addr(9)], shards: [{ shard: 0, validators: [...groups[e]!], auditors: [addr(7)] }] });
      for (let h = 1; h <= groups.length * L; h++) {
        const g = s.groupAt('shard-0', h)!;
        const e = Math.floor((h - 1) / L);
        assert.equal(g.epoch, e);
        assert.deepEqual(g.validators, groups[e]);
        let start = e;
        while (start > 0 && sameMembers(groups[start - 1]!, groups[e]!)) start--;
        assert.equal(g.periodStart, start);
        assert.equal(g.firstView, firstViewOf(start));
      }
      assert.equal(s.groupAt('shard-0', groups.length * L + 1), undefined, 'next epoch not elected yet');
      assert.deepEqual(s.groupAt('beacon', 10 ** 6)!.validators, [addr(9)]);
    }),
  );
});

test('CommitteeSchedule: records must arrive in epoch order; disabled schedule keeps genesis forever', () => {
  const genesis: Committees = { beacon: [addr(9)], shards: [{ shard: 0, validators: [addr(1)], auditors: [] }] };
  const s = new CommitteeSchedule(genesis, 5);
  assert.throws(() => s.set(2, genesis), { name: 'ScheduleError' });
  const off = new CommitteeSchedule(genesis, 0);
  assert.equal(off.isElectionHeight(10), false);
  assert.deepEqual(off.groupAt('shard-0', 10 ** 6)!.validators, [addr(1)]);
  assert.equal(s.isElectionHeight(10), true);
  assert.equal(s.isElectionHeight(11), false);
});

function nodeRec(owner: string, role: 'validator' | 'auditor', deposit: bigint): NodeRecord {
  return { owner, role, consensusKey: owner, onionKey: null, endpoints: [], pricePerGiB: 0n, region: 'x', deposit, status: 'active', registeredAt: 0, releaseHeight: null, slashed: 0n } as NodeRecord;
}

test('electEpoch: deterministic, seats spares, rotates at most ¼ of a group, keeps validators and auditors disjoint, ignores nodes outside the directory', () => {
  const params = makeParams({ shardCount: 2, committee: { validatorsPerShard: 4, auditorsPerShard: 2, beaconSize: 4, rotationDivisor: 4 } }, DEVNET_PARAMS);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 6 }), fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')), fc.integer({ min: 1, max: 99 }), (spares, stakes, qcHash, epoch) => {
      const nodes: ChainState['nodes'] = {};
      const vals = Array.from({ length: 8 + spares }, (_, i) => addr(100 + i));
      const auds = Array.from({ length: 4 }, (_, i) => addr(200 + i));
      vals.forEach((v, i) => (nodes[v] = nodeRec(v, 'validator', stakes[i % 16]! * 1000n)));
      auds.forEach((a, i) => (nodes[a] = nodeRec(a, 'auditor', stakes[(i + 3) % 16]! * 1000n)));
      const stranger = addr(999);
      nodes[stranger] = nodeRec(stranger, 'validator', 10n ** 12n);
      const directory = new Set([...vals, ...auds]);
      const prev: Committees = { beacon: auds, shards: [{ shard: 0, validators: vals.slice(0, 4), auditors: auds.slice(0, 2) }, { shard: 1, validators: vals.slice(4, 8), auditors: auds.slice(2, 4) }] };
      const justify = { height: 9, view: 12, blockHash: qcHash };
      const a = electEpoch({ nodes, votes: {} }, justify, epoch, params, prev, directory);
      const b = electEpoch({ nodes, votes: {} }, justify, epoch, params, prev, directory);
      assert.deepEqual(a, b, 'same inputs, same committees');
      const seated = new Set<string>();
      for (const s of a.shards) {
        const p = prev.shards[s.shard]!;
        assert.equal(s.validators.length, 4);
        assert.ok(p.validators.filter((v) => !s.validators.includes(v)).length <= 1, 'at most ¼ rotated');
        assert.ok(!s.validators.includes(stranger), 'only directory nodes are electable');
        for (const v of s.validators) {
          assert.ok(!seated.has(v), 'validator groups are disjoint');
          seated.add(v);
        }
        for (const x of s.auditors) assert.ok(!s.validators.includes(x));
      }
      // With a spare somewhere, every group rotates exactly one seat (to a spare or another group's dropped member).
      if (spares >= 1) for (const s of a.shards) assert.equal(s.validators.filter((v) => !prev.shards[s.shard]!.validators.includes(v)).length, 1);
      if (spares === 0) assert.deepEqual(a.shards.map((s) => s.validators), prev.shards.map((s) => [...s.validators].sort()));
    }),
    { numRuns: 40 },
  );
});

test('adoptElection keeps a previous group when the elected one is smaller; electableRegistry needs owner = consensus key', () => {
  const prev: Committees = { beacon: [addr(9)], shards: [{ shard: 0, validators: [addr(1), addr(2), addr(3), addr(4)], auditors: [addr(7), addr(8)] }] };
  const elected: Committees = { beacon: [addr(1)], shards: [{ shard: 0, validators: [addr(1), addr(2), addr(5)], auditors: [addr(6), addr(7), addr(8)] }] };
  const a = adoptElection(prev, elected);
  assert.deepEqual(a.shards[0]!.validators, prev.shards[0]!.validators);
  assert.deepEqual(a.shards[0]!.auditors, [addr(6), addr(7), addr(8)]);
  assert.deepEqual(a.beacon, prev.beacon, 'the beacon committee stays');
  const n = nodeRec(addr(1), 'validator', 5n);
  const reg = electableRegistry({ nodes: { [addr(1)]: n, [addr(2)]: { ...n, owner: addr(2), consensusKey: addr(3) } }, votes: {} }, new Set([addr(1), addr(2)]));
  assert.deepEqual(Object.keys(reg.nodes), [addr(1)]);
});
