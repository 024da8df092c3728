import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GiB, MiB } from '../../../protocol/payment-price.js';
import { assertReconciled, reconcile, type ChannelEarningsInput } from '../../../relay/payments/ledger.js';
import { LedgerInconsistencyError } from '../../../relay/payments/errors.js';
import type { ClaimRecord } from '../../../relay/payments/claims.js';
import { OTHER_CHANNEL, CHANNEL, signed } from './helpers.js';

const PRICE = 1_000_000n;

function claim(channelId: string, seq: number, delta: bigint, fee = 10n): ClaimRecord {
  const burn = (delta * 10n + 99n) / 100n;
  return { channelId, seq, txHash: 'ff'.repeat(32), delta, burn, fee, net: delta - burn - fee };
}

function input(over: Partial<ChannelEarningsInput> = {}): ChannelEarningsInput {
  return {
    channelId: CHANNEL,
    pricePerGiB: PRICE,
    servedBytes: 3n * GiB,
    best: signed({ seq: 9, cumulativeAmount: 2_900_000n, cumulativeBytes: 2_900n * MiB }),
    deposit: 5_000_000n,
    chainClaimed: 2_000_015n,
    chainClaimedBytes: 2n * GiB,
    status: 'open',
    claims: [claim(CHANNEL, 4, 1_000_000n), claim(CHANNEL, 7, 1_000_015n)],
    ...over,
  };
}

test('per-channel figures: served ≥ receipted ≥ claimed = net + burned + fees; pending; unreceipted', () => {
  const r = assertReconciled([input()], 10n);
  const c = r.channels[0]!;
  assert.deepEqual(c.tokens, {
    served: 3_000_000n,
    receipted: 2_900_000n,
    claimed: 2_000_015n,
    pending: 899_985n,
    unreceipted: 100_000n,
    excess: 0n,
    burned: 100_000n + 100_002n, // ceil(10%) of 1_000_015 is 100_002
    fees: 20n,
    net: 2_000_015n - 200_002n - 20n,
    lost: 0n,
  });
  assert.deepEqual(c.bytes, { served: 3n * GiB, receipted: 2_900n * MiB, claimed: 2n * GiB, pending: 852n * MiB, unreceipted: 3n * GiB - 2_900n * MiB, excess: 0n });
});

test('totals add up across channels; a receipt above the deposit counts as the deposit', () => {
  const b = input({ channelId: OTHER_CHANNEL, best: signed({ seq: 2, cumulativeAmount: 9_000_000n, channelId: OTHER_CHANNEL }), deposit: 1_000_000n, servedBytes: 2n * GiB, chainClaimed: 0n, chainClaimedBytes: 0n, claims: [] });
  const r = assertReconciled([input(), b], 10n);
  assert.equal(r.channels[1]!.tokens.receipted, 1_000_000n);
  assert.equal(r.total.served, 5_000_000n);
  assert.equal(r.total.receipted, 3_900_000n);
  assert.equal(r.total.claimed, 2_000_015n);
  assert.equal(r.total.pending, 899_985n + 1_000_000n);
  assert.equal(r.totalBytes.served, 5n * GiB);
});

test('a receipt above what we counted shows as excess (the client counted packets we never got)', () => {
  const r = assertReconciled([input({ servedBytes: 2_800n * MiB })], 10n);
  const c = r.channels[0]!;
  assert.equal(c.tokens.excess, 2_900_000n - 2_734_375n); // 2800 MiB at 1e6/GiB = 2734375
  assert.equal(c.tokens.unreceipted, 0n);
  assert.equal(c.tokens.served + c.tokens.excess, c.tokens.receipted + c.tokens.unreceipted);
});

test('the pending value of a finalized channel is lost', () => {
  const r = assertReconciled([input({ status: 'finalized' })], 10n);
  assert.equal(r.channels[0]!.tokens.lost, 899_985n);
  assert.equal(r.total.lost, 899_985n);
});

test('inconsistencies are reported (and thrown by assertReconciled)', () => {
  const bad: [string, ChannelEarningsInput][] = [
    ['wrong burn', input({ claims: [claim(CHANNEL, 4, 1_000_000n), { ...claim(CHANNEL, 7, 1_000_015n), burn: 100_001n, net: 1_000_015n - 100_001n - 10n }] })],
    ['net mismatch', input({ claims: [claim(CHANNEL, 4, 1_000_000n), { ...claim(CHANNEL, 7, 1_000_015n), net: 1n }] })],
    ['missing claim record', input({ claims: [claim(CHANNEL, 4, 1_000_000n)] })],
    ['claimed above receipted', input({ chainClaimed: 3_000_000n, claims: [claim(CHANNEL, 4, 3_000_000n)] })],
    ['record of another channel', input({ claims: [claim(CHANNEL, 4, 1_000_000n), claim(OTHER_CHANNEL, 7, 1_000_015n)] })],
  ];
  for (const [name, i] of bad) {
    assert.equal(reconcile([i], 10n).issues.length > 0, true, name);
    assert.throws(() => assertReconciled([i], 10n), LedgerInconsistencyError, name);
  }
});
