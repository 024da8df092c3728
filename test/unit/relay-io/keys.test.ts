import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import { generateKeyPair, KeyFileError, readKeyFile, toHex, writeKeyFile } from '../../../relay/keys.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tva-keys-'));
}

test('keygen writes a 0600 JSON key file that reads back and agrees on DH', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'relay.key');
    const kp = generateKeyPair();
    writeKeyFile(file, kp);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    assert.equal(json.publicKey, toHex(kp.publicKey));
    assert.match(json.secretKey!, /^[0-9a-f]{64}$/);
    const back = readKeyFile(file);
    assert.deepEqual(back.publicKey, kp.publicKey);
    // The pair really is an X25519 pair: DH with another key agrees both ways.
    const other = generateKeyPair();
    assert.deepEqual(x25519.getSharedSecret(back.secretKey, other.publicKey), x25519.getSharedSecret(other.secretKey, kp.publicKey));
    assert.notDeepEqual(generateKeyPair().secretKey, kp.secretKey);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keygen refuses to replace a key file unless forced', () => {
  const dir = tmp();
  try {
    const file = join(dir, 'relay.key');
    const first = generateKeyPair();
    writeKeyFile(file, first);
    assert.throws(() => writeKeyFile(file, generateKeyPair()), /already exists/);
    assert.deepEqual(readKeyFile(file).publicKey, first.publicKey);
    const second = generateKeyPair();
    writeKeyFile(file, second, { force: true });
    assert.deepEqual(readKeyFile(file).publicKey, second.publicKey);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readKeyFile rejects missing, malformed and mismatched files with KeyFileError', () => {
  const dir = tmp();
  try {
    assert.throws(() => readKeyFile(join(dir, 'none.key')), (e: unknown) => e instanceof KeyFileError && /does not exist.*keygen/.test(e.message));
    const bad = join(dir, 'bad.key');
    writeFileSync(bad, 'not json');
    assert.throws(() => readKeyFile(bad), /not JSON/);
    writeFileSync(bad, JSON.stringify({ secretKey: 'ab', publicKey: 'cd' }));
    assert.throws(() => readKeyFile(bad), /secretKey: expected 64 hex/);
    const a = generateKeyPair();
    const b = generateKeyPair();
    writeFileSync(bad, JSON.stringify({ secretKey: toHex(a.secretKey), publicKey: toHex(b.publicKey) }));
    assert.throws(() => readKeyFile(bad), /does not match/);
    writeFileSync(bad, '[]');
    assert.throws(() => readKeyFile(bad), /secretKey/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
