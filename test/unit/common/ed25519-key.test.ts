import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ed25519KeyError, ed25519PublicKey, ed25519PublicKeyFromRaw } from '../../../common/ed25519-key.js';
import { repoRoot } from '../../../common/paths.js';

const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const derImport = (raw: Uint8Array) => createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' });

function wycheproof(): { testGroups: Array<{ publicKey: { pk: string }; tests: Array<{ tcId: number; msg: string; sig: string; result: string }> }> } {
  const local = join(repoRoot(), 'test', 'vectors', 'wycheproof', 'ed25519_test.json');
  const path = existsSync(local) ? local : join(repoRoot(), '..', 'shared', 'vectors', 'wycheproof', 'ed25519_test.json');
  return JSON.parse(readFileSync(path, 'utf8'));
}

test('a JWK-imported key verifies exactly what the SPKI DER import does, on every Wycheproof Ed25519 vector', () => {
  let n = 0;
  for (const g of wycheproof().testGroups) {
    const raw = Buffer.from(g.publicKey.pk, 'hex');
    const jwk = ed25519PublicKeyFromRaw(raw);
    const der = derImport(raw);
    assert.deepEqual(jwk.export({ format: 'der', type: 'spki' }), der.export({ format: 'der', type: 'spki' }));
    for (const t of g.tests) {
      const check = (k: typeof jwk): boolean => {
        try {
          return verify(null, Buffer.from(t.msg, 'hex'), k, Buffer.from(t.sig, 'hex'));
        } catch {
          return false;
        }
      };
      const ok = check(jwk);
      assert.equal(ok, check(der), `tc ${t.tcId}: both imports agree`);
      if (t.result === 'valid') assert.ok(ok, `tc ${t.tcId} should verify`);
      if (t.result === 'invalid') assert.ok(!ok, `tc ${t.tcId} should not verify`);
      n++;
    }
  }
  assert.ok(n >= 100, `only ${n} vectors`);
});

test('ed25519PublicKey imports a hex key once while it is in recent use and rejects malformed keys by name', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const hex = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  const k = ed25519PublicKey(hex);
  assert.equal(ed25519PublicKey(hex), k, 'the same KeyObject from the cache');
  const msg = randomBytes(64);
  assert.ok(verify(null, msg, k, sign(null, msg, privateKey)));
  for (const bad of [hex.toUpperCase(), hex.slice(2), `${hex}00`, 'zz'.repeat(32)]) assert.throws(() => ed25519PublicKey(bad), Ed25519KeyError);
  assert.throws(() => ed25519PublicKeyFromRaw(new Uint8Array(31)), Ed25519KeyError);

  // The cache is bounded: thousands of other keys later, a key kept in use is still the same
  // object, and one not used since is imported again (a fresh object that verifies the same).
  const idle = randomBytes(32).toString('hex');
  const idleKey = ed25519PublicKey(idle);
  for (let i = 0; i < 20_000; i++) {
    ed25519PublicKey(randomBytes(32).toString('hex'));
    if (i % 1000 === 0) assert.equal(ed25519PublicKey(hex), k);
  }
  assert.equal(ed25519PublicKey(hex), k);
  const again = ed25519PublicKey(idle);
  assert.notEqual(again, idleKey);
  assert.deepEqual(again.export({ format: 'der', type: 'spki' }), idleKey.export({ format: 'der', type: 'spki' }));
});
