import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { x25519 as nobleX } from '@noble/curves/ed25519.js';
import { generateX25519, hkdfSha256, LowOrderPointError, x25519, x25519Public } from '../../../protocol/x25519.js';
import { hex, loadWycheproof, toHex } from './vectors.js';

interface XdhCase {
  tcId: number;
  public: string;
  private: string;
  shared: string;
  result: 'valid' | 'acceptable' | 'invalid';
  flags: string[];
}

test('wycheproof x25519: every case computes the expected secret; all-zero secrets are rejected', () => {
  const wp = loadWycheproof<XdhCase>('x25519_test.json');
  let computed = 0;
  let rejected = 0;
  for (const g of wp.testGroups) {
    for (const t of g.tests) {
      const zero = /^0+$/.test(t.shared);
      if (zero) {
        assert.throws(() => x25519(hex(t.private), hex(t.public)), LowOrderPointError, `tc ${t.tcId}`);
        rejected++;
      } else {
        // valid and acceptable (twist, non-canonical) cases: RFC 7748 defines the output
        assert.equal(toHex(x25519(hex(t.private), hex(t.public))), t.shared, `tc ${t.tcId} ${t.flags.join(',')}`);
        computed++;
      }
    }
  }
  assert.equal(computed + rejected, wp.numberOfTests);
  assert.ok(rejected > 0 && computed > 400);
});

test('x25519 through node:crypto agrees with @noble/curves', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
      assert.equal(toHex(x25519Public(a)), toHex(nobleX.getPublicKey(a)));
      const B = nobleX.getPublicKey(b);
      assert.equal(toHex(x25519(a, B)), toHex(nobleX.getSharedSecret(a, B)));
    }),
    { numRuns: 50 },
  );
  const kp = generateX25519();
  assert.equal(toHex(kp.publicKey), toHex(nobleX.getPublicKey(kp.secretKey)));
});

interface HkdfCase {
  tcId: number;
  ikm: string;
  salt: string;
  info: string;
  size: number;
  okm: string;
  result: 'valid' | 'invalid';
}

test('wycheproof hkdf-sha256: valid sizes match, sizes over 255*32 are refused', () => {
  const wp = loadWycheproof<HkdfCase>('hkdf_sha256_test.json');
  let valid = 0;
  let invalid = 0;
  for (const g of wp.testGroups) {
    for (const t of g.tests) {
      if (t.result === 'valid') {
        assert.equal(toHex(hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size)), t.okm, `tc ${t.tcId}`);
        valid++;
      } else {
        assert.throws(() => hkdfSha256(hex(t.ikm), hex(t.salt), hex(t.info), t.size), RangeError, `tc ${t.tcId}`);
        invalid++;
      }
    }
  }
  assert.equal(valid + invalid, wp.numberOfTests);
  assert.ok(valid > 0 && invalid > 0);
});
