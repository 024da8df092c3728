import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GiB } from '../../../protocol/payment-price.js';
import { DEFAULT_TARGET_BYTES, planChannels, planCleanup, type KnownChannel } from '../../../client/payments/channels.js';
import { BudgetTooSmallError, ChannelPlanError } from '../../../client/payments/errors.js';

const hops = [
  { relay: 'e'.repeat(64), pricePerGiB: 1_000_000n },
  { relay: 'm'.repeat(64), pricePerGiB: 500_000n },
  { relay: 'x'.repeat(64), pricePerGiB: 2_000_000n },
];
const FEE = 10_000n;

function known(over: Partial<KnownChannel>): KnownChannel {
  return { channelId: '00'.repeat(32), relay: hops[0]!.relay, deposit: 10_000_000n, promised: 0n, status: 'open', closesAt: null, ...over };
}

test('ample budget: each hop gets N GiB (default 10) at its own price', () => {
  const p = planChannels(hops, [], { budget: 1_000_000_000n, openFee: FEE });
  assert.equal(p.coverageBytes, DEFAULT_TARGET_BYTES);
  assert.deepEqual(p.hops.map((h) => (h.action === 'open' ? h.deposit : -1n)), [10_000_000n, 5_000_000n, 20_000_000n]);
  assert.equal(p.newDeposits, 35_000_000n);
  assert.equal(p.fees, 3n * FEE);
  for (const h of p.hops) assert.equal(h.coversBytes, 10n * GiB);
});

test('tight budget: the same coverage at every hop, the most the budget pays (fees included)', () => {
  const budget = 3_530_000n; // after 3 fees: 3_500_000 → 1 GiB at Σprice 3.5e6 minus rounding slack
  const p = planChannels(hops, [], { budget, openFee: FEE });
  const g = p.coverageBytes!;
  assert.ok(g < GiB && g > GiB - 4096n, `coverage ${g}`);
  assert.ok(p.newDeposits + p.fees <= budget);
  for (const h of p.hops) assert.ok(h.action === 'open' && h.coversBytes! >= g);
  assert.throws(() => planChannels(hops, [], { budget: 3n * FEE + 200_000n, openFee: FEE }), BudgetTooSmallError); // < 64 MiB
  assert.throws(() => planChannels([], [], { budget, openFee: FEE }), ChannelPlanError);
  assert.throws(() => planChannels([{ relay: 'a', pricePerGiB: -1n }], [], { budget, openFee: FEE }), ChannelPlanError);
});

test('reuse: an open channel with the relay that still pays ≥ 1 GiB; the one with most left', () => {
  const ch = [
    known({ channelId: 'a1'.repeat(32), deposit: 5_000_000n, promised: 4_100_000n }), // 0.9 TOP left < 1 GiB at 1 TOP
    known({ channelId: 'a2'.repeat(32), deposit: 5_000_000n, promised: 2_000_000n, lastReceipt: { seq: 40, cumulativeBytes: 2n * GiB, cumulativeAmount: 2_000_000n } }),
    known({ channelId: 'a3'.repeat(32), deposit: 9_000_000n, promised: 0n, status: 'closing', closesAt: 99 }),
    known({ channelId: 'a4'.repeat(32), relay: hops[1]!.relay, deposit: 400_000n, promised: 0n }), // 0.8 GiB at 0.5 TOP
  ];
  const p = planChannels(hops, ch, { budget: 1_000_000_000n, openFee: FEE });
  assert.deepEqual(p.hops[0], { relay: hops[0]!.relay, action: 'reuse', channelId: 'a2'.repeat(32), remaining: 3_000_000n, coversBytes: 3n * GiB, resume: { seq: 40, cumulativeBytes: 2n * GiB, cumulativeAmount: 2_000_000n } });
  assert.equal(p.hops[1]!.action, 'open');
  assert.equal(p.hops[2]!.action, 'open');
  assert.equal(p.fees, 2n * FEE);
  assert.equal(p.newDeposits, 5_000_000n + 20_000_000n);
  // with all three reusable, nothing is opened and the budget is not touched
  const all = hops.map((h, i) => known({ channelId: String(i).repeat(64), relay: h.relay, deposit: 100_000_000n }));
  const q = planChannels(hops, all, { budget: 0n, openFee: FEE });
  assert.deepEqual(q.hops.map((h) => h.action), ['reuse', 'reuse', 'reuse']);
  assert.equal(q.newDeposits + q.fees, 0n);
});

test('a free hop still gets a positive deposit', () => {
  const p = planChannels([{ relay: 'f'.repeat(64), pricePerGiB: 0n }], [], { budget: 100n, openFee: 10n });
  assert.deepEqual(p.hops[0], { relay: 'f'.repeat(64), action: 'open', deposit: 1n, coversBytes: null });
});

test('cleanup: close unused open channels worth more than two fees; finalize after the window', () => {
  const ch = [
    known({ channelId: 'b1'.repeat(32) }), // unused, 10 TOP left → close
    known({ channelId: 'b2'.repeat(32) }), // in use → keep
    known({ channelId: 'b3'.repeat(32), promised: 10_000_000n - 2n * FEE }), // left = 2 fees → dust
    known({ channelId: 'b4'.repeat(32), status: 'closing', closesAt: 100 }), // window open at 99
    known({ channelId: 'b5'.repeat(32), status: 'closing', closesAt: 99 }), // finalize at 99
    known({ channelId: 'b6'.repeat(32), status: 'finalized' }),
    known({ channelId: 'b7'.repeat(32), relay: 'g'.repeat(64) }), // kept for reuse (a guard)
  ];
  const p = planCleanup(ch, { height: 99, inUse: new Set(['b2'.repeat(32)]), keepRelays: new Set(['g'.repeat(64)]), fee: FEE });
  assert.deepEqual(p.close, ['b1'.repeat(32)]);
  assert.deepEqual(p.finalize, ['b5'.repeat(32)]);
  assert.deepEqual(p.keep.map((k) => [k.channelId.slice(0, 2), k.why]), [['b2', 'in_use'], ['b3', 'dust'], ['b4', 'window_open'], ['b6', 'finalized'], ['b7', 'kept_for_reuse']]);
});
