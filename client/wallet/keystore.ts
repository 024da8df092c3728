/**
 * The client's account key (Ed25519; address = lowercase hex of the 32-byte public key, as
 * on chain), encrypted at rest.
 *
 * File format (JSON, version 1; no plaintext secret is ever written):
 *   {
 *     "version": 1, "kind": "topvpn-wallet", "address": hex(32 B public key),
 *     "kdf": { "name": "scrypt", "N": 2^k, "r": int, "p": int, "dkLen": 32, "salt": hex(32 B) },
 *     "cipher": { "name": "xchacha20-poly1305", "nonce": hex(24 B) },
 *     "ciphertext": hex(32 B seed + 16 B tag),
 *     "checksum": hex(SHA-256(header || ciphertext))
 *   }
 * key = scrypt(NFKC(password), salt, N, r, p, 32); ciphertext = XChaCha20-Poly1305(key, nonce,
 * seed, aad = header), where header binds version, address, kdf and cipher fields, so a changed
 * field makes decryption fail rather than yield a different key. `checksum` detects
 * accidental corruption without the password (it is not an authenticity check: anyone can
 * recompute it; the AEAD tag is what authenticates).
 * Files are created 0600 (directories 0700), written to a temporary file and hard-linked into
 * place, so a wallet is never half-written and never silently replaced.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { XCHACHA_NONCE_BYTES, XCHACHA_TAG_BYTES, xchachaOpen, xchachaSeal } from './aead.js';
import { CorruptWalletError, WalletExistsError, WalletInputError, WalletNotFoundError, WrongPasswordError } from './errors.js';

export { CorruptWalletError, WalletError, WalletExistsError, WalletInputError, WalletNotFoundError, WrongPasswordError } from './errors.js';

export const WALLET_VERSION = 1;
export const WALLET_KIND = 'topvpn-wallet';
const SEED_BYTES = 32;
const SALT_BYTES = 32;
const AAD_DOMAIN = 'topvpn-wallet-v1';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. Memory used is 128 · N · r bytes. */
  N: number;
  r: number;
  p: number;
}

/**
 * Default cost: N = 2^16, r = 8, p = 1 (64 MiB). Measured on this 2-vCPU VM (@noble/hashes
 * scryptAsync, 3 runs each): 2^14 ≈ 65 ms, 2^15 ≈ 128 ms, 2^16 ≈ 258 ms, 2^17 ≈ 517 ms.
 * 2^16 keeps an unlock near a quarter second while costing an attacker twice the suggested
 * 2^15 per guess. The parameters are stored in each file, so the default can rise later
 * without breaking existing wallets.
 */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 16, r: 8, p: 1 });

/** Bounds accepted in a file or from a caller (keeps a hostile file from demanding gigabytes). */
export const SCRYPT_LIMITS = Object.freeze({ minLogN: 10, maxLogN: 20, maxR: 32, maxP: 16, maxMemBytes: 1 << 30 });

export interface WalletFile {
  version: 1;
  kind: typeof WALLET_KIND;
  address: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; dkLen: 32; salt: string };
  cipher: { name: 'xchacha20-poly1305'; nonce: string };
  ciphertext: string;
  checksum: string;
}

/** An unlocked wallet. The secret key lives only inside `sign`'s closure. */
export interface Wallet {
  readonly address: string;
  /** A copy of the 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature (64 B) over `message`. */
  sign(message: Uint8Array): Uint8Array;
}

export interface CreateWalletOptions {
  /** scrypt cost; defaults to DEFAULT_SCRYPT. Tests use a lower N to stay fast. */
  kdf?: Partial<ScryptParams>;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const HEX_RE = /^[0-9a-f]*$/;

/** Generates a fresh Ed25519 key, encrypts it under `password`, writes `path`. Returns the address. */
export async function createWallet(path: string, password: string, opts: CreateWalletOptions = {}): Promise<string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  // DER, not JWK: a JWK export of a freshly generated key can deadlock Node 20 (protocol/x25519.ts).
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = new Uint8Array(der.subarray(der.length - 32));
  try {
    return await writeNewWallet(path, seed, password, opts);
  } finally {
    seed.fill(0);
  }
}

/** Encrypts an existing 32-byte Ed25519 secret (seed, 64 hex characters) and writes `path`. Returns the address. */
export async function importWallet(path: string, secretHex: string, password: string, opts: CreateWalletOptions = {}): Promise<string> {
  const t = typeof secretHex === 'string' ? secretHex.trim().toLowerCase().replace(/^0x/, '') : '';
  if (t.length !== SEED_BYTES * 2 || !HEX_RE.test(t)) throw new WalletInputError('secret key must be 64 hex characters (a 32-byte Ed25519 seed)');
  const seed = new Uint8Array(Buffer.from(t, 'hex'));
  try {
    return await writeNewWallet(path, seed, password, opts);
  } finally {
    seed.fill(0);
  }
}

