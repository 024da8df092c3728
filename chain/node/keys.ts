/**
 * Ed25519 node/account keys via node:crypto. Address = lowercase hex of the raw 32-byte
 * public key. A key file holds the 32-byte seed in hex; it is written with mode 0600.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export class KeyError extends Error {
  override name = 'KeyError';
}

export interface KeyPair {
  /** 32-byte seed, hex. Secret. */
  readonly seedHex: string;
  /** Raw 32-byte public key, hex; this is the address. */
  readonly address: string;
  readonly privateKey: KeyObject;
}

export function keyPairFromSeed(seedHex: string): KeyPair {
  if (!/^[0-9a-f]{64}$/.test(seedHex)) throw new KeyError('seed must be 32 bytes of lowercase hex');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const address = Buffer.from(spki.subarray(spki.length - 32)).toString('hex');
  return { seedHex, address, privateKey };
}

export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return keyPairFromSeed(Buffer.from(der.subarray(der.length - 32)).toString('hex'));
}

export function signBytes(kp: KeyPair, msg: Uint8Array): string {
  return sign(null, msg, kp.privateKey).toString('hex');
}

export function writeKeyFile(path: string, kp: KeyPair): void {
  writeFileSync(path, JSON.stringify({ address: kp.address, seed: kp.seedHex }) + '\n', { mode: 0o600 });
}

export function readKeyFile(path: string): KeyPair {
  const j = JSON.parse(readFileSync(path, 'utf8')) as { seed?: unknown };
  if (typeof j.seed !== 'string') throw new KeyError(`${path}: no seed`);
  return keyPairFromSeed(j.seed);
}
