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
  type GroupAt,
} from '../../../chain/node/epochs.js';
import { periodRole } from '../../../chain/node/epoch-handover.js';
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
      const b = s.groupAt('beacon', groups.length * L)!;
      assert.deepEqual([b.validators, b.periodStart, b.epoch], [[addr(9)], 0, groups.length - 1], 'an unchanged beacon committee stays in period 0');
      assert.equal(s.groupAt('beacon', groups.length * L + 1), undefined, 'the beacon\'s next epoch is not elected yet either');
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
  assert.deepEqual(off.groupAt('beacon', 10 ** 6), { epoch: 0, validators: [addr(9)], auditors: [], periodStart: 0, firstView: 1 });
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
  assert.deepEqual(a.beacon, [addr(1)], 'an elected beacon committee of the previous size is adopted');
  // The beacon follows the same rule as every group: smaller → the previous one continues.
  const prevB: Committees = { ...prev, beacon: [addr(9), addr(4), addr(2), addr(8)] };
  assert.deepEqual(adoptElection(prevB, { ...elected, beacon: [addr(2), addr(4), addr(9)] }).beacon, prevB.beacon, 'a smaller beacon committee is not adopted');
  assert.deepEqual(adoptElection(prevB, { ...elected, beacon: [addr(8), addr(9), addr(2), addr(5)] }).beacon, [addr(2), addr(5), addr(8), addr(9)], 'a new beacon committee is adopted, sorted');
  assert.deepEqual(adoptElection(prevB, { ...elected, beacon: [addr(2), addr(4), addr(8), addr(9)] }).beacon, prevB.beacon, 'same members keep the previous (leader) order');
  const n = nodeRec(addr(1), 'validator', 5n);
  const reg = electableRegistry({ nodes: { [addr(1)]: n, [addr(2)]: { ...n, owner: addr(2), consensusKey: addr(3) } }, votes: {} }, new Set([addr(1), addr(2)]));
  assert.deepEqual(Object.keys(reg.nodes), [addr(1)]);
});

/** Random beacon committees per epoch (shards fixed), from a small pool so runs of equal committees happen. */
const beaconArb = fc.constantFrom([addr(11), addr(12), addr(13), addr(14)], [addr(12), addr(13), addr(14), addr(15)], [addr(14), addr(13), addr(12), addr(11)]);

test('CommitteeSchedule.groupAt(beacon): epoch k\'s beacon committee runs heights k·L+1 … (k+1)·L; a run of equal committees is one period; unknown epochs are undefined', () => {
  fc.assert(
    fc.property(fc.array(beaconArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 3, max: 9 }), (beacons, L) => {
      const shards = [{ shard: 0, validators: [addr(1)], auditors: [addr(7)] }];
      const s = new CommitteeSchedule({ beacon: [...beacons[0]!], shards }, L);
      for (let e = 1; e < beacons.length; e++) s.set(e, { beacon: [...beacons[e]!], shards });
      for (let h = 1; h <= beacons.length * L; h++) {
        const g = s.groupAt('beacon', h)!;
        const e = Math.floor((h - 1) / L);
        assert.equal(g.epoch, e);
        assert.deepEqual(g.validators, beacons[e]);
        assert.deepEqual(g.auditors, [], 'the beacon has no auditors (final on commit)');
        let start = e;
        while (start > 0 && sameMembers(beacons[start - 1]!, beacons[e]!)) start--;
        assert.equal(g.periodStart, start);
        assert.equal(g.firstView, firstViewOf(start));
        // The shard's period is unaffected by the beacon's rotation.
        assert.equal(s.groupAt('shard-0', h)!.periodStart, 0);
      }
      assert.equal(s.groupAt('beacon', beacons.length * L + 1), undefined);
    }),
  );
});

