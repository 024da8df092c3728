/**
 * The relay's static X25519 identity key (the ntor "B" of protocol/README.md).
 * Key file: JSON {"secretKey": hex(32 B), "publicKey": hex(32 B)}, mode 0600.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';

export interface RelayKeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
}

export function generateKeyPair(): RelayKeyPair {
  const secretKey = new Uint8Array(randomBytes(32));
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Decodes exactly `len` bytes of lower/upper-case hex; throws KeyFileError naming `what`. */
export function fromHex(s: unknown, len: number, what: string): Uint8Array {
  if (typeof s !== 'string' || !/^[0-9a-fA-F]*$/.test(s) || s.length !== len * 2) {
    throw new KeyFileError(`${what}: expected ${len * 2} hex characters`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/**
 * Writes a new key file with mode 0600 (created 0600, never briefly world-readable).
 * Refuses to replace an existing file unless `force` (a relay's identity is its reputation).
 */
export function writeKeyFile(path: string, kp: RelayKeyPair, opts: { force?: boolean } = {}): void {
  if (existsSync(path) && !opts.force) throw new KeyFileError(`${path} already exists (use --force to replace it)`);
  const body = `${JSON.stringify({ secretKey: toHex(kp.secretKey), publicKey: toHex(kp.publicKey) })}\n`;
  let fd: number;
  try {
    fd = openSync(path, opts.force ? 'w' : 'wx', 0o600);
  } catch (err) {
    throw new KeyFileError(`cannot create ${path}: ${(err as Error).message}`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, body);
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates a key file: both keys present, 32 B each, and the public key matches the secret. */
export function readKeyFile(path: string): RelayKeyPair {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyFileError(code === 'ENOENT' ? `key file ${path} does not exist (create one with \`keygen --out ${path}\`)` : `cannot read key file ${path}: ${(err as Error).message}`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new KeyFileError(`key file ${path} is not JSON`);
  }
  if (typeof obj !== 'object' || obj === null) throw new KeyFileError(`key file ${path} is not a JSON object`);
  const rec = obj as Record<string, unknown>;
  const secretKey = fromHex(rec.secretKey, 32, `key file ${path}: secretKey`);
  const publicKey = fromHex(rec.publicKey, 32, `key file ${path}: publicKey`);
  if (toHex(publicKeyOf(secretKey)) !== toHex(publicKey)) throw new KeyFileError(`key file ${path}: publicKey does not match secretKey`);
  return { secretKey, publicKey };
}

/** Mode bits of a key file that grant group/other access (0 when private). */
export function keyFileLooseBits(path: string): number {
  return statSync(path).mode & 0o077;
}
