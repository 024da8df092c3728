import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ctrl } from '../../../protocol/constants.js';
import {
  BIND_REFUSALS,
  CHANNEL_BOUND_LEN,
  channelBindLen,
  decodePaymentControl,
  encodePaymentControl,
  isPaymentCtrl,
  MalformedPaymentError,
  PAYMENT_REQUIRED_LEN,
  PaymentCtrl,
  RECEIPT_ACK_LEN,
  RECEIPT_OUTCOMES,
  receiptLen,
  type PaymentControl,
} from '../../../protocol/payment.js';
import { verifyPaymentReceipt } from '../../../chain/state/index.js';
import { CHAIN_ID, CHANNEL, payer, signed } from './helpers.js';

const U64 = (1n << 64n) - 1n;
const U128 = (1n << 128n) - 1n;

function isMalformed(e: unknown): boolean {
  return e instanceof MalformedPaymentError;
}

test('payment control types are above 16 and disjoint from the data plane', () => {
  const dataPlane = new Set<number>(Object.values(Ctrl));
  for (const v of Object.values(PaymentCtrl)) {
    assert.ok(v > 16, `${v} > 16`);
    assert.ok(!dataPlane.has(v));
    assert.ok(isPaymentCtrl(v));
  }
  for (const v of dataPlane) assert.ok(!isPaymentCtrl(v));
  assert.ok(!isPaymentCtrl(16));
  assert.ok(!isPaymentCtrl(23));
});

test('RECEIPT carries the chain/state receipt: the decoded signature still verifies', () => {
  const s = signed({ seq: 7, cumulativeAmount: 123_456n, cumulativeBytes: 99n << 20n });
  const wire = encodePaymentControl({ ctype: PaymentCtrl.RECEIPT, ...s });
  assert.equal(wire.length, receiptLen(CHAIN_ID.length));
  assert.equal(wire[0], 20);
  assert.equal(wire[1], CHAIN_ID.length);
  assert.equal(wire.toString('latin1', 2, 2 + CHAIN_ID.length), CHAIN_ID);
  assert.equal(wire.toString('hex', 2 + CHAIN_ID.length, 34 + CHAIN_ID.length), CHANNEL);
  const d = decodePaymentControl(wire);
  assert.equal(d.ctype, PaymentCtrl.RECEIPT);
  if (d.ctype !== PaymentCtrl.RECEIPT) return;
  assert.deepEqual(d.receipt, s.receipt);
  assert.equal(d.signature, s.signature);
  assert.ok(verifyPaymentReceipt(d.receipt, d.signature, payer.address));
});

const samples: PaymentControl[] = [
  { ctype: PaymentCtrl.CHANNEL_BIND, chainId: CHAIN_ID, channelId: CHANNEL, payer: payer.address },
  { ctype: PaymentCtrl.CHANNEL_BOUND, pricePerGiB: U128, creditWindowBytes: 4n << 20n, lossAllowancePpm: 500_000, bestSeq: Number.MAX_SAFE_INTEGER, bestBytes: U64, bestAmount: 5n, servedBytes: 77n },
  { ctype: PaymentCtrl.CHANNEL_REFUSED, reason: 'deposit_exhausted' },
  { ctype: PaymentCtrl.RECEIPT_ACK, outcome: 'over_deposit', bestSeq: 0, bestAmount: U128, servedForward: 1n, servedBackward: U64 },
  { ctype: PaymentCtrl.PAYMENT_REQUIRED, servedForward: 10n, servedBackward: 20n, paidAmount: 0n, dueAmount: U128 },
];

test('every message round-trips, with its documented length', () => {
  const lens: Record<number, number> = {
    [PaymentCtrl.CHANNEL_BIND]: channelBindLen(CHAIN_ID.length),
    [PaymentCtrl.CHANNEL_BOUND]: CHANNEL_BOUND_LEN,
    [PaymentCtrl.CHANNEL_REFUSED]: 2,
    [PaymentCtrl.RECEIPT_ACK]: RECEIPT_ACK_LEN,
    [PaymentCtrl.PAYMENT_REQUIRED]: PAYMENT_REQUIRED_LEN,
  };
  for (const m of samples) {
    const w = encodePaymentControl(m);
    assert.equal(w.length, lens[m.ctype], `length of ${m.ctype}`);
    assert.deepEqual(decodePaymentControl(w), m);
    // one byte more or less is malformed
    assert.throws(() => decodePaymentControl(Buffer.concat([w, Buffer.of(0)])), isMalformed);
    assert.throws(() => decodePaymentControl(w.subarray(0, w.length - 1)), isMalformed);
  }
  for (const o of RECEIPT_OUTCOMES) assert.deepEqual(decodePaymentControl(encodePaymentControl({ ...(samples[3] as Extract<PaymentControl, { ctype: 21 }>), outcome: o })), { ...samples[3], outcome: o });
  for (const r of BIND_REFUSALS) assert.deepEqual(decodePaymentControl(encodePaymentControl({ ctype: PaymentCtrl.CHANNEL_REFUSED, reason: r })), { ctype: PaymentCtrl.CHANNEL_REFUSED, reason: r });
});