test('periodRole: a shard waits for an unknown election; the beacon\'s running core treats an unknown height as its own (provisional); known heights are own or tail', () => {
  const g0: GroupAt = { epoch: 0, validators: [addr(1), addr(2)], auditors: [], periodStart: 0, firstView: 1 };
  const g1same: GroupAt = { ...g0, epoch: 1 };
  const g1new: GroupAt = { epoch: 1, validators: [addr(1), addr(3)], auditors: [], periodStart: 1, firstView: firstViewOf(1) };
  assert.equal(periodRole(undefined, g0), 'wait');
  assert.equal(periodRole(undefined, g0, true), 'own');
  assert.equal(periodRole(undefined, undefined, true), 'wait', 'no core, nothing to build provisionally');
  for (const prov of [false, true]) {
    assert.equal(periodRole(g1same, g0, prov), 'own', 'same committee: the period continues');
    assert.equal(periodRole(g1new, g0, prov), 'tail', 'new committee: above the old period');
    assert.equal(periodRole(g1new, g1new, prov), 'own');
  }
});

/** Beacon registry for the beacon election tests: validators v0…, auditors a0…, one relay, one stranger (not in the directory). */
function beaconRegistry(nv: number, na: number, stake: (i: number) => bigint): { nodes: ChainState['nodes']; directory: Set<string>; vals: string[]; auds: string[]; relay: string; stranger: string } {
  const nodes: ChainState['nodes'] = {};
  const vals = Array.from({ length: nv }, (_, i) => addr(300 + i));
  const auds = Array.from({ length: na }, (_, i) => addr(400 + i));
  vals.forEach((v, i) => (nodes[v] = nodeRec(v, 'validator', stake(i))));
  auds.forEach((a, i) => (nodes[a] = nodeRec(a, 'auditor', stake(i + nv))));
  const relay = addr(500);
  nodes[relay] = { ...nodeRec(relay, 'validator', 10n ** 12n), role: 'relay' };
  const stranger = addr(501);
  nodes[stranger] = nodeRec(stranger, 'auditor', 10n ** 12n);
  return { nodes, directory: new Set([...vals, ...auds, relay]), vals, auds, relay, stranger };
}

test('electEpoch (beacon): active validator/auditor directory nodes only, stake-weighted, at most ¼ rotated per epoch, ineligible members replaced', () => {
  const params = makeParams({ shardCount: 1, committee: { validatorsPerShard: 4, auditorsPerShard: 3, beaconSize: 4, rotationDivisor: 4 } }, DEVNET_PARAMS);
  fc.assert(
    fc.property(fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 12, maxLength: 12 }), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')), (stakes, qcHash) => {
      const r = beaconRegistry(6, 4, (i) => stakes[i % 12]! * 1000n);
      // Genesis-like layout: the auditors form the beacon committee.
      let prev: Committees = { beacon: r.auds.slice(0, 4), shards: [{ shard: 0, validators: r.vals.slice(0, 4), auditors: r.auds.slice(0, 3) }] };
      const eligible = new Set([...r.vals, ...r.auds]);
      let changed = 0;
      for (let e = 1; e <= 8; e++) {
        const next = electEpoch({ nodes: r.nodes, votes: {} }, { height: e * 10, view: e * 11, blockHash: qcHash }, e, params, prev, r.directory);
        assert.equal(next.beacon.length, 4);
        assert.equal(new Set(next.beacon).size, 4);
        for (const m of next.beacon) assert.ok(eligible.has(m), `beacon member ${m.slice(-3)} is an active validator/auditor of the directory`);
        const out = prev.beacon.filter((m) => !next.beacon.includes(m));
        // 10 eligible nodes for 4 seats: there is always a spare, so exactly floor(4/4) = 1 seat rotates.
        assert.equal(out.length, 1, `epoch ${e}: ${out.length} rotated out`);
        // A node sits in at most the beacon and one shard group; never audits its own group.
        for (const s of next.shards) for (const a of s.auditors) assert.ok(!s.validators.includes(a));
        changed += out.length;
        prev = next;
      }
      assert.ok(changed > 0);
      // A member that unregisters (unbonding) or is jailed is replaced at once, beyond the ¼ bound.
      const gone = prev.beacon.slice(0, 2);
      const nodes = { ...r.nodes, [gone[0]!]: { ...r.nodes[gone[0]!]!, status: 'unbonding' as const }, [gone[1]!]: { ...r.nodes[gone[1]!]!, status: 'jailed' as const } };
      const next = electEpoch({ nodes, votes: {} }, { height: 90, view: 99, blockHash: qcHash }, 9, params, prev, r.directory);
      assert.equal(next.beacon.length, 4);
      for (const g of gone) assert.ok(!next.beacon.includes(g), 'an ineligible member leaves the beacon');
      assert.ok(prev.beacon.filter((m) => !next.beacon.includes(m)).length <= 2 + 1);
    }),
    { numRuns: 30 },
  );
});

