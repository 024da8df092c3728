import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BootstrapAddressError, DiscoveryNode, PeerKeyFileError, loadOrCreatePeerKey } from '../../../discovery/node.js';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tvd-key-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the peer key file is created 0600 and gives the same peer id on every load', async () => {
  await withTmp(async (dir) => {
    const file = join(dir, 'keys', 'p2p.key');
    const k1 = await loadOrCreatePeerKey(file);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const k2 = await loadOrCreatePeerKey(file);
    assert.ok(k1.equals(k2));
    assert.equal(k1.type, 'Ed25519');
    const n1 = await DiscoveryNode.create({ keyFile: file });
    const n2 = await DiscoveryNode.create({ keyFile: file });
    assert.equal(n1.peerId, n2.peerId);
    const other = await DiscoveryNode.create({ keyFile: join(dir, 'other.key') });
    assert.notEqual(other.peerId, n1.peerId);
  });
});

test('concurrent first loads agree on one key', async () => {
  await withTmp(async (dir) => {
    const file = join(dir, 'p2p.key');
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreatePeerKey(file)));
    for (const k of keys) assert.ok(k.equals(keys[0]!));
  });
});

test('a key file others may read, or that holds no key, is refused', async () => {
  await withTmp(async (dir) => {
    const file = join(dir, 'p2p.key');
    await loadOrCreatePeerKey(file);
    await chmod(file, 0o644);
    await assert.rejects(loadOrCreatePeerKey(file), PeerKeyFileError);
    const junk = join(dir, 'junk.key');
    await writeFile(junk, 'not a key', { mode: 0o600 });
    await assert.rejects(loadOrCreatePeerKey(junk), PeerKeyFileError);
  });
});

test('bootstrap addresses must parse and name the peer', async () => {
  await assert.rejects(DiscoveryNode.create({ bootstrap: ['not a multiaddr'] }), BootstrapAddressError);
  await assert.rejects(DiscoveryNode.create({ bootstrap: ['/ip4/127.0.0.1/tcp/4001'] }), BootstrapAddressError);
});
