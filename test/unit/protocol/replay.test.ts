import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReplayWindow } from '../../../protocol/replay.js';
import { REPLAY_WINDOW } from '../../../protocol/constants.js';

const windowSize = REPLAY_WINDOW;

function tester(limit?: number): { w: ReplayWindow; T: (n: number, expected: boolean) => void } {
  const w = new ReplayWindow(limit);
  let k = 0;
  const T = (n: number, expected: boolean): void => {
    k++;
    // check() must predict mark() exactly (check before decrypt, mark after the tag verifies)
    assert.equal(w.check(n), expected, `case ${k}: check(${n})`);
    assert.equal(w.mark(n), expected, `case ${k}: mark(${n})`);
  };
  return { w, T };
}

test('window size is 8128 (128 blocks of 64 bits, one block slack)', () => {
  assert.equal(windowSize, 8128);
});

// The table of wireguard-go replay/replay_test.go (ported there from the Linux kernel).
// Counters are JS numbers here, so the reject limit is scaled down from 2^64-2^13-1 to
// 2^50-2^13-1; the window logic does not depend on the limit's size.
test('wireguard-go replay table', () => {
  const RejectAfterMessages = 2 ** 50 - 2 ** 13 - 1;
  const { T } = tester(RejectAfterMessages);
  const T_LIM = windowSize + 1;
  T(0, true); /*  1 */
  T(1, true); /*  2 */
  T(1, false); /*  3 */
  T(9, true); /*  4 */
  T(8, true); /*  5 */
  T(7, true); /*  6 */
  T(7, false); /*  7 */
  T(T_LIM, true); /*  8 */
  T(T_LIM - 1, true); /*  9 */
  T(T_LIM - 1, false); /* 10 */
  T(T_LIM - 2, true); /* 11 */
  T(2, true); /* 12 */
  T(2, false); /* 13 */
  T(T_LIM + 16, true); /* 14 */
  T(3, false); /* 15 */
  T(T_LIM + 16, false); /* 16 */
  T(T_LIM * 4, true); /* 17 */
  T(T_LIM * 4 - (T_LIM - 1), true); /* 18 */
  T(10, false); /* 19 */
  T(T_LIM * 4 - T_LIM, false); /* 20 */
  T(T_LIM * 4 - (T_LIM + 1), false); /* 21 */
  T(T_LIM * 4 - (T_LIM - 2), true); /* 22 */
  T(T_LIM * 4 + 1 - T_LIM, false); /* 23 */
  T(0, false); /* 24 */
  T(RejectAfterMessages, false); /* 25 */
  T(RejectAfterMessages - 1, true); /* 26 */
  T(RejectAfterMessages, false); /* 27 */
  T(RejectAfterMessages - 1, false); /* 28 */
  T(RejectAfterMessages - 2, true); /* 29 */
  T(RejectAfterMessages + 1, false); /* 30 */
  T(RejectAfterMessages + 2, false); /* 31 */
  T(RejectAfterMessages - 2, false); /* 32 */
  T(RejectAfterMessages - 3, true); /* 33 */
  T(0, false); /* 34 */
});

test('wireguard-go bulk tests 1-6', () => {
  {
    const { T } = tester();
    for (let i = 1; i <= windowSize; i++) T(i, true);
    T(0, true);
    T(0, false);
  }
  {
    const { T } = tester();
    for (let i = 2; i <= windowSize + 1; i++) T(i, true);
    T(1, true);
    T(0, false);
  }
  {
    const { T } = tester();
    for (let i = windowSize + 1; i > 0; i--) T(i, true);
  }
  {
    const { T } = tester();
    for (let i = windowSize + 2; i > 1; i--) T(i, true);
    T(0, false);
  }
  {
    const { T } = tester();
    for (let i = windowSize; i > 0; i--) T(i, true);
    T(windowSize + 1, true);
    T(0, false);
  }
  {
    const { T } = tester();
    for (let i = windowSize; i > 0; i--) T(i, true);
    T(0, true);
    T(windowSize + 1, true);
  }
});

test('large counters near 2^53 and non-integers', () => {
  const w = new ReplayWindow();
  const big = Number.MAX_SAFE_INTEGER - 1;
  assert.equal(w.mark(big), true);
  assert.equal(w.check(big), false);
  assert.equal(w.check(Number.MAX_SAFE_INTEGER), false, 'limit itself is rejected');
  assert.equal(w.mark(big - 8128), true);
  assert.equal(w.mark(big - 8129), false);
  assert.equal(w.check(1.5), false);
  assert.equal(w.check(-1), false);
  assert.equal(w.check(Number.NaN), false);
});

test('model check: never accepts a counter twice, always accepts a fresh counter within the window', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 30_000 }), { maxLength: 300 }), (xs) => {
      const w = new ReplayWindow();
      const seen = new Set<number>();
      let hi = -1;
      for (const x of xs) {
        const ok = w.mark(x);
        if (seen.has(x)) assert.equal(ok, false);
        else if (x > hi || hi - x <= windowSize - 64) assert.equal(ok, true, `fresh ${x} hi ${hi}`);
        if (ok) {
          seen.add(x);
          hi = Math.max(hi, x);
        }
      }
    }),
  );
});