test('electEpoch (beacon): votes make a spare likelier to be seated (stake-weighted refill)', () => {
  const params = makeParams({ shardCount: 1, committee: { validatorsPerShard: 4, auditorsPerShard: 3, beaconSize: 4, rotationDivisor: 4 } }, DEVNET_PARAMS);
  const r = beaconRegistry(8, 4, () => 1000n);
  const prev: Committees = { beacon: r.auds.slice(0, 4), shards: [{ shard: 0, validators: r.vals.slice(0, 4), auditors: r.auds.slice(0, 3) }] };
  const heavy = r.vals[7]!;
  const votes: ChainState['votes'] = { [`x:${heavy}`]: { voter: addr(600), node: heavy, amount: 100_000n } as ChainState['votes'][string] };
  let hits = 0;
  for (let e = 1; e <= 60; e++) if (electEpoch({ nodes: r.nodes, votes }, { height: e, view: e, blockHash: 'ab'.repeat(32) }, e, params, prev, r.directory).beacon.includes(heavy)) hits++;
  // Weight share of the heavy spare among the 8 spares ≈ 101/108; uniform would be 1/8.
  assert.ok(hits > 40, `heavy spare seated ${hits}/60`);
});

test('electEpoch (beacon): too few eligible nodes for the previous committee → the previous beacon committee continues', () => {
  const params = makeParams({ shardCount: 1, committee: { validatorsPerShard: 2, auditorsPerShard: 1, beaconSize: 4, rotationDivisor: 4 } }, DEVNET_PARAMS);
  const r = beaconRegistry(2, 2, () => 1000n);
  const prev: Committees = { beacon: [...r.vals, ...r.auds], shards: [{ shard: 0, validators: [...r.vals], auditors: [r.auds[0]!] }] };
  // One of the four leaves: three eligible nodes cannot fill four seats.
  const nodes = { ...r.nodes, [r.auds[1]!]: { ...r.nodes[r.auds[1]!]!, status: 'unbonding' as const } };
  const next = electEpoch({ nodes, votes: {} }, { height: 10, view: 10, blockHash: 'cd'.repeat(32) }, 1, params, prev, r.directory);
  assert.deepEqual(next.beacon, prev.beacon, 'a smaller beacon committee is not adopted');
  // With a replacement available it is adopted without the leaver.
  const more = beaconRegistry(3, 2, () => 1000n);
  const prev2: Committees = { beacon: [...more.vals.slice(0, 2), ...more.auds], shards: [{ shard: 0, validators: more.vals.slice(0, 2), auditors: [more.auds[0]!] }] };
  const nodes2 = { ...more.nodes, [more.auds[1]!]: { ...more.nodes[more.auds[1]!]!, status: 'unbonding' as const } };
  const next2 = electEpoch({ nodes: nodes2, votes: {} }, { height: 10, view: 10, blockHash: 'cd'.repeat(32) }, 1, params, prev2, more.directory);
  assert.deepEqual(next2.beacon, [...more.vals, more.auds[0]!].sort());
});

