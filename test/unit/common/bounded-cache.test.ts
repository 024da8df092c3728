import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCache } from '../../../common/bounded-cache.js';

test('BoundedCache: holds at most capacity entries; an entry outlives at least capacity/2 later writes', () => {
  const c = new BoundedCache<number, string>(10);
  for (let i = 0; i < 100; i++) {
    c.set(i, `v${i}`);
    assert.ok(c.size <= 10, `size ${c.size} after ${i + 1} writes`);
    for (let j = Math.max(0, i - 4); j <= i; j++) assert.equal(c.get(j), `v${j}`, `key ${j} after write ${i}`);
  }
  assert.equal(c.get(0), undefined, 'old entries are gone');
  assert.equal(c.get(89), undefined, 'beyond capacity writes ago');
});

test('BoundedCache: a rewrite wins over the copy in the previous generation; rewriting a current key does not rotate', () => {
  const c = new BoundedCache<string, number>(4);
  c.set('a', 1);
  c.set('b', 2);
  c.set('c', 3); // rotates: a, b are now the previous generation
  c.set('a', 10);
  assert.equal(c.get('a'), 10);
  assert.equal(c.get('b'), 2);
  c.set('a', 11); // 'a' is in the current generation: no rotation
  assert.equal(c.get('b'), 2);
  assert.equal(c.get('c'), 3);
});

test('BoundedCache: a capacity below 2 or not an integer is a RangeError', () => {
  for (const bad of [0, 1, 2.5, Number.NaN]) assert.throws(() => new BoundedCache(bad), RangeError);
});
