import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BUCKETS, bucketOf, StateMap, StateMapFrozenError } from '../../../chain/state/state-map.js';
import { canonicalJson } from '../../../chain/state/encoding.js';

type Op = { kind: 'set'; key: string; value: number } | { kind: 'delete'; key: string } | { kind: 'fork' };

// Few distinct keys, so sets, overwrites and deletes of the same key meet; some share a bucket.
const keyArb = fc.oneof(fc.constantFrom('a', 'b', 'c', 'k1', 'k2', 'k3', 'k4'), fc.string({ maxLength: 6 }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: keyArb, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
  fc.constant({ kind: 'fork' as const }),
);

function contents<V>(m: StateMap<V>): Map<string, V> {
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sorted<V>(m: Map<string, V>): Map<string, V> {
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

test('StateMap behaves as a Map across versions, and every earlier version keeps what it held', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      const versions: Array<{ map: StateMap<number>; model: Map<string, number> }> = [];
      let model = new Map<string, number>();
      let map = StateMap.empty<number>().beginWrite();
      for (const op of ops) {
        if (op.kind === 'fork') {
          map.endWrite();
          versions.push({ map, model });
          map = map.beginWrite();
          model = new Map(model);
        } else if (op.kind === 'set') {
          assert.equal(map.set(op.key, op.value), map);
          model.set(op.key, op.value);
        } else {
          assert.equal(map.delete(op.key), model.delete(op.key));
        }
        assert.equal(map.size, model.size);
      }
      for (const k of ['a', 'b', 'k1', 'zz']) {
        assert.equal(map.get(k), model.get(k));
        assert.equal(map.has(k), model.has(k));
      }
      assert.deepEqual(contents(map), sorted(model));
      for (const v of versions) {
        assert.deepEqual(contents(v.map), sorted(v.model), 'a later version changed an earlier one');
        assert.equal(v.map.size, v.model.size);
      }
    }),
  );
});

test('StateMap: a frozen map refuses writes with StateMapFrozenError; a written map freezes on endWrite', () => {
  const m = StateMap.fromRecord({ a: 1 });
  assert.equal(m.writable, false);
  assert.throws(() => m.set('b', 2), StateMapFrozenError);
  assert.throws(() => m.delete('a'), StateMapFrozenError);
  const w = m.beginWrite();
  assert.equal(w.writable, true);
  w.set('b', 2);
  w.endWrite();
  assert.throws(() => w.set('c', 3), StateMapFrozenError);
  assert.deepEqual(contents(w), new Map([['a', 1], ['b', 2]]));
  assert.deepEqual(contents(m), new Map([['a', 1]]));
});

test('StateMap.diff: the entries set, replaced or deleted, whatever the history between the two maps', () => {
  const base = StateMap.fromRecord({ a: 1, b: 2 });
  const next = base.beginWrite();
  next.set('a', 5);
  next.delete('b');
  next.delete('never-there');
  next.set('c', 3);
  next.endWrite();
  const diff = (x: StateMap<number>, y: StateMap<number>): Array<[string, number | undefined]> => [...StateMap.diff(x, y)].sort(([p], [q]) => (p < q ? -1 : 1));
  assert.deepEqual(diff(base, next), [['a', 5], ['b', undefined], ['c', 3]], 'a delete of an absent key is no change');
  assert.deepEqual(diff(StateMap.fromRecord({ a: 1, b: 2 }), next), [['a', 5], ['b', undefined], ['c', 3]], 'an equal map that is not the base gives the same');
  const after = next.beginWrite();
  after.endWrite();
  assert.deepEqual(diff(base, after), diff(base, next), 'across versions');
  assert.deepEqual(diff(next, after), [], 'nothing written');
  assert.deepEqual(diff(StateMap.fromRecord({ a: 1 }), base), [['b', 2]]);
});

test('StateMap equality is by content (deepStrictEqual), whatever the history', () => {
  const a = StateMap.fromEntries([['x', 1], ['y', 2], ['z', 3]]);
  const b = StateMap.fromEntries([['z', 3], ['x', 1]]).beginWrite();
  b.set('y', 9);
  b.set('y', 2);
  b.set('gone', 0);
  b.delete('gone');
  b.endWrite();
  assert.deepStrictEqual(a, b);
  assert.notDeepStrictEqual(a, StateMap.fromEntries([['x', 1], ['y', 2], ['z', 4]]));
  assert.notDeepStrictEqual(a, StateMap.fromEntries([['x', 1], ['y', 2]]));
});

test('StateMap JSON: toJSON is the plain object; fromRecord reads it back; canonicalJson prints it sorted; undefined members are skipped', () => {
  const m = StateMap.fromRecord<{ n: bigint }>({ q: { n: 1n }, a: { n: 2n }, skip: undefined });
  assert.equal(m.size, 2);
  assert.deepEqual(m.toJSON(), { a: { n: 2n }, q: { n: 1n } });
  assert.equal(canonicalJson(m), '{"a":{"n":"2"},"q":{"n":"1"}}');
  assert.deepStrictEqual(StateMap.fromRecord(m.toJSON()), m);
  assert.equal(StateMap.of(m), m, 'a StateMap is taken as it is');
  assert.deepStrictEqual(StateMap.of(undefined), StateMap.empty());
});

test('StateMap.clone shares no entry with the original', () => {
  const m = StateMap.fromRecord({ a: { n: 1 } });
  const c = m.clone();
  assert.deepStrictEqual(c, m);
  c.get('a')!.n = 2;
  assert.equal(m.get('a')!.n, 1);
});

test('bucketOf spreads keys over all BUCKETS and is stable', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 50_000; i++) seen.add(bucketOf(i.toString(16).padStart(64, '0')));
  assert.ok(seen.size > BUCKETS * 0.95, `only ${seen.size} of ${BUCKETS} buckets used`);
  assert.equal(bucketOf(''), (0x811c9dc5 >>> 20) & (BUCKETS - 1));
});

test('StateMap.diff: applied to the base, it gives the next version, across any number of versions', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.nat(), (ops, pick) => {
      const versions: StateMap<{ v: number }>[] = [];
      let map = StateMap.empty<{ v: number }>().beginWrite();
      for (const op of ops) {
        if (op.kind === 'fork') {
          map.endWrite();
          versions.push(map);
          map = map.beginWrite();
        } else if (op.kind === 'set') map.set(op.key, { v: op.value });
        else map.delete(op.key);
      }
      map.endWrite();
      const base = versions.length > 0 ? versions[pick % versions.length]! : StateMap.empty<{ v: number }>();
      const model = new Map(base.entries());
      const seen = new Set<string>();
      for (const [k, v] of StateMap.diff(base, map)) {
        assert.ok(!seen.has(k), `key ${k} twice`);
        seen.add(k);
        if (v === undefined) {
          assert.ok(model.delete(k), `deleted ${k} was not in the base`);
        } else {
          assert.notEqual(base.get(k), v, `unchanged ${k} reported`);
          model.set(k, v);
        }
      }
      assert.deepEqual(sorted(model), contents(map));
    }),
  );
});