/** Decrypts the wallet at `path`. Throws WalletNotFoundError, CorruptWalletError or WrongPasswordError. */
export async function loadWallet(path: string, password: string): Promise<Wallet> {
  const file = readWalletFile(path);
  const pw = normalizePassword(password);
  const key = await deriveKey(pw, fromHex(file.kdf.salt), file.kdf);
  const aad = headerBytes(file);
  const seed = xchachaOpen(key, fromHex(file.cipher.nonce), fromHex(file.ciphertext), aad);
  key.fill(0);
  if (seed === null) throw new WrongPasswordError(path);
  try {
    if (seed.length !== SEED_BYTES) throw new CorruptWalletError(path, `decrypted secret has ${seed.length} bytes, expected ${SEED_BYTES}`);
    const keyObject = privateKeyObject(seed);
    const pub = publicKeyBytes(keyObject);
    if (toHex(pub) !== file.address) throw new CorruptWalletError(path, 'address does not match the encrypted key');
    return makeWallet(file.address, pub, keyObject);
  } finally {
    seed.fill(0);
  }
}

/**
 * Decrypts the wallet at `path` and returns a copy of its 32-byte Ed25519 seed (the payment
 * receipts are signed with it). The caller owns the buffer: keep it out of logs and zero it
 * when done. Same errors as loadWallet.
 */
export async function loadWalletSeed(path: string, password: string): Promise<Uint8Array> {
  const file = readWalletFile(path);
  const key = await deriveKey(normalizePassword(password), fromHex(file.kdf.salt), file.kdf);
  const seed = xchachaOpen(key, fromHex(file.cipher.nonce), fromHex(file.ciphertext), headerBytes(file));
  key.fill(0);
  if (seed === null) throw new WrongPasswordError(path);
  if (seed.length !== SEED_BYTES) {
    seed.fill(0);
    throw new CorruptWalletError(path, `decrypted secret has ${seed.length} bytes, expected ${SEED_BYTES}`);
  }
  const pub = publicKeyBytes(privateKeyObject(seed));
  if (toHex(pub) !== file.address) {
    seed.fill(0);
    throw new CorruptWalletError(path, 'address does not match the encrypted key');
  }
  return seed;
}

/** The wallet's address without the password (the file is checked for structure and checksum). */
export function readAddress(path: string): string {
  return readWalletFile(path).address;
}