/**
 * A beacon chain of `n` blocks whose registry changes along the way (a beacon member unregisters,
 * a spare registers): the state after each block and its justify QC, as a node replays them.
 */
function beaconHistory(n: number, L: number): Array<{ block: { height: number; justify: { height: number; view: number; blockHash: string } }; after: { nodes: ChainState['nodes']; votes: ChainState['votes'] } }> {
  const r = beaconRegistry(5, 3, (i) => BigInt(1000 + 37 * i));
  const out = [];
  let nodes = { ...r.nodes };
  for (let h = 1; h <= n; h++) {
    if (h === 2 * L - 3) nodes = { ...nodes, [r.auds[0]!]: { ...nodes[r.auds[0]!]!, status: 'unbonding' as const } };
    if (h === 4 * L - 1) nodes = { ...nodes, [addr(350)]: nodeRec(addr(350), 'validator', 5000n) };
    out.push({ block: { height: h, justify: { height: h - 1, view: h + 3, blockHash: (h % 256).toString(16).padStart(2, '0').repeat(32) } }, after: { nodes, votes: {} } });
  }
  return out;
}

test('CommitteeSchedule.electAt: a restart that replays the beacon from a snapshot (stored records, one lost) rebuilds the same schedule, across beacon switches', () => {
  const L = 5;
  const params = makeParams({ shardCount: 1, committee: { validatorsPerShard: 3, auditorsPerShard: 2, beaconSize: 4, rotationDivisor: 4 } }, DEVNET_PARAMS);
  const r = beaconRegistry(5, 3, () => 0n);
  const directory = new Set([...r.directory, addr(350)]);
  const genesis: Committees = { beacon: [...r.auds, r.vals[4]!], shards: [{ shard: 0, validators: r.vals.slice(0, 3), auditors: r.auds.slice(1, 3) }] };
  const hist = beaconHistory(12 * L, L);
  const live = new CommitteeSchedule(genesis, L);
  const stored: Committees[] = [];
  for (const { block, after } of hist) {
    const e = live.electAt(block, after, params, directory);
    if (block.height % L === 0) {
      assert.ok(e && e.epoch === block.height / L, `election at ${block.height}`);
      stored[e.epoch] = e.committees;
    } else assert.equal(e, undefined);
    assert.equal(live.electAt(block, after, params, directory), undefined, 'an election is recorded once');
    // Holding boundary block k·L, a node knows the beacon group of every height up to (k+1)·L, not beyond.
    if (block.height % L === 0) {
      assert.ok(live.groupAt('beacon', block.height + 1) && live.groupAt('beacon', block.height + L));
      assert.equal(live.groupAt('beacon', block.height + L + 1), undefined);
    }
  }
  const switches = hist.filter(({ block }) => block.height > 1 && live.groupAt('beacon', block.height)!.periodStart !== live.groupAt('beacon', block.height - 1)!.periodStart).length;
  assert.ok(switches >= 2, `the beacon committee switched ${switches} times`);
  assert.ok(!live.committees(3)!.beacon.includes(r.auds[0]!), 'the unregistered member left the beacon');

  for (const snapAt of [0, 7, 3 * L, 6 * L + 2, 11 * L]) {
    for (const lost of [false, true]) {
      // Restart: records ep/1… read from the store (the last one lost when `lost`), then the
      // blocks after the snapshot replayed, then the live chain continues.
      const re = new CommitteeSchedule(genesis, L);
      const held = Math.floor(hist.length / L) - (lost ? 1 : 0);
      for (let k = 1; k <= held; k++) re.set(k, stored[k]!);
      for (const { block, after } of hist.slice(snapAt)) re.electAt(block, after, params, directory);
      assert.equal(re.knownEpoch, live.knownEpoch);
      for (let h = 1; h <= hist.length + L; h++) assert.deepEqual(re.groupAt('beacon', h), live.groupAt('beacon', h), `beacon group of ${h} after a restart at ${snapAt}${lost ? ' (record lost)' : ''}`);
    }
  }
});
