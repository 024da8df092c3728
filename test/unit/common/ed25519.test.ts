import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ed25519KeyError, ed25519PublicKey, ed25519PublicKeyFromRaw, ed25519VerifyHex, ed25519VerifyRaw, ed25519VerifyWithKey } from '../../../common/ed25519.js';
import { signatureVerifications, verifySignature } from '../../../chain/consensus/crypto.js';
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

test('every verify entry point gives the Wycheproof Ed25519 result, and counts exactly the checks it makes', () => {
  let n = 0;
  const counter = { count: 0 };
  for (const g of wycheproof().testGroups) {
    const key = ed25519PublicKeyFromRaw(Buffer.from(g.publicKey.pk, 'hex'));
    for (const t of g.tests) {
      const msg = Buffer.from(t.msg, 'hex');
      const sig = Buffer.from(t.sig, 'hex');
      const wellFormed = sig.length === 64;
      const before = { mine: counter.count, consensus: signatureVerifications.count };
      const results = [
        ed25519VerifyHex(g.publicKey.pk, msg, t.sig, counter),
        ed25519VerifyRaw(Buffer.from(g.publicKey.pk, 'hex'), msg, sig),
        ed25519VerifyWithKey(key, msg, t.sig),
        verifySignature(g.publicKey.pk, msg, t.sig),
      ];
      assert.equal(counter.count - before.mine, wellFormed ? 1 : 0, `tc ${t.tcId}: counted once iff the signature is 64 bytes`);
      assert.equal(signatureVerifications.count - before.consensus, wellFormed ? 1 : 0, `tc ${t.tcId}: the consensus counter too`);
      assert.ok(results.every((r) => r === results[0]), `tc ${t.tcId}: all entry points agree`);
      if (t.result === 'valid') assert.ok(results[0], `tc ${t.tcId} should verify`);
      if (t.result === 'invalid') assert.ok(!results[0], `tc ${t.tcId} should not verify`);
      n++;
    }
  }
  assert.ok(n >= 100, `only ${n} vectors`);
});

test('malformed keys and signatures give false without a check, whatever their type', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const hex = publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('hex');
  const msg = randomBytes(40);
  const sig = sign(null, msg, privateKey).toString('hex');
  const counter = { count: 0 };
  assert.ok(ed25519VerifyHex(hex, msg, sig, counter));
  assert.equal(counter.count, 1);
  const badSigs: unknown[] = [sig.toUpperCase(), sig.slice(2), `${sig}00`, 'zz'.repeat(64), undefined, null, 7, { sig }];
  const badKeys: unknown[] = [hex.toUpperCase(), hex.slice(2), 'zz'.repeat(32), undefined, 42];
  for (const s of badSigs) {
    assert.equal(ed25519VerifyHex(hex, msg, s as string, counter), false, `signature ${String(s).slice(0, 12)}`);
    assert.equal(ed25519VerifyWithKey(publicKey, msg, s as string, counter), false);
  }
  for (const k of badKeys) assert.equal(ed25519VerifyHex(k as string, msg, sig, counter), false, `key ${String(k).slice(0, 12)}`);
  assert.equal(ed25519VerifyRaw(new Uint8Array(31), msg, Buffer.from(sig, 'hex'), counter), false);
  assert.equal(ed25519VerifyRaw(Buffer.from(hex, 'hex'), msg, new Uint8Array(63), counter), false);
  assert.equal(counter.count, 1, 'no check was counted for malformed input');
  // Uppercase hex is the same bytes but not the canonical form: refused, so one signature has one spelling.
  assert.ok(Buffer.from(sig.toUpperCase(), 'hex').equals(Buffer.from(sig, 'hex')));
});
