import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { verifyPaymentReceipt } from '../../../chain/state/index.js';
import { GiB, KiB, MiB } from '../../../protocol/payment-price.js';
import { allowance, DEFAULT_SIGN_CADENCE_BYTES, HopSigner, type HopSignerOptions } from '../../../client/payments/signer.js';
import { OverclaimError, SignerConfigError } from '../../../client/payments/errors.js';
import { CHAIN_ID, CHANNEL, payer } from './helpers.js';

const ONE_PER_BYTE = GiB; // amounts = bytes
const W = 4n * MiB;

function signer(o: Partial<HopSignerOptions> = {}): HopSigner {
  // relayLossAllowancePpm 0 keeps the overclaim bound = allowance + window (its own test below)
  return new HopSigner({ chainId: CHAIN_ID, channelId: CHANNEL, payerSeed: payer.seed, deposit: 100n * MiB, pricePerGiB: ONE_PER_BYTE, relayCreditWindowBytes: W, relayLossAllowancePpm: 0, ...o });
}

test('signs at the byte cadence (default 1 MiB) for what it measured, both directions', () => {
  assert.equal(DEFAULT_SIGN_CADENCE_BYTES, MiB);
  const s = signer();
  s.recordSent(MiB / 2n);
  s.recordReceived(MiB / 2n - 1n);
  assert.equal(s.maybeSign(), null);
  s.recordReceived(1);
  const r1 = s.maybeSign()!;
  assert.deepEqual(r1.receipt, { chainId: CHAIN_ID, channelId: CHANNEL, cumulativeBytes: MiB, cumulativeAmount: MiB, seq: 1 });
  assert.ok(verifyPaymentReceipt(r1.receipt, r1.signature, payer.address));
  assert.equal(s.maybeSign(), null);
  s.recordReceived(MiB + 5n);
  const r2 = s.maybeSign()!;
  assert.equal(r2.receipt.seq, 2);
  assert.equal(r2.receipt.cumulativeBytes, 2n * MiB + 5n);
  assert.equal(s.signedCount, 2);
  assert.equal(s.flush(), null); // nothing new
  s.recordSent(1);
  assert.equal(s.flush()!.receipt.cumulativeBytes, 2n * MiB + 6n);
});

test('tolerance: pays at most measured + 1% + 64 KiB, exactly at the edge', () => {
  const s = signer();
  s.recordReceived(10n * MiB);
  const allow = 10n * MiB + (10n * MiB + 99n) / 100n + 64n * KiB;
  assert.equal(s.allowanceBytes, allow);
  assert.equal(allowance(10n * MiB), allow);
  const atEdge = s.onPaymentRequired({ servedForward: 0n, servedBackward: allow })!;
  assert.equal(atEdge.receipt.cumulativeBytes, allow);
  assert.equal(atEdge.receipt.cumulativeAmount, allow);
  s.recordReceived(1); // allowance grows by 1 + (ceil of 1% may step)
  const over = s.onPaymentRequired({ servedForward: 0n, servedBackward: s.allowanceBytes + 1n })!;
  assert.equal(over.receipt.cumulativeBytes, s.allowanceBytes); // capped at the allowance, not the claim
});

test('a relay claiming less than we measured (forward in flight) is paid what it claims; nothing new → the last receipt again', () => {
  const s = signer();
  s.recordSent(5n * MiB);
  const r = s.onPaymentRequired({ servedForward: 5n * MiB - 3000n, servedBackward: 0n })!;
  assert.equal(r.receipt.cumulativeBytes, 5n * MiB - 3000n);
  const again = s.onPaymentRequired({ servedForward: 5n * MiB - 4000n, servedBackward: 0n });
  assert.deepEqual(again, r); // may have been lost: resend, same seq
  const cad = s.maybeSign(); // 3000 bytes since: below the cadence
  assert.equal(cad, null);
});

test('overclaim: the bound is allowance + the relay credit window; beyond it the hop gets nothing more', () => {
  const s = signer();
  s.recordReceived(10n * MiB);
  const bound = s.allowanceBytes + W;
  assert.doesNotThrow(() => s.onAck({ servedForward: 0n, servedBackward: bound }));
  assert.ok(s.onPaymentRequired({ servedForward: bound, servedBackward: 0n }));
  assert.equal(s.state, 'active');
  assert.throws(
    () => s.onPaymentRequired({ servedForward: 1n, servedBackward: bound }),
    (e: unknown) => e instanceof OverclaimError && e.claimedBytes === bound + 1n && e.boundBytes === bound && e.measuredBytes === 10n * MiB,
  );
  assert.equal(s.state, 'overclaimed');
  assert.throws(() => s.onPaymentRequired({ servedForward: 0n, servedBackward: 0n }), OverclaimError);
  assert.throws(() => s.onAck({ servedForward: 0n, servedBackward: 0n }), OverclaimError);
  s.recordReceived(100n * MiB);
  assert.equal(s.maybeSign(), null);
  assert.equal(s.flush(), null);
});

test('overclaim via RECEIPT_ACK figures too', () => {
  const s = signer();
  assert.throws(() => s.onAck({ servedForward: 64n * KiB + W + 1n, servedBackward: 0n }), OverclaimError);
  assert.equal(s.state, 'overclaimed');
});