/** Reads and structurally validates a wallet file. */
export function readWalletFile(path: string): WalletFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new WalletNotFoundError(path);
    throw new CorruptWalletError(path, `cannot read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new CorruptWalletError(path, 'not JSON');
  }
  const file = validateWalletFile(obj, (reason) => new CorruptWalletError(path, reason));
  if (file.checksum !== checksumOf(file)) throw new CorruptWalletError(path, 'checksum mismatch (the file was damaged)');
  return file;
}

// ---- internals ----

function makeWallet(address: string, pub: Uint8Array, keyObject: KeyObject): Wallet {
  const pubCopy = new Uint8Array(pub);
  const wallet: Wallet = {
    address,
    get publicKey(): Uint8Array {
      return new Uint8Array(pubCopy);
    },
    sign(message: Uint8Array): Uint8Array {
      return new Uint8Array(nodeSign(null, message, keyObject));
    },
  };
  return Object.freeze(wallet);
}

async function writeNewWallet(path: string, seed: Uint8Array, password: string, opts: CreateWalletOptions): Promise<string> {
  const pw = normalizePassword(password);
  const params = checkScrypt({ ...DEFAULT_SCRYPT, ...opts.kdf }, (r) => new WalletInputError(r));
  const keyObject = privateKeyObject(seed);
  const address = toHex(publicKeyBytes(keyObject));
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const nonce = new Uint8Array(randomBytes(XCHACHA_NONCE_BYTES));
  const partial: WalletFile = {
    version: WALLET_VERSION,
    kind: WALLET_KIND,
    address,
    kdf: { name: 'scrypt', N: params.N, r: params.r, p: params.p, dkLen: 32, salt: toHex(salt) },
    cipher: { name: 'xchacha20-poly1305', nonce: toHex(nonce) },
    ciphertext: '',
    checksum: '',
  };
  const key = await deriveKey(pw, salt, params);
  partial.ciphertext = toHex(xchachaSeal(key, nonce, seed, headerBytes(partial)));
  key.fill(0);
  partial.checksum = checksumOf(partial);
  writeExclusive(path, `${JSON.stringify(partial, null, 2)}\n`);
  return address;
}

/** Writes `content` to a new file at `path` (0600), atomically, failing with WalletExistsError if it exists. */
function writeExclusive(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new WalletExistsError(path);
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is best-effort (not supported on every filesystem).
  }
}

function normalizePassword(password: string): string {
  if (typeof password !== 'string' || password.length === 0) throw new WalletInputError('password must be a non-empty string');
  return password.normalize('NFKC');
}

async function deriveKey(password: string, salt: Uint8Array, p: ScryptParams): Promise<Uint8Array> {
  return scryptAsync(password, salt, { N: p.N, r: p.r, p: p.p, dkLen: 32, maxmem: SCRYPT_LIMITS.maxMemBytes + 1024 * p.r * p.p, asyncTick: 20 });
}

function checkScrypt<E extends Error>(p: ScryptParams, fail: (reason: string) => E): ScryptParams {
  const logN = Math.log2(p.N);
  if (!Number.isInteger(logN) || logN < SCRYPT_LIMITS.minLogN || logN > SCRYPT_LIMITS.maxLogN) {
    throw fail(`scrypt N must be a power of two in 2^${SCRYPT_LIMITS.minLogN}..2^${SCRYPT_LIMITS.maxLogN}`);
  }
  if (!Number.isInteger(p.r) || p.r < 1 || p.r > SCRYPT_LIMITS.maxR) throw fail(`scrypt r must be 1..${SCRYPT_LIMITS.maxR}`);
  if (!Number.isInteger(p.p) || p.p < 1 || p.p > SCRYPT_LIMITS.maxP) throw fail(`scrypt p must be 1..${SCRYPT_LIMITS.maxP}`);
  if (128 * p.N * p.r > SCRYPT_LIMITS.maxMemBytes) throw fail('scrypt parameters need more than 1 GiB');
  return { N: p.N, r: p.r, p: p.p };
}

/** The associated data: every field except ciphertext and checksum, in a fixed order. */
function headerBytes(f: WalletFile): Uint8Array {
  const h = JSON.stringify([AAD_DOMAIN, f.version, f.kind, f.address, f.kdf.name, f.kdf.N, f.kdf.r, f.kdf.p, f.kdf.dkLen, f.kdf.salt, f.cipher.name, f.cipher.nonce]);
  return new TextEncoder().encode(h);
}

/** The file's `checksum` value for its other fields (exported for tools and tests). */
export function walletChecksum(f: WalletFile): string {
  return checksumOf(f);
}

function checksumOf(f: WalletFile): string {
  return createHash('sha256').update(headerBytes(f)).update(f.ciphertext).digest('hex');
}

function validateWalletFile(v: unknown, fail: (reason: string) => Error): WalletFile {
  const o = asRecord(v, 'top level', ['version', 'kind', 'address', 'kdf', 'cipher', 'ciphertext', 'checksum'], fail);
  if (o.version !== WALLET_VERSION) throw fail(`unsupported version ${typeof o.version === 'number' ? o.version : typeof o.version}`);
  if (o.kind !== WALLET_KIND) throw fail('kind is not "topvpn-wallet"');
  const address = hexField(o.address, 32, 'address', fail);
  const kdf = asRecord(o.kdf, 'kdf', ['name', 'N', 'r', 'p', 'dkLen', 'salt'], fail);
  if (kdf.name !== 'scrypt') throw fail('kdf.name must be "scrypt"');
  if (kdf.dkLen !== 32) throw fail('kdf.dkLen must be 32');
  for (const k of ['N', 'r', 'p'] as const) if (typeof kdf[k] !== 'number') throw fail(`kdf.${k} must be a number`);
  const params = checkScrypt({ N: kdf.N as number, r: kdf.r as number, p: kdf.p as number }, (r) => fail(`kdf: ${r}`));
  const salt = hexField(kdf.salt, SALT_BYTES, 'kdf.salt', fail);
  const cipher = asRecord(o.cipher, 'cipher', ['name', 'nonce'], fail);
  if (cipher.name !== 'xchacha20-poly1305') throw fail('cipher.name must be "xchacha20-poly1305"');
  const nonce = hexField(cipher.nonce, XCHACHA_NONCE_BYTES, 'cipher.nonce', fail);
  const ciphertext = hexField(o.ciphertext, SEED_BYTES + XCHACHA_TAG_BYTES, 'ciphertext', fail);
  const checksum = hexField(o.checksum, 32, 'checksum', fail);
  return {
    version: WALLET_VERSION,
    kind: WALLET_KIND,
    address,
    kdf: { name: 'scrypt', ...params, dkLen: 32, salt },
    cipher: { name: 'xchacha20-poly1305', nonce },
    ciphertext,
    checksum,
  };
}

function asRecord(v: unknown, what: string, keys: readonly string[], fail: (reason: string) => Error): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail(`${what} must be an object`);
  const o = v as Record<string, unknown>;
  const have = Object.keys(o);
  for (const k of keys) if (!have.includes(k)) throw fail(`${what}: missing "${k}"`);
  for (const k of have) if (!keys.includes(k)) throw fail(`${what}: unknown field "${k}"`);
  return o;
}

function hexField(v: unknown, bytes: number, what: string, fail: (reason: string) => Error): string {
  if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX_RE.test(v)) throw fail(`${what} must be ${bytes * 2} lowercase hex characters`);
  return v;
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyBytes(priv: KeyObject): Uint8Array {
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' }); // DER, not JWK: see protocol/x25519.ts
  return new Uint8Array(spki.subarray(spki.length - 32));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function fromHex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}
