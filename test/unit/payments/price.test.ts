import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { amountForBytes, bytesCoveredBy, GiB, MiB, PriceError } from '../../../protocol/payment-price.js';

test('amount due = ceil(bytes × pricePerGiB / 2^30)', () => {
  assert.equal(amountForBytes(GiB, 1_000_000n), 1_000_000n);
  assert.equal(amountForBytes(1n, 1_000_000n), 1n); // any byte costs at least one unit at a non-zero price
  assert.equal(amountForBytes(0n, 1_000_000n), 0n);
  assert.equal(amountForBytes(MiB, 1_000_000n), 977n); // 976.5625 rounds up
  assert.equal(amountForBytes(300n * MiB, 1_000_000n), 292_969n); // 292968.75
  assert.equal(amountForBytes(12345n, 0n), 0n);
  assert.equal(bytesCoveredBy(977n, 1_000_000n), 1_049_045n); // floor(977 · 2^30 / 10^6)
  assert.equal(bytesCoveredBy(5n, 0n), null);
  assert.throws(() => amountForBytes(-1n, 1n), PriceError);
  assert.throws(() => bytesCoveredBy(1n, -1n), PriceError);
});

test('property: amountForBytes and bytesCoveredBy are a Galois pair (no byte free, no unit lost)', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 1n << 50n }), fc.bigInt({ min: 1n, max: 1n << 40n }), (b, p) => {
      const a = amountForBytes(b, p);
      const covered = bytesCoveredBy(a, p)!;
      assert.ok(covered >= b); // what we pay covers what we used
      assert.ok(amountForBytes(covered, p) <= a); // and the covered bytes cost no more than paid
      assert.ok(amountForBytes(covered + 1n, p) > a); // maximal
      assert.ok(a * GiB >= b * p && (a - 1n) * GiB < b * p); // exactly the ceiling
    }),
    { numRuns: 2000 },
  );
});