test('budget: never signs above the deposit; the receipt that reaches it is the last', () => {
  const s = signer({ deposit: 3n * MiB + 5n });
  s.recordReceived(2n * MiB);
  assert.equal(s.maybeSign()!.receipt.cumulativeAmount, 2n * MiB);
  assert.equal(s.remainingAmount, MiB + 5n);
  assert.equal(s.remainingBytes, MiB + 5n);
  s.recordReceived(2n * MiB);
  const last = s.maybeSign()!;
  assert.equal(last.receipt.cumulativeAmount, 3n * MiB + 5n);
  assert.equal(last.receipt.cumulativeBytes, 4n * MiB);
  assert.equal(s.state, 'exhausted');
  assert.equal(s.remainingAmount, 0n);
  s.recordReceived(2n * MiB);
  assert.equal(s.maybeSign(), null);
  assert.equal(s.flush(), null);
  assert.equal(s.onPaymentRequired({ servedForward: 0n, servedBackward: 6n * MiB }), null);
});

test('resume on a reused channel: seq, bytes and amount continue; the relay baseline is subtracted', () => {
  const base = 50n * MiB;
  const s = signer({ resume: { seq: 10, cumulativeBytes: base, cumulativeAmount: base }, relayBaselineBytes: base + 100n * KiB });
  s.recordSent(MiB);
  s.recordReceived(MiB);
  const r = s.onPaymentRequired({ servedForward: base, servedBackward: 100n * KiB + 2n * MiB })!;
  assert.deepEqual(r.receipt, { chainId: CHAIN_ID, channelId: CHANNEL, cumulativeBytes: base + 2n * MiB, cumulativeAmount: base + 2n * MiB, seq: 11 });
  // the relay's pre-circuit total alone is not held against this session
  const t = signer({ resume: { seq: 10, cumulativeBytes: base, cumulativeAmount: base }, relayBaselineBytes: base });
  assert.doesNotThrow(() => t.onAck({ servedForward: base + W, servedBackward: 64n * KiB }));
  assert.throws(() => t.onAck({ servedForward: base + W, servedBackward: 64n * KiB + 1n }), OverclaimError);
});

test('signer configuration errors', () => {
  assert.throws(() => signer({ deposit: -1n }), SignerConfigError);
  assert.throws(() => signer({ cadenceBytes: 0n }), SignerConfigError);
  assert.throws(() => signer({ payerSeed: new Uint8Array(31) }), SignerConfigError);
  assert.throws(() => signer({ resume: { seq: 1, cumulativeBytes: 0n, cumulativeAmount: 101n * MiB } }), SignerConfigError);
  assert.throws(() => signer({ resume: { seq: -1, cumulativeBytes: 0n, cumulativeAmount: 0n } }), SignerConfigError);
  assert.equal(signer({ deposit: 5n, resume: { seq: 3, cumulativeBytes: 5n, cumulativeAmount: 5n } }).state, 'exhausted');
});

test('property: seq strictly increases, bytes and amount never decrease, amount ≤ deposit and ≤ price(allowance)', () => {
  const op = fc.oneof(
    fc.record({ k: fc.constant('sent' as const), n: fc.integer({ min: 0, max: 3 << 20 }) }),
    fc.record({ k: fc.constant('recv' as const), n: fc.integer({ min: 0, max: 3 << 20 }) }),
    fc.record({ k: fc.constant('req' as const), n: fc.integer({ min: 0, max: 40 << 20 }) }),
    fc.record({ k: fc.constant('flush' as const), n: fc.constant(0) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), fc.bigInt({ min: 1n, max: 5_000_000n }), fc.bigInt({ min: 1n, max: 60n * MiB }), (ops, price, deposit) => {
      const s = signer({ pricePerGiB: price, deposit });
      let lastSeq = 0;
      let lastBytes = 0n;
      let lastAmount = 0n;
      for (const o of ops) {
        let r = null;
        try {
          if (o.k === 'sent') s.recordSent(o.n);
          else if (o.k === 'recv') s.recordReceived(o.n);
          else if (o.k === 'req') r = s.onPaymentRequired({ servedForward: BigInt(o.n), servedBackward: 0n });
          else r = s.flush();
          if (o.k === 'sent' || o.k === 'recv') r = s.maybeSign();
        } catch (e) {
          assert.ok(e instanceof OverclaimError);
        }
        if (!r || r.receipt.seq === lastSeq) continue;
        assert.ok(r.receipt.seq === lastSeq + 1);
        assert.ok(r.receipt.cumulativeBytes > lastBytes);
        assert.ok(r.receipt.cumulativeAmount >= lastAmount);
        assert.ok(r.receipt.cumulativeAmount <= deposit);
        assert.ok(r.receipt.cumulativeBytes <= s.allowanceBytes);
        lastSeq = r.receipt.seq;
        lastBytes = r.receipt.cumulativeBytes;
        lastAmount = r.receipt.cumulativeAmount;
      }
    }),
    { numRuns: 300 },
  );
});

test('overclaim bound with the relay loss allowance L: (allowance + window) / (1 − L), rounded up', () => {
  const s = signer({ relayLossAllowancePpm: 20_000 });
  s.recordReceived(100n * MiB);
  const bound = ((s.allowanceBytes + W) * 1_000_000n + 979_999n) / 980_000n;
  assert.equal(s.overclaimBoundBytes, bound);
  assert.doesNotThrow(() => s.onAck({ servedForward: 0n, servedBackward: bound }));
  // still never paid beyond the allowance
  assert.equal(s.onPaymentRequired({ servedForward: 0n, servedBackward: bound })!.receipt.cumulativeBytes, s.allowanceBytes);
  assert.throws(() => s.onAck({ servedForward: 1n, servedBackward: bound }), OverclaimError);
  assert.throws(() => signer({ relayLossAllowancePpm: 500_001 }), SignerConfigError);
});
