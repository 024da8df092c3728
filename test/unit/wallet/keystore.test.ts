import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CorruptWalletError,
  DEFAULT_SCRYPT,
  WalletExistsError,
  WalletInputError,
  WalletNotFoundError,
  WrongPasswordError,
  createWallet,
  importWallet,
  loadWallet,
  readAddress,
  walletChecksum,
  type WalletFile,
} from '../../../client/wallet/keystore.js';
import { configDir, defaultWalletPath, resolveWalletPath } from '../../../client/wallet/paths.js';

// Cheap KDF for tests that are not about the KDF cost (the default is exercised once below).
const FAST = { kdf: { N: 2 ** 10 } };

// RFC 8032 section 7.1, TEST 1.
const RFC_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_SIG_EMPTY =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'topvpn-wallet-'));
}

function verifySig(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  return nodeVerify(null, msg, key, sig);
}

test('create → readAddress → load → sign round trip with the default KDF cost', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'wallet.json');
  const address = await createWallet(path, 'correct horse battery staple');
  assert.match(address, /^[0-9a-f]{64}$/);
  assert.equal(readAddress(path), address);
  const file = JSON.parse(readFileSync(path, 'utf8')) as WalletFile;
  assert.equal(file.kdf.N, DEFAULT_SCRYPT.N);
  assert.equal(file.kdf.r, DEFAULT_SCRYPT.r);
  assert.equal(file.kdf.p, DEFAULT_SCRYPT.p);
  const w = await loadWallet(path, 'correct horse battery staple');
  assert.equal(w.address, address);
  assert.equal(Buffer.from(w.publicKey).toString('hex'), address);
  const msg = new TextEncoder().encode('channel-open');
  const sig = w.sign(msg);
  assert.equal(sig.length, 64);
  assert.ok(verifySig(w.publicKey, msg, sig));
  assert.ok(!verifySig(w.publicKey, new TextEncoder().encode('channel-opem'), sig));
  // The unlocked wallet exposes no secret: only address, publicKey and sign.
  assert.deepEqual(Object.keys(w).sort(), ['address', 'publicKey', 'sign']);
  // publicKey is a copy: mutating it does not change the wallet.
  const pk = w.publicKey;
  pk[0] = pk[0]! ^ 0xff;
  assert.equal(Buffer.from(w.publicKey).toString('hex'), address);
});

test('import of the RFC 8032 test key: right address, right signature, no plaintext secret on disk', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'w.json');
  assert.equal(await importWallet(path, RFC_SEED, 'pw', FAST), RFC_PUB);
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.includes(RFC_SEED), 'the secret must not appear in the file');
  assert.ok(!text.toLowerCase().includes(Buffer.from(RFC_SEED, 'hex').toString('base64').toLowerCase()));
  const w = await loadWallet(path, 'pw');
  assert.equal(w.address, RFC_PUB);
  assert.equal(Buffer.from(w.sign(new Uint8Array(0))).toString('hex'), RFC_SIG_EMPTY);
  // Two imports of the same key get different salts, nonces and ciphertexts.
  const path2 = join(dir, 'w2.json');
  await importWallet(path2, `0x${RFC_SEED.toUpperCase()}`, 'pw', FAST);
  const a = JSON.parse(text) as WalletFile;
  const b = JSON.parse(readFileSync(path2, 'utf8')) as WalletFile;
  assert.equal(b.address, RFC_PUB);
  assert.notEqual(a.kdf.salt, b.kdf.salt);
  assert.notEqual(a.cipher.nonce, b.cipher.nonce);
  assert.notEqual(a.ciphertext, b.ciphertext);
});

test('bad inputs are WalletInputError', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(importWallet(join(dir, 'a'), 'abcd', 'pw', FAST), WalletInputError);
  await assert.rejects(importWallet(join(dir, 'a'), 'zz'.repeat(32), 'pw', FAST), WalletInputError);
  await assert.rejects(createWallet(join(dir, 'a'), '', FAST), WalletInputError);
  await assert.rejects(createWallet(join(dir, 'a'), 'pw', { kdf: { N: 1000 } }), WalletInputError);
  await assert.rejects(createWallet(join(dir, 'a'), 'pw', { kdf: { N: 2 ** 21 } }), WalletInputError);
  await assert.rejects(createWallet(join(dir, 'a'), 'pw', { kdf: { N: 2 ** 10, r: 0 } }), WalletInputError);
  assert.deepEqual(readdirSync(dir), [], 'nothing written on bad input');
});

test('wrong password is WrongPasswordError; passwords are NFKC-normalized', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'w.json');
  await createWallet(path, 'caf\u00e9', FAST);
  await assert.rejects(loadWallet(path, 'cafe'), WrongPasswordError);
  await assert.rejects(loadWallet(path, 'caf\u00e9 '), WrongPasswordError);
  // The same text typed as e + combining acute accent opens it.
  const w = await loadWallet(path, 'cafe\u0301');
  assert.equal(w.address, readAddress(path));
});

test('refuses to overwrite: create and import onto an existing wallet keep the original bytes', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'w.json');
  await createWallet(path, 'one', FAST);
  const before = readFileSync(path);
  await assert.rejects(createWallet(path, 'two', FAST), WalletExistsError);
  await assert.rejects(importWallet(path, RFC_SEED, 'two', FAST), WalletExistsError);
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir), ['w.json'], 'no temporary files left behind');
  await loadWallet(path, 'one');
});