test('decoders reject each bad field with MalformedPaymentError', () => {
  const cases: [string, Buffer, string][] = [];
  const rc = encodePaymentControl({ ctype: PaymentCtrl.RECEIPT, ...signed({ seq: 1, cumulativeAmount: 1n }) });
  const seqOff = 2 + CHAIN_ID.length + 32 + 8 + 16;
  const zeroSeq = Buffer.from(rc);
  zeroSeq.writeBigUInt64LE(0n, seqOff);
  cases.push(['seq 0', zeroSeq, 'bad_field']);
  const bigSeq = Buffer.from(rc);
  bigSeq.writeBigUInt64LE(BigInt(Number.MAX_SAFE_INTEGER) + 1n, seqOff);
  cases.push(['seq 2^53', bigSeq, 'bad_field']);
  const ctrlChar = Buffer.from(rc);
  ctrlChar[3] = 0x20;
  cases.push(['space in chain id', ctrlChar, 'bad_field']);
  const lenZero = Buffer.from(rc);
  lenZero[1] = 0;
  cases.push(['empty chain id', lenZero, 'bad_field']);
  const lenBig = Buffer.from(rc);
  lenBig[1] = 65;
  cases.push(['chain id > 64', lenBig, 'bad_field']);
  const lenOff = Buffer.from(rc);
  lenOff[1] = CHAIN_ID.length - 1;
  cases.push(['chain id length mismatch', lenOff, 'bad_length']);
  cases.push(['outcome 0', Buffer.from([21, 0, ...new Array<number>(RECEIPT_ACK_LEN - 2).fill(0)]), 'bad_field']);
  cases.push(['outcome 8', Buffer.from([21, 8, ...new Array<number>(RECEIPT_ACK_LEN - 2).fill(0)]), 'bad_field']);
  cases.push(['refusal 0', Buffer.of(19, 0), 'bad_field']);
  cases.push(['refusal 8', Buffer.of(19, 8), 'bad_field']);
  cases.push(['unknown ctype 16', Buffer.of(16), 'unknown_control']);
  cases.push(['unknown ctype 23', Buffer.of(23, 0), 'unknown_control']);
  cases.push(['empty', Buffer.alloc(0), 'empty']);
  cases.push(['bind without chain id', Buffer.of(17), 'bad_length']);
  const bound = encodePaymentControl(samples[1]!);
  bound.writeBigUInt64LE(BigInt(Number.MAX_SAFE_INTEGER) + 1n, 1 + 16 + 8 + 4);
  cases.push(['bound bestSeq 2^53', bound, 'bad_field']);
  const lossy = encodePaymentControl(samples[1]!);
  lossy.writeUInt32LE(500_001, 1 + 16 + 8);
  cases.push(['bound loss allowance > 50 %', lossy, 'bad_field']);
  for (const [name, bytes, reason] of cases) {
    assert.throws(() => decodePaymentControl(bytes), (e: unknown) => isMalformed(e) && (e as MalformedPaymentError).reason === reason, name);
  }
});

