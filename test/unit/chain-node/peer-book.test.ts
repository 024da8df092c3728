/**
 * The peer book (chain/node/peer-book.ts): p2p endpoints bound to consensus keys, the registry
 * feed, and address lookup over the directory, registry and bootstrap sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { PeerBook, PeerBookError, RegistryPeerFeed, p2pEndpointFor, p2pEndpointOf, parseP2pMultiaddr, peerIdStringOf, registryPeers } from '../../../chain/node/peer-book.js';
import { generateKeyPair } from '../../../chain/node/keys.js';

test('peerIdStringOf is the peer id libp2p derives from the node key (the identity the network runs under)', async () => {
  const k = generateKeyPair();
  const libp2pKey = await generateKeyPairFromSeed('Ed25519', Buffer.from(k.seedHex, 'hex'));
  assert.equal(peerIdStringOf(k.address), peerIdFromPrivateKey(libp2pKey).toString());
  assert.throws(() => peerIdStringOf('zz'), PeerBookError);
});

test('parseP2pMultiaddr: host/tcp/p2p only; returns the transport part and the address the peer id encodes', () => {
  const k = generateKeyPair();
  const pid = peerIdStringOf(k.address);
  assert.deepEqual(parseP2pMultiaddr(`/ip4/10.1.2.3/tcp/4001/p2p/${pid}`), { multiaddr: '/ip4/10.1.2.3/tcp/4001', address: k.address });
  assert.deepEqual(parseP2pMultiaddr(`/dns4/node.example/tcp/7/p2p/${pid}`), { multiaddr: '/dns4/node.example/tcp/7', address: k.address });
  assert.equal(parseP2pMultiaddr(p2pEndpointFor('/ip4/127.0.0.1/tcp/9', k.address)).address, k.address);
  const bad = [
    '',
    'http://127.0.0.1:8645',
    '/ip4/127.0.0.1/tcp/4001', // no peer id
    `/ip4/127.0.0.1/udp/4001/p2p/${pid}`, // not tcp
    `/ip4/127.0.0.1/tcp/0/p2p/${pid}`, // port 0
    `/ip4/127.0.0.1/tcp/4001/ws/p2p/${pid}`, // extra component
    '/ip4/127.0.0.1/tcp/4001/p2p/notapeerid',
    '/ip4/300.1.1.1/tcp/4001/p2p/' + pid,
    '/ip4/127.0.0.1/tcp/4001/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC', // RSA-style (sha256) peer id: no Ed25519 key inside
  ];
  for (const b of bad) assert.throws(() => parseP2pMultiaddr(b), PeerBookError, b);
});

test('p2pEndpointOf: the first endpoint bound to the consensus key; other keys\' peer ids and malformed multiaddrs are rejected, URLs ignored', () => {
  const k = generateKeyPair();
  const other = generateKeyPair();
  const good = p2pEndpointFor('/ip4/127.0.0.1/tcp/5000', k.address);
  const stolen = p2pEndpointFor('/ip4/127.0.0.1/tcp/6000', other.address);
  const r = p2pEndpointOf({ consensusKey: k.address, endpoints: ['http://127.0.0.1:1', 'udp://1.2.3.4:5', '/garbage', stolen, good] });
  assert.equal(r.multiaddr, '/ip4/127.0.0.1/tcp/5000');
  assert.deepEqual(r.rejected.map((x) => x.endpoint), ['/garbage', stolen]);
  assert.match(r.rejected[1]!.reason, /not the consensus key/);
  assert.equal(p2pEndpointOf({ consensusKey: k.address, endpoints: [stolen] }).multiaddr, undefined, 'an endpoint naming another key is never the node\'s');
  assert.equal(p2pEndpointOf({ consensusKey: k.address, endpoints: ['/ip4/127.0.0.1/tcp/5000', 'http://x'] }).multiaddr, undefined, 'a genesis-style endpoint without /p2p/ binds nothing');
  assert.deepEqual(p2pEndpointOf({ consensusKey: k.address, endpoints: 'nope' as unknown as string[] }), { rejected: [] });
});

test('registryPeers / RegistryPeerFeed: peers keyed by consensus key; unchanged registry → undefined; each bad endpoint reported once', () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const relay = generateKeyPair();
  const nodes = {
    [a.address]: { role: 'validator' as const, consensusKey: a.address, endpoints: [p2pEndpointFor('/ip4/127.0.0.1/tcp/1001', a.address)] },
    [b.address]: { role: 'auditor' as const, consensusKey: b.address, endpoints: ['/ip4/127.0.0.1/tcp/1002/p2p/bad'] },
    [relay.address]: { role: 'relay' as const, consensusKey: relay.address, endpoints: [p2pEndpointFor('/ip4/127.0.0.1/tcp/1004', relay.address)] },
  };
  const direct = registryPeers(nodes);
  assert.deepEqual(direct.peers, [{ address: a.address, multiaddr: '/ip4/127.0.0.1/tcp/1001' }], 'relays are not chain peers');
  assert.equal(direct.rejected.length, 1);
  const reports: string[] = [];
  const feed = new RegistryPeerFeed((r) => reports.push(r.node));
  assert.deepEqual(feed.update(nodes), direct.peers);
  assert.equal(feed.update(structuredClone(nodes)), undefined, 'same registry (a deep copy, as every beacon block makes): no update');
  assert.deepEqual(reports, [b.address]);
  const moved = { ...nodes, [b.address]: { role: 'auditor' as const, consensusKey: b.address, endpoints: [p2pEndpointFor('/ip4/127.0.0.1/tcp/1003', b.address)] } };
  const next = feed.update(moved)!;
  assert.deepEqual(next.map((p) => p.address).sort(), [a.address, b.address].sort());
  assert.deepEqual(reports, [b.address], 'no new report for a now-valid endpoint');
  assert.deepEqual(feed.update({}), [], 'unregistered: no peers');
});

test('PeerBook: registry wins over directory (which stays the fallback) and bootstrap, self is never listed, setRegistry reports added/changed/removed', () => {
  const [self, d1, r1, r2, b1] = Array.from({ length: 5 }, () => generateKeyPair().address) as [string, string, string, string, string];
  const book = new PeerBook(self, [{ address: self, multiaddr: '/ip4/1.1.1.1/tcp/1' }, { address: d1, multiaddr: '/ip4/1.1.1.1/tcp/2' }], [
    { address: b1, multiaddr: '/ip4/1.1.1.1/tcp/3' },
    { address: d1, multiaddr: '/ip4/9.9.9.9/tcp/9' },
  ]);
  assert.deepEqual(book.addresses(), [d1, b1]);
  assert.equal(book.lookup(d1)!.multiaddr, '/ip4/1.1.1.1/tcp/2');
  assert.equal(book.lookup(self), undefined);
  let diff = book.setRegistry([
    { address: r1, multiaddr: '/ip4/2.2.2.2/tcp/1' },
    { address: d1, multiaddr: '/ip4/6.6.6.6/tcp/6' },
    { address: self, multiaddr: '/ip4/1.1.1.1/tcp/1' },
    { address: b1, multiaddr: '/ip4/2.2.2.2/tcp/3' },
  ]);
  assert.deepEqual(diff, { added: [r1, d1, b1], removed: [], changed: [] });
  assert.deepEqual(book.lookup(d1), { address: d1, multiaddr: '/ip4/6.6.6.6/tcp/6', source: 'registry' }, 'a directory node that registered elsewhere is dialed there');
  assert.deepEqual(book.fallback(d1), { address: d1, multiaddr: '/ip4/1.1.1.1/tcp/2', source: 'directory' }, '…with its genesis address as the fallback');
  assert.equal(book.fallback(r1), undefined, 'no fallback outside the directory');
  assert.equal(book.isDirectory(d1), true);
  assert.deepEqual(book.lookup(b1), { address: b1, multiaddr: '/ip4/2.2.2.2/tcp/3', source: 'registry' }, 'the registry wins over bootstrap');
  assert.deepEqual(book.addresses(), [d1, ...[r1, b1].sort()]);
  assert.deepEqual(
    book.entries().map((e) => [e.address, e.source]),
    book.addresses().map((a) => [a, a === d1 || a === r1 || a === b1 ? 'registry' : '?']),
  );
  book.setRegistry([{ address: d1, multiaddr: '/ip4/1.1.1.1/tcp/2' }, { address: r1, multiaddr: '/ip4/2.2.2.2/tcp/1' }, { address: b1, multiaddr: '/ip4/2.2.2.2/tcp/3' }]);
  assert.equal(book.fallback(d1), undefined, 'registered at its genesis address: nothing to fall back to');
  diff = book.setRegistry([
    { address: r1, multiaddr: '/ip4/2.2.2.2/tcp/7' },
    { address: r2, multiaddr: '/ip4/2.2.2.2/tcp/8' },
  ]);
  assert.deepEqual(diff, { added: [r2], removed: [d1, b1], changed: [r1] });
  assert.deepEqual(book.lookup(d1), { address: d1, multiaddr: '/ip4/1.1.1.1/tcp/2', source: 'directory' }, 'unregistered: back to the genesis address');
  assert.equal(book.lookup(b1)!.source, 'bootstrap', 'bootstrap entry remains after the registry drops it');
  assert.deepEqual(book.addresses(), [d1, ...[r1, r2, b1].sort()]);
  book.setRegistry([]);
  assert.equal(book.lookup(r1), undefined, 'an unregistered node is forgotten');
});