test('missing wallet is WalletNotFoundError for load and readAddress', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(loadWallet(join(dir, 'none.json'), 'pw'), WalletNotFoundError);
  assert.throws(() => readAddress(join(dir, 'none.json')), WalletNotFoundError);
});

test('file is 0600 and directories it creates are 0700', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'a', 'b', 'wallet.json');
  await createWallet(path, 'pw', FAST);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'a', 'b')).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o700);
});

/** Returns a copy of `hex` with its first character changed (stays valid lowercase hex of the same length). */
function flipHex(hex: string): string {
  return (hex[0] === '0' ? '1' : '0') + hex.slice(1);
}

type Mutation = [name: string, mutate: (f: WalletFile) => void];
const valueTampers: Mutation[] = [
  ['address', (f) => (f.address = flipHex(f.address))],
  ['kdf.salt', (f) => (f.kdf.salt = flipHex(f.kdf.salt))],
  ['kdf.N', (f) => (f.kdf.N = f.kdf.N * 2)],
  ['kdf.r', (f) => (f.kdf.r = f.kdf.r + 1)],
  ['kdf.p', (f) => (f.kdf.p = f.kdf.p + 1)],
  ['cipher.nonce', (f) => (f.cipher.nonce = flipHex(f.cipher.nonce))],
  ['ciphertext (secret part)', (f) => (f.ciphertext = flipHex(f.ciphertext))],
  ['ciphertext (tag)', (f) => (f.ciphertext = f.ciphertext.slice(0, -1) + (f.ciphertext.endsWith('0') ? '1' : '0'))],
];

test('a tampered field is CorruptWalletError (checksum), even for readAddress', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'w.json');
  await createWallet(path, 'pw', FAST);
  const good = readFileSync(path, 'utf8');
  const tampers: Mutation[] = [...valueTampers, ['checksum', (f) => (f.checksum = flipHex(f.checksum))]];
  for (const [name, mutate] of tampers) {
    const f = JSON.parse(good) as WalletFile;
    mutate(f);
    writeFileSync(path, JSON.stringify(f));
    await assert.rejects(loadWallet(path, 'pw'), CorruptWalletError, name);
    assert.throws(() => readAddress(path), CorruptWalletError, name);
  }
});

test('a tampered field with a recomputed checksum never unlocks (AEAD binds every header field)', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'w.json');
  await createWallet(path, 'pw', FAST);
  const good = readFileSync(path, 'utf8');
  for (const [name, mutate] of valueTampers) {
    const f = JSON.parse(good) as WalletFile;
    mutate(f);
    f.checksum = walletChecksum(f);
    writeFileSync(path, JSON.stringify(f));
    await assert.rejects(loadWallet(path, 'pw'), WrongPasswordError, name);
  }
  writeFileSync(path, good);
  await loadWallet(path, 'pw');
});

test('structurally broken files are CorruptWalletError', async (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'w.json');
  await createWallet(path, 'pw', FAST);
  const good = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const cases: Array<[string, string]> = [
    ['not json', '{"version":1,'],
    ['array', '[]'],
    ['empty', ''],
    ['missing ciphertext', JSON.stringify({ ...good, ciphertext: undefined })],
    ['extra field', JSON.stringify({ ...good, secret: 'x' })],
    ['version 2', JSON.stringify({ ...good, version: 2 })],
    ['kind', JSON.stringify({ ...good, kind: 'other' })],
    ['short ciphertext', JSON.stringify({ ...good, ciphertext: (good.ciphertext as string).slice(2) })],
    ['uppercase hex address', JSON.stringify({ ...good, address: (good.address as string).toUpperCase() })],
    ['N not a power of two', JSON.stringify({ ...good, kdf: { ...(good.kdf as object), N: 3000 } })],
    ['N too large', JSON.stringify({ ...good, kdf: { ...(good.kdf as object), N: 2 ** 24 } })],
    ['N as string', JSON.stringify({ ...good, kdf: { ...(good.kdf as object), N: '65536' } })],
    ['kdf name', JSON.stringify({ ...good, kdf: { ...(good.kdf as object), name: 'pbkdf2' } })],
    ['cipher name', JSON.stringify({ ...good, cipher: { ...(good.cipher as object), name: 'aes-gcm' } })],
  ];
  for (const [name, text] of cases) {
    writeFileSync(path, text);
    await assert.rejects(loadWallet(path, 'pw'), CorruptWalletError, name);
    assert.throws(() => readAddress(path), CorruptWalletError, name);
  }
});

test('paths: XDG_CONFIG_HOME when absolute, else ~/.config; explicit path wins', () => {
  assert.equal(configDir({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' }), '/x/cfg/topvpn');
  assert.equal(configDir({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' }), '/home/u/.config/topvpn');
  assert.equal(configDir({ XDG_CONFIG_HOME: '', HOME: '/home/u' }), '/home/u/.config/topvpn');
  assert.equal(defaultWalletPath({ HOME: '/home/u' }), '/home/u/.config/topvpn/wallet.json');
  assert.equal(resolveWalletPath('/w/my.json', { HOME: '/home/u' }), '/w/my.json');
  assert.equal(resolveWalletPath(undefined, { XDG_CONFIG_HOME: '/c' }), '/c/topvpn/wallet.json');
  assert.equal(resolveWalletPath('', { XDG_CONFIG_HOME: '/c' }), '/c/topvpn/wallet.json');
});
