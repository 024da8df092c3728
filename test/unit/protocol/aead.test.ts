import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { aeadKey, counterNonce, openNonce, openTo, sealInto, sealNonce } from '../../../protocol/aead.js';
import { nobleOpen, nobleSeal } from '../../../protocol/aead-noble.js';
import { hex, loadWycheproof, toHex } from './vectors.js';

interface AeadCase {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}

const wp = loadWycheproof<AeadCase>('chacha20_poly1305_test.json');
// node:crypto's chacha20-poly1305 is the RFC 8439 AEAD: 12-byte nonce and (as used by us)
// 16-byte tag. Groups with other IV sizes (the InvalidNonceSize cases: 0, 8, 16 bytes ...) are
// skipped by this filter because createCipheriv rejects such a nonce before any crypto runs,
// and our protocol only ever builds 12-byte nonces. They are counted and reported below.
const usable = wp.testGroups.filter((g) => g.ivSize === 96 && g.tagSize === 128 && g.keySize === 256);
const skipped = wp.testGroups.filter((g) => !usable.includes(g)).reduce((n, g) => n + g.tests.length, 0);

test('wycheproof chacha20-poly1305: node:crypto and noble accept every valid case, reject every invalid one', () => {
  let valid = 0;
  let invalid = 0;
  for (const g of usable) {
    for (const t of g.tests) {
      const key = hex(t.key);
      const iv = hex(t.iv);
      const aad = hex(t.aad);
      const sealed = Buffer.concat([Buffer.from(t.ct, 'hex'), Buffer.from(t.tag, 'hex')]);
      const pt = openNonce(key, iv, aad, sealed);
      const ptN = nobleOpen(key, iv, aad, sealed);
      if (t.result === 'valid') {
        valid++;
        assert.equal(toHex(sealNonce(key, iv, aad, hex(t.msg))), t.ct + t.tag, `tc ${t.tcId} seal`);
        assert.ok(pt, `tc ${t.tcId} open`);
        assert.equal(toHex(pt), t.msg, `tc ${t.tcId} plaintext`);
        assert.ok(ptN, `tc ${t.tcId} noble open`);
        assert.equal(toHex(ptN), t.msg);
      } else {
        invalid++;
        assert.equal(pt, null, `tc ${t.tcId} must be rejected (${t.flags.join(',')})`);
        assert.equal(ptN, null, `tc ${t.tcId} noble must reject`);
      }
    }
  }
  assert.ok(valid > 200, `ran ${valid} valid cases`);
  assert.ok(invalid > 20, `ran ${invalid} invalid cases`);
  const total = wp.testGroups.reduce((n, g) => n + g.tests.length, 0);
  assert.equal(valid + invalid + skipped, total);
  console.log(`# chacha20-poly1305 wycheproof: ${valid} valid, ${invalid} invalid, ${skipped} skipped (nonce size != 12 bytes)`);
});

test('node:crypto and noble agree on random inputs (cross-check)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 2000 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), (key, aad, msg, ctr) => {
      const nonce = counterNonce(ctr);
      const a = sealNonce(key, nonce, aad, msg);
      const b = nobleSeal(key, nonce, aad, msg);
      assert.equal(toHex(a), toHex(b));
      const out = Buffer.alloc(msg.length + 16 + 7);
      const n = sealInto(aeadKey(key), ctr, aad, msg, out, 7);
      assert.equal(n, msg.length + 16);
      assert.equal(toHex(out.subarray(7)), toHex(a));
      const back = openTo(aeadKey(key), ctr, aad, a);
      assert.ok(back);
      assert.equal(toHex(back), toHex(msg));
    }),
    { numRuns: 200 },
  );
});

test('counter nonce is 4 zero bytes then the 64-bit little-endian counter', () => {
  assert.equal(toHex(counterNonce(0)), '000000000000000000000000');
  assert.equal(toHex(counterNonce(1)), '000000000100000000000000');
  assert.equal(toHex(counterNonce(0x0102030405)), '000000000504030201000000');
  assert.equal(toHex(counterNonce(Number.MAX_SAFE_INTEGER)), '00000000ffffffffffff1f00');
});

test('sealInto works in place and openTo rejects any flipped bit, wrong counter, wrong aad', () => {
  const key = aeadKey(randomBytes(32));
  const msg = randomBytes(100);
  const buf = Buffer.alloc(16 + 100 + 16);
  msg.copy(buf, 16);
  const aad = Buffer.from('header-bytes-16!');
  sealInto(key, 42, aad, buf.subarray(16, 116), buf, 16);
  const sealed = buf.subarray(16);
  assert.equal(toHex(openTo(key, 42, aad, sealed)!), toHex(msg));
  assert.equal(openTo(key, 43, aad, sealed), null);
  assert.equal(openTo(key, 42, Buffer.from('header-bytes-17!'), sealed), null);
  for (const i of [0, 50, 99, 100, 115]) {
    const t = Buffer.from(sealed);
    t[i]! ^= 1;
    assert.equal(openTo(key, 42, aad, t), null, `flip at ${i}`);
  }
  assert.equal(openTo(key, 42, aad, sealed.subarray(0, 15)), null);
});