test('encoders refuse what they cannot encode', () => {
  const s = signed({ seq: 1, cumulativeAmount: 1n });
  const bad: PaymentControl[] = [
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, cumulativeAmount: 1n << 128n }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, cumulativeBytes: -1n }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, seq: 0 }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, seq: 1.5 }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, chainId: 'x'.repeat(65) }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, chainId: 'héllo' }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: { ...s.receipt, channelId: CHANNEL.toUpperCase() }, signature: s.signature },
    { ctype: PaymentCtrl.RECEIPT, receipt: s.receipt, signature: s.signature.slice(2) },
    { ctype: PaymentCtrl.CHANNEL_BIND, chainId: CHAIN_ID, channelId: CHANNEL, payer: 'zz'.repeat(32) },
    { ctype: PaymentCtrl.CHANNEL_BOUND, pricePerGiB: 1n, creditWindowBytes: 1n << 64n, lossAllowancePpm: 0, bestSeq: 0, bestBytes: 0n, bestAmount: 0n, servedBytes: 0n },
    { ctype: PaymentCtrl.CHANNEL_BOUND, pricePerGiB: 1n, creditWindowBytes: 1n, lossAllowancePpm: 500_001, bestSeq: 0, bestBytes: 0n, bestAmount: 0n, servedBytes: 0n },
    { ctype: PaymentCtrl.CHANNEL_BOUND, pricePerGiB: 1n, creditWindowBytes: 1n, lossAllowancePpm: 0.5, bestSeq: 0, bestBytes: 0n, bestAmount: 0n, servedBytes: 0n },
    { ctype: PaymentCtrl.CHANNEL_REFUSED, reason: 'nope' as never },
    { ctype: PaymentCtrl.RECEIPT_ACK, outcome: 'great' as never, bestSeq: 0, bestAmount: 0n, servedForward: 0n, servedBackward: 0n },
  ];
  for (const m of bad) assert.throws(() => encodePaymentControl(m), isMalformed, JSON.stringify(m, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
});

test('property: random bytes only ever throw MalformedPaymentError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodePaymentControl(bytes);
      } catch (e) {
        if (!isMalformed(e)) throw e;
      }
    }),
    { numRuns: 20_000 },
  );
});

test('property: random bytes after a payment ctype only ever throw MalformedPaymentError', () => {
  const lens = [CHANNEL_BOUND_LEN, RECEIPT_ACK_LEN, PAYMENT_REQUIRED_LEN, 2, receiptLen(13), channelBindLen(13)];
  fc.assert(
    fc.property(fc.integer({ min: 17, max: 22 }), fc.constantFrom(...lens), fc.uint8Array({ minLength: 300, maxLength: 300 }), fc.integer({ min: 1, max: 70 }), (ctype, len, fill, cidLen) => {
      const b = Buffer.from(fill.subarray(0, len));
      b[0] = ctype;
      if (len > 1 && (ctype === 17 || ctype === 20)) b[1] = cidLen; // often a plausible length
      try {
        const d = decodePaymentControl(b);
        assert.deepEqual(encodePaymentControl(d), b); // whatever decodes re-encodes to the same bytes
      } catch (e) {
        if (!isMalformed(e)) throw e;
      }
    }),
    { numRuns: 20_000 },
  );
});

test('property: encode/decode round-trips arbitrary valid messages', () => {
  const u64 = fc.bigInt({ min: 0n, max: U64 });
  const u128 = fc.bigInt({ min: 0n, max: U128 });
  const seq = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
  const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
  const hex64 = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => Buffer.from(b).toString('hex'));
  const chainId = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.:~'.split('')), minLength: 1, maxLength: 64 });
  const msg: fc.Arbitrary<PaymentControl> = fc.oneof(
    fc.record({ ctype: fc.constant(PaymentCtrl.CHANNEL_BIND), chainId, channelId: hex32, payer: hex32 }),
    fc.record({ ctype: fc.constant(PaymentCtrl.RECEIPT), receipt: fc.record({ chainId, channelId: hex32, cumulativeBytes: u64, cumulativeAmount: u128, seq }), signature: hex64 }),
    fc.record({ ctype: fc.constant(PaymentCtrl.CHANNEL_BOUND), pricePerGiB: u128, creditWindowBytes: u64, lossAllowancePpm: fc.integer({ min: 0, max: 500_000 }), bestSeq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), bestBytes: u64, bestAmount: u128, servedBytes: u64 }),
    fc.record({ ctype: fc.constant(PaymentCtrl.RECEIPT_ACK), outcome: fc.constantFrom(...RECEIPT_OUTCOMES), bestSeq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), bestAmount: u128, servedForward: u64, servedBackward: u64 }),
    fc.record({ ctype: fc.constant(PaymentCtrl.PAYMENT_REQUIRED), servedForward: u64, servedBackward: u64, paidAmount: u128, dueAmount: u128 }),
    fc.record({ ctype: fc.constant(PaymentCtrl.CHANNEL_REFUSED), reason: fc.constantFrom(...BIND_REFUSALS) }),
  ).map((m) => structuredClone(m)); // fc.record builds null-prototype objects
  fc.assert(fc.property(msg, (m) => assert.deepEqual(decodePaymentControl(encodePaymentControl(m)), m)), { numRuns: 3_000 });
});
