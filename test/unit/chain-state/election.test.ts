import { test } from 'node:test';
import assert from 'node:assert/strict';
import { electCommittees, electionSeed, genesis, makeParams, quorum, stakeWeights, type Committees, type GenesisNode } from '../../../chain/state/index.js';
import { key, nodeSpec, P, TOP } from './helpers.js';

const params = makeParams({ shardCount: 3 }, P);

function registry(nv: number, na: number) {
  const nodes: GenesisNode[] = [];
  for (let i = 0; i < nv; i++) nodes.push(nodeSpec(key(`v${i}`), 'validator', 500_000n * TOP + BigInt(i) * 10_000n * TOP));
  for (let i = 0; i < na; i++) nodes.push(nodeSpec(key(`a${i}`), 'auditor', 1_000_000n * TOP));
  for (let i = 0; i < 3; i++) nodes.push(nodeSpec(key(`r${i}`), 'relay', 200_000n * TOP));
  return genesis(params, [], { nodes }).beacon;
}

function check(c: Committees, reg: ReturnType<typeof registry>): void {
  const seen = new Set<string>();
  for (const s of c.shards) {
    assert.equal(s.validators.length, params.committee.validatorsPerShard);
    assert.equal(s.auditors.length, params.committee.auditorsPerShard);
    for (const v of s.validators) {
      assert.equal(reg.nodes[v]!.role, 'validator');
      assert.ok(!seen.has(v), 'validator in two shard groups');
      seen.add(v);
    }
    for (const a of s.auditors) {
      assert.equal(reg.nodes[a]!.role, 'auditor');
      assert.ok(!s.validators.includes(a), 'auditing its own validator group');
    }
  }
  assert.equal(c.beacon.length, params.committee.beaconSize);
  for (const b of c.beacon) assert.ok(['validator', 'auditor'].includes(reg.nodes[b]!.role), 'beacon members are validator- or auditor-role nodes');
}

test('election is deterministic in (registry, seed) and respects roles and disjointness', () => {
  const reg = registry(20, 16);
  const seed = electionSeed('ab'.repeat(32), 1);
  const c1 = electCommittees(reg, seed, params);
  const c2 = electCommittees(structuredClone(reg), seed, params);
  assert.deepEqual(c1, c2);
  check(c1, reg);
  const c3 = electCommittees(reg, electionSeed('cd'.repeat(32), 1), params);
  assert.notDeepEqual(c1, c3);
  check(c3, reg);
});

test('rotation replaces at most floor(size/4) members per group per epoch', () => {
  const reg = registry(24, 20);
  let prev = electCommittees(reg, electionSeed('00'.repeat(32), 0), params);
  let changed = 0;
  for (let e = 1; e <= 30; e++) {
    const next = electCommittees(reg, electionSeed(`${e}`.padStart(64, '0'), e), params, prev);
    check(next, reg);
    const groups: [string[], string[], number][] = [
      [prev.beacon, next.beacon, params.committee.beaconSize],
      ...next.shards.flatMap((s, i): [string[], string[], number][] => [
        [prev.shards[i]!.validators, s.validators, params.committee.validatorsPerShard],
        [prev.shards[i]!.auditors, s.auditors, params.committee.auditorsPerShard],
      ]),
    ];
    for (const [before, after, size] of groups) {
      const fresh = after.filter((m) => !before.includes(m)).length;
      assert.ok(fresh <= Math.floor(size / params.committee.rotationDivisor), `epoch ${e}: ${fresh} new members`);
      changed += fresh;
    }
    prev = next;
  }
  assert.ok(changed > 0, 'groups never rotate');
});

test('an ineligible (jailed) member is replaced even beyond the rotation bound; it is never elected', () => {
  const reg = registry(24, 20);
  const prev = electCommittees(reg, electionSeed('00'.repeat(32), 0), params);
  const jailed = prev.shards[0]!.validators.slice(0, 2);
  for (const j of jailed) reg.nodes[j]!.status = 'jailed';
  const next = electCommittees(reg, electionSeed('01'.repeat(32), 1), params, prev);
  check(next, reg);
  for (const s of next.shards) for (const j of jailed) assert.ok(!s.validators.includes(j));
  assert.ok(!next.beacon.some((m) => jailed.includes(m)));
});

test('stake-weighted: votes raise selection frequency', () => {
  const reg = registry(12, 4);
  const small = params.committee;
  const p1 = makeParams({ shardCount: 1, committee: { ...small, validatorsPerShard: 1, beaconSize: 1 } }, P);
  const heavy = key('v0').address;
  reg.votes[`x:${heavy}`] = { voter: 'x', node: heavy, amount: 20_000_000n * TOP };
  assert.ok(stakeWeights(reg, 'validator').get(heavy)! > 20_000_000n * TOP);
  let hits = 0;
  for (let i = 0; i < 200; i++) if (electCommittees(reg, electionSeed('ee'.repeat(32), i), p1).shards[0]!.validators[0] === heavy) hits++;
  // weight share ≈ 20.5M / (20.5M + 11 × ~0.55M) ≈ 0.77; uniform would be 1/12
  assert.ok(hits > 100, `heavy node elected ${hits}/200`);
});

test('small registries give smaller groups, never duplicates; quorum is floor(2n/3)+1', () => {
  const reg = registry(5, 2);
  const c = electCommittees(reg, electionSeed('aa'.repeat(32), 0), params);
  const all = c.shards.flatMap((s) => s.validators);
  assert.equal(new Set(all).size, all.length);
  assert.equal(all.length, 5);
  assert.deepEqual([quorum(4), quorum(7), quorum(128)], [3, 5, 86]);
});
