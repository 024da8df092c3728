import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { signPaymentReceipt, verifyPaymentReceipt, type PaymentReceipt } from '../../../chain/state/index.js';
import { ReceiptKeyError, receiptSigner, receiptVerifier } from '../../../protocol/payment-keys.js';
import { CHAIN_ID, CHANNEL, payer, stranger } from './helpers.js';

const receipt = fc.record({
  chainId: fc.constantFrom(CHAIN_ID, 'topvpn-mainnet'),
  channelId: fc.constantFrom(CHANNEL, 'ab'.repeat(32)),
  cumulativeBytes: fc.bigInt({ min: 0n, max: 1n << 64n }),
  cumulativeAmount: fc.bigInt({ min: 0n, max: 1n << 80n }),
  seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
}).map((r): PaymentReceipt => ({ ...r }));

test('cached-key signatures are byte-identical to chain/state signPaymentReceipt', () => {
  const sign = receiptSigner(payer.seed);
  fc.assert(fc.property(receipt, (r) => assert.equal(sign(r), signPaymentReceipt(r, payer.seed))), { numRuns: 200 });
});

test('cached-key verification agrees with chain/state verifyPaymentReceipt (valid, tampered, wrong key, junk)', () => {
  const verify = receiptVerifier(payer.address);
  const verifyStranger = receiptVerifier(stranger.address);
  fc.assert(
    fc.property(receipt, fc.bigInt({ min: 1n, max: 1000n }), (r, bump) => {
      const sig = signPaymentReceipt(r, payer.seed);
      const tampered = { ...r, cumulativeAmount: r.cumulativeAmount + bump };
      assert.equal(verify(r, sig), true);
      assert.equal(verify(tampered, sig), verifyPaymentReceipt(tampered, sig, payer.address));
      assert.equal(verify(tampered, sig), false);
      assert.equal(verifyStranger(r, sig), false);
      assert.equal(verify(r, sig.toUpperCase()), verifyPaymentReceipt(r, sig.toUpperCase(), payer.address));
      assert.equal(verify(r, sig.slice(2)), false);
    }),
    { numRuns: 200 },
  );
  const r: PaymentReceipt = { chainId: CHAIN_ID, channelId: CHANNEL, cumulativeBytes: 1n, cumulativeAmount: 1n, seq: 1 };
  const sig = signPaymentReceipt(r, payer.seed);
  assert.equal(receiptVerifier('not a key')(r, sig), false);
  assert.equal(receiptVerifier('00'.repeat(32))(r, sig), false);
  assert.equal(verify(r, 'zz'.repeat(64)), false);
  assert.equal(verify({ ...r, seq: 1.5 }, sig), false); // unencodable: false, not a throw
  assert.throws(() => receiptSigner(new Uint8Array(31)), ReceiptKeyError);
});
