import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { distBin } from '../../../common/paths.js';
import { generateX25519, x25519, x25519Public } from '../../../protocol/x25519.js';

test('generateX25519: raw secret and public key agree with each other and with a DH', () => {
  const a = generateX25519();
  const b = generateX25519();
  assert.equal(a.secretKey.length, 32);
  assert.deepEqual(x25519Public(a.secretKey), a.publicKey);
  assert.deepEqual(x25519(a.secretKey, b.publicKey), x25519(b.keyObject!, a.publicKey));
});

// Regression: exporting a generateKeyPairSync key as JWK deadlocked the thread under GC on
// Node 20 (main thread stuck in ~KeyGenJob on the key's mutex; a relay engine test hung in
// CI). Tens of thousands of key pairs in a child process must finish (a hang = timeout).
test('generateX25519 in a tight loop never deadlocks (child process, 30 000 key pairs)', () => {
  const mod = pathToFileURL(distBin('protocol/x25519')).href;
  const script = `import { generateX25519 } from ${JSON.stringify(mod)}; let n = 0; for (let i = 0; i < 30000; i++) n += generateX25519().publicKey[0]; console.log('done', n >= 0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.signal, null, `child killed by ${r.signal} (deadlocked?)`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done true/);
});
