/** Test helpers: a real Ed25519 node key and a valid descriptor body around it. */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { DescriptorBody } from '../../../protocol/descriptor.js';

export interface TestKey {
  address: string;
  sign: (msg: Uint8Array) => Uint8Array;
  privateKey: KeyObject;
}

export function newKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' }); // not JWK: see protocol/x25519.ts generateX25519
  return {
    address: spki.subarray(spki.length - 32).toString('hex'),
    sign: (msg) => new Uint8Array(nodeSign(null, msg, privateKey)),
    privateKey,
  };
}

export const PEER_ID = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf';
export const T0 = 1_800_000_000_000;

export function body(nodeAddress: string, over: Partial<DescriptorBody> = {}): DescriptorBody {
  return {
    version: 1,
    chainId: 'topvpn-devnet',
    nodeAddress,
    peerId: PEER_ID,
    onionKey: 'ab'.repeat(32),
    endpoints: { udp: '198.18.0.11:51820', ws: 'wss://relay.example:443/ws' },
    pricePerGiB: 2_500_000n,
    region: 'DE',
    bandwidthBps: 100_000_000,
    exitPolicy: ['reject 10.0.0.0/8:*', 'accept *:443', 'accept *:80', 'reject *:*'],
    operator: 'cd'.repeat(32),
    family: [],
    publishedAt: T0,
    expiresAt: T0 + 3 * 3600_000,
    ...over,
  };
}
