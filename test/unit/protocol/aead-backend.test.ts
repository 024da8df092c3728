import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../common/paths.js';
import { aeadBackend, aeadKey, counterNonce, openNonce, openTo, sealInto, sealNonce } from '../../../protocol/aead.js';

test('the native AEAD is used whenever the udp addon is built (unless TOPVPN_NATIVE_AEAD=0)', () => {
  const built = existsSync(join(repoRoot(), 'build', 'Release', 'udp.node'));
  const want = built && process.env['TOPVPN_NATIVE_AEAD'] !== '0' ? 'native' : 'node';
  assert.equal(aeadBackend(), want);
});

test('sealInto/openTo (current backend) match node:crypto byte for byte, in place too, for any counter', () => {
  const raw = randomBytes(32);
  const key = aeadKey(raw);
  for (const len of [0, 1, 15, 16, 17, 63, 64, 65, 1400, 1500, 9000]) {
    for (const ctr of [0, 1, 0xffff_ffff, 0x1_0000_0000, 2 ** 53 - 1]) {
      const aad = randomBytes(16);
      const pt = randomBytes(len);
      const ref = sealNonce(raw, counterNonce(ctr), aad, pt);
      const out = Buffer.alloc(len + 16 + 3);
      assert.equal(sealInto(key, ctr, aad, pt, out, 3), len + 16);
      assert.ok(out.subarray(3).equals(ref), `seal len=${len} ctr=${ctr}`);
      const inPlace = Buffer.concat([pt, Buffer.alloc(16)]);
      sealInto(key, ctr, aad, inPlace.subarray(0, len), inPlace, 0);
      assert.ok(inPlace.equals(ref), `in-place seal len=${len}`);
      assert.ok(openTo(key, ctr, aad, ref)?.equals(pt), `open len=${len} ctr=${ctr}`);
      assert.ok(openNonce(raw, counterNonce(ctr), aad, out.subarray(3))?.equals(pt));
      const bad = Buffer.from(ref);
      bad[bad.length - 1]! ^= 0x80;
      assert.equal(openTo(key, ctr, aad, bad), null);
      assert.equal(openTo(key, ctr + 1, aad, ref), null, 'wrong counter');
      const badAad = Buffer.from(aad);
      badAad[0]! ^= 1;
      assert.equal(openTo(key, ctr, badAad, ref), null, 'wrong AAD');
    }
  }
  assert.equal(openTo(key, 0, Buffer.alloc(16), Buffer.alloc(15)), null, 'shorter than a tag');
});
