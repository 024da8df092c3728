/**
 * RelayDiscovery (a relay's libp2p host + directory + publisher) and DiscoverySession (a
 * client's live directory) over real libp2p on loopback, against a small JSON-RPC stand-in for
 * a chain node (chain_status, node_get). Checks: a relay bootstrapping from another is learned
 * by a client that only knows the first; descriptors carry what the relay was started with; a
 * relay that unregisters (status "unbonding") or is jailed leaves the client's candidates on
 * the next chain re-check.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { generateKeyPair as chainKeyPair, type KeyPair } from '../../../chain/node/keys.js';
import { silentLogger } from '../../../common/log.js';
import { RelayDiscovery } from '../../../discovery/relay-service.js';
import { DiscoverySession, DiscoveryUnreachableError } from '../../../discovery/session.js';
import { waitUntil } from '../../helpers/wait.js';

const CHAIN = 'topvpn-devnet';

interface FakeNode {
  status: 'active' | 'unbonding' | 'jailed';
  deposit: string;
}

async function fakeChain(nodes: Map<string, FakeNode>): Promise<{ url: string; server: Server; calls: () => number }> {
  let calls = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const q = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number; method: string; params: unknown[] };
      calls++;
      let body: Record<string, unknown>;
      if (q.method === 'chain_status') body = { result: { chainId: CHAIN, chains: [{ chain: 'beacon' }, { chain: 'shard-0' }] } };
      else if (q.method === 'node_get') {
        const n = nodes.get(String(q.params[0]));
        body = n ? { result: { role: 'relay', status: n.status, deposit: n.deposit, jailed: n.status === 'jailed' } } : { error: { code: -32001, message: 'no such node' } };
      } else body = { error: { code: -32601, message: 'method not found' } };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: q.id, ...body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, calls: () => calls };
}

function relayOpts(url: string, key: KeyPair, i: number, bootstrap: string[], over: Partial<Parameters<typeof RelayDiscovery.start>[0]> = {}): Parameters<typeof RelayDiscovery.start>[0] {
  return {
    chainRpc: url,
    nodeKey: key,
    onionKey: 'ab'.repeat(32),
    udp: `198.18.${120 + i}.1:51820`,
    pricePerGiB: BigInt(1000 + i) * 1_000_000n,
    country: i % 2 === 0 ? 'DE' : 'FR',
    bandwidthBps: 50_000_000,
    exitPolicy: i === 0 ? ['accept *:443', 'reject *:*'] : [],
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    lifetimeMs: 60_000,
    refreshMs: 20_000,
    log: silentLogger(),
    ...over,
  };
}

test('relays publish over libp2p; a client bootstrapping from one learns both; unbonding and jailed relays leave its candidates', { timeout: 60_000 }, async () => {
  const keys = [chainKeyPair(), chainKeyPair(), chainKeyPair()];
  const nodes = new Map<string, FakeNode>(keys.map((k) => [k.address, { status: 'active', deposit: '200000000000' }]));
  const chain = await fakeChain(nodes);
  const started: RelayDiscovery[] = [];
  let session: DiscoverySession | undefined;
  try {
    const a = await RelayDiscovery.start(relayOpts(chain.url, keys[0]!, 0, []));
    started.push(a.discovery);
    assert.equal(a.info.chainId, CHAIN);
    assert.equal(a.info.nodeAddress, keys[0]!.address);
    assert.ok(a.info.multiaddrs.length > 0 && a.info.multiaddrs.every((m) => m.endsWith(`/p2p/${a.info.peerId}`)));
    const operator = keys[0]!.address;
    const b = await RelayDiscovery.start(relayOpts(chain.url, keys[1]!, 1, a.info.multiaddrs, { operator, family: [keys[2]!.address, keys[1]!.address] }));
    started.push(b.discovery);
    const c = await RelayDiscovery.start(relayOpts(chain.url, keys[2]!, 2, a.info.multiaddrs));
    started.push(c.discovery);
    await waitUntil('relay A holds B and C', () => a.discovery.knownRelays() === 3, { timeoutMs: 20_000 });
    assert.ok(a.discovery.peers() >= 2);
    assert.ok(a.discovery.published() >= 1);

    session = await DiscoverySession.open({ chainRpc: chain.url, bootstrap: a.info.multiaddrs, timeoutMs: 10_000, chainTtlMs: 50, sweepIntervalMs: 100 });
    await waitUntil('client knows all three', () => session!.candidates().length === 3, { timeoutMs: 20_000 });
    const byAddr = new Map(session.candidates().map((x) => [x.descriptor.nodeAddress, x.descriptor]));
    const db = byAddr.get(keys[1]!.address)!;
    assert.equal(db.operator, operator, 'operator as configured');
    assert.deepEqual(db.family, [keys[2]!.address], 'family sorted, without itself');
    assert.equal(db.region, 'FR');
    assert.equal(db.pricePerGiB, 1001_000_000n);
    assert.equal(db.endpoints.udp, '198.18.121.1:51820');
    assert.deepEqual(byAddr.get(keys[0]!.address)!.exitPolicy, ['accept *:443', 'reject *:*']);
    assert.equal(byAddr.get(keys[0]!.address)!.operator, keys[0]!.address, 'operator defaults to the node address');

    // B unregisters: its deposit is still locked (unbonding) but it is no stake any more.
    nodes.set(keys[1]!.address, { status: 'unbonding', deposit: '200000000000' });
    await waitUntil('B gone from the client', () => !session!.candidates().some((x) => x.descriptor.nodeAddress === keys[1]!.address), { timeoutMs: 10_000 });
    // C is jailed.
    nodes.set(keys[2]!.address, { status: 'jailed', deposit: '200000000000' });
    await waitUntil('C gone from the client', () => !session!.candidates().some((x) => x.descriptor.nodeAddress === keys[2]!.address), { timeoutMs: 10_000 });
    assert.deepEqual(session.candidates().map((x) => x.descriptor.nodeAddress), [keys[0]!.address]);
    assert.ok(session.directory.stats().evicted.unstaked >= 1 && session.directory.stats().evicted.jailed >= 1);

    // A fresh client refuses B and C at intake.
    const fresh = await DiscoverySession.open({ chainRpc: chain.url, bootstrap: a.info.multiaddrs, timeoutMs: 10_000 });
    try {
      assert.deepEqual(fresh.candidates().map((x) => x.descriptor.nodeAddress), [keys[0]!.address]);
    } finally {
      await fresh.close();
    }
  } finally {
    await session?.close();
    for (const d of started) await d.stop();
    chain.server.close();
  }
});

test('a client with no reachable bootstrap peer fails with DiscoveryUnreachableError', { timeout: 20_000 }, async () => {
  const chain = await fakeChain(new Map());
  try {
    await assert.rejects(
      DiscoverySession.open({ chainRpc: chain.url, bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'], timeoutMs: 1_000 }),
      DiscoveryUnreachableError,
    );
  } finally {
    chain.server.close();
  }
});
