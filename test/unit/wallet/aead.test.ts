import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../common/paths.js';
import { xchachaOpen, xchachaSeal } from '../../../client/wallet/aead.js';

interface AeadVector {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface AeadGroup {
  ivSize: number;
  keySize: number;
  tagSize: number;
  tests: AeadVector[];
}

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const file = join(repoRoot(), 'test/vectors/wycheproof/xchacha20_poly1305_test.json');
const groups = (JSON.parse(readFileSync(file, 'utf8')) as { testGroups: AeadGroup[] }).testGroups;

test('Wycheproof XChaCha20-Poly1305: every vector (seal and open) as the wallet uses them', () => {
  let valid = 0;
  let invalid = 0;
  for (const g of groups) {
    for (const t of g.tests) {
      const key = h(t.key);
      const nonce = h(t.iv);
      const sealed = h(t.ct + t.tag);
      if (g.ivSize !== 192 || g.keySize !== 256) {
        // Wrong nonce sizes must be refused outright, never encrypted with.
        assert.throws(() => xchachaSeal(key, nonce, h(t.msg), h(t.aad)), RangeError, `tcId ${t.tcId}`);
        assert.throws(() => xchachaOpen(key, nonce, sealed, h(t.aad)), RangeError, `tcId ${t.tcId}`);
        invalid++;
        continue;
      }
      const opened = xchachaOpen(key, nonce, sealed, h(t.aad));
      if (t.result === 'valid') {
        assert.equal(Buffer.from(xchachaSeal(key, nonce, h(t.msg), h(t.aad))).toString('hex'), t.ct + t.tag, `seal tcId ${t.tcId}`);
        assert.ok(opened, `open tcId ${t.tcId}`);
        assert.equal(Buffer.from(opened).toString('hex'), t.msg, `open tcId ${t.tcId}`);
        valid++;
      } else {
        assert.equal(opened, null, `invalid tcId ${t.tcId} must not open`);
        invalid++;
      }
    }
  }
  assert.equal(valid + invalid, 315);
  assert.ok(valid >= 240 && invalid >= 60, `valid ${valid} invalid ${invalid}`);
});

test('xchachaOpen refuses a flipped bit in ciphertext, tag and aad', () => {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(24).fill(9);
  const aad = new TextEncoder().encode('hdr');
  const sealed = xchachaSeal(key, nonce, new Uint8Array(32).fill(1), aad);
  assert.equal(sealed.length, 48);
  for (let i = 0; i < sealed.length; i++) {
    const bad = new Uint8Array(sealed);
    bad[i]! ^= 0x01;
    assert.equal(xchachaOpen(key, nonce, bad, aad), null, `byte ${i}`);
  }
  assert.equal(xchachaOpen(key, nonce, sealed, new TextEncoder().encode('hdR')), null);
  assert.equal(xchachaOpen(key, nonce, sealed.subarray(0, 10), aad), null);
});
