/**
 * Paid connects: the relay list's "address" and "pricePerGiB", the --chain-rpc/--wallet/--budget
 * flags, and loadWalletSeed (the payer's seed for receipts, the same key the wallet signs with).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConnectFlags, parsePaymentFlags } from '../../../client/config.js';
import { parseRelayJson, RelayListError } from '../../../client/relay-list.js';
import { importWallet, loadWallet, loadWalletSeed, WrongPasswordError } from '../../../client/wallet/keystore.js';
import { ConfigError } from '../../../relay/config.js';
import { keyPairFromSeed } from '../../../chain/node/keys.js';
import { ed25519Verify } from '../../../chain/state/crypto.js';

const dir = mkdtempSync(join(tmpdir(), 'tva-payflags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);
const A1 = 'aa'.repeat(32);
const A2 = 'BB'.repeat(32);

function relayFile(entries: unknown[]): string {
  const f = join(dir, `relays-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(entries));
  return f;
}

test('relay list: optional address (lower-cased) and pricePerGiB (string or integer)', () => {
  const r = parseRelayJson(JSON.stringify([
    { endpoint: '198.18.0.11:51820', publicKey: K1, address: A1, pricePerGiB: '1000000000' },
    { endpoint: '198.18.0.13:51820', publicKey: K2, address: A2, pricePerGiB: 7 },
    { endpoint: '198.18.0.14:51820', publicKey: K2 },
  ]), 'f');
  assert.equal(r[0]!.address, A1);
  assert.equal(r[0]!.pricePerGiB, 1_000_000_000n);
  assert.equal(r[1]!.address, A2.toLowerCase());
  assert.equal(r[1]!.pricePerGiB, 7n);
  assert.equal(r[2]!.address, undefined);
  assert.equal(r[2]!.pricePerGiB, undefined);
  assert.throws(() => parseRelayJson(JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: K1, address: 'xyz' }]), 'f'), (e: unknown) => e instanceof RelayListError && /address must be 64 hex/.test(e.message));
  for (const bad of [-1, 1.5, '1e9', '', '0x10'])
    assert.throws(() => parseRelayJson(JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: K1, pricePerGiB: bad }]), 'f'), /pricePerGiB must be a non-negative integer/);
});

test('payment flags: all of --chain-rpc, --wallet, --budget or none; every path relay needs address and price', () => {
  const paid = relayFile([
    { endpoint: '198.18.0.11:51820', publicKey: K1, address: A1, pricePerGiB: '100' },
    { endpoint: '198.18.0.13:51820', publicKey: K2, address: A2, pricePerGiB: '200' },
  ]);
  const c = parseConnectFlags({ relays: paid, hops: '2', chainRpc: 'http://198.18.0.200:30001', wallet: '/w.json', budget: '31000000000', passwordFile: '/p' });
  assert.deepEqual(c.payments, { rpcUrl: 'http://198.18.0.200:30001', wallet: '/w.json', budget: 31_000_000_000n, passwordFile: '/p' });
  assert.equal(parseConnectFlags({ relays: paid, hops: '2' }).payments, undefined);
  assert.throws(() => parseConnectFlags({ relays: paid, hops: '2', chainRpc: 'http://x:1' }), (e: unknown) => e instanceof ConfigError && /together/.test(e.message));
  assert.throws(() => parseConnectFlags({ relays: paid, hops: '2', passwordFile: '/p' }), /only makes sense with --chain-rpc/);
  assert.throws(() => parseConnectFlags({ relays: paid, hops: '2', chainRpc: 'ftp://x:1', wallet: '/w', budget: '1' }), /must be http/);
  assert.throws(() => parseConnectFlags({ relays: paid, hops: '2', chainRpc: 'not a url', wallet: '/w', budget: '1' }), /not a URL/);
  for (const b of ['0', '-1', '1.5', 'ten'])
    assert.throws(() => parseConnectFlags({ relays: paid, hops: '2', chainRpc: 'http://x:1', wallet: '/w', budget: b }), /--budget/);
  const unpaid = relayFile([
    { endpoint: '198.18.0.11:51820', publicKey: K1, address: A1, pricePerGiB: '100' },
    { endpoint: '198.18.0.13:51820', publicKey: K2 },
  ]);
  assert.throws(() => parseConnectFlags({ relays: unpaid, hops: '2', chainRpc: 'http://x:1', wallet: '/w', budget: '1' }), /relay 2 of the path has no "address"/);
  // the check looks at the chosen path only
  assert.equal(parsePaymentFlags({ chainRpc: 'http://x:1', wallet: '/w', budget: '5' }, [])?.budget, 5n);
});

test('loadWalletSeed returns the seed the wallet signs with; a wrong password fails', async () => {
  const seedHex = '5e'.repeat(32);
  const path = join(dir, 'wallet.json');
  const address = await importWallet(path, seedHex, 'pw', { kdf: { N: 2 ** 10 } });
  assert.equal(address, keyPairFromSeed(seedHex).address);
  const seed = await loadWalletSeed(path, 'pw');
  assert.equal(Buffer.from(seed).toString('hex'), seedHex);
  const w = await loadWallet(path, 'pw');
  const msg = new TextEncoder().encode('receipt');
  assert.ok(ed25519Verify(Buffer.from(address, 'hex'), msg, w.sign(msg)));
  await assert.rejects(loadWalletSeed(path, 'wrong'), WrongPasswordError);
});
