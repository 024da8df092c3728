/**
 * Discovery over real libp2p hosts on 127.0.0.1 (in-process): five relays bootstrapped in a
 * line publish signed descriptors; a client that knows only one relay finds all five; a
 * rogue peer's forged and foreign-chain descriptors are rejected and counted.
 * Prints the measured discovery latency.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MapChainView } from '../../discovery/chain-view.js';
import { Directory, type DirectoryOptions } from '../../discovery/directory.js';
import { DHT_PROTOCOL, DiscoveryNode } from '../../discovery/node.js';
import { DescriptorPublisher } from '../../discovery/publisher.js';
import { Libp2pTransport } from '../../discovery/transport-libp2p.js';
import { waitUntil } from '../helpers/wait.js';
import { CHAIN, TOP, forged, testRelay, type TestRelay } from '../unit/discovery/fixtures.js';

const N = 5;

interface Host {
  node: DiscoveryNode;
  transport: Libp2pTransport;
  directory: Directory;
  publisher?: DescriptorPublisher;
  relay?: TestRelay;
}

const chain = new MapChainView();
const hosts: Host[] = [];
let tmp = '';

async function stopHost(h: Host): Promise<void> {
  h.publisher?.stop();
  await h.directory.stop();
  await h.transport.close();
  await h.node.stop();
}

async function newHost(opts: { bootstrap?: string[]; keyFile?: string; dir?: Partial<DirectoryOptions>; dht?: boolean }): Promise<Host> {
  const { dir, ...nodeOpts } = opts;
  const node = await DiscoveryNode.create({ listen: ['/ip4/127.0.0.1/tcp/0'], redialIntervalMs: 1_000, ...nodeOpts });
  const transport = await Libp2pTransport.create(node);
  const directory = new Directory({ chainId: CHAIN, chain, ...dir });
  const h: Host = { node, transport, directory };
  hosts.push(h);
  await directory.start();
  directory.attach(transport);
  await node.start();
  return h;
}

async function newRelay(i: number, bootstrap: string[]): Promise<Host> {
  const h = await newHost({ bootstrap, keyFile: join(tmp, `relay-${i}.key`) });
  const relay = testRelay(i, h.node.peerId);
  chain.setRelay(relay.address, BigInt(i + 1) * 100_000n * TOP);
  h.relay = relay;
  h.publisher = new DescriptorPublisher({ transport: h.transport, directory: h.directory, template: () => relay.template, sign: relay.key.sign });
  await h.publisher.start();
  return h;
}

const addrs = (d: Directory): string[] => d.candidates().map((c) => c.descriptor.nodeAddress).sort();

let relays: Host[] = [];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tvd-e2e-'));
  for (let i = 0; i < N; i++) {
    const prev = relays[i - 1];
    relays.push(await newRelay(i, prev ? [prev.node.multiaddrs()[0]!] : []));
  }
});

after(async () => {
  for (const h of hosts.reverse()) await stopHost(h).catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('a client bootstrapping from one relay discovers all five', async () => {
  const entry = relays[2]!;
  const t0 = performance.now();
  const client = await newHost({ bootstrap: [entry.node.multiaddrs()[0]!] });
  const all = relays.map((r) => r.relay!.address).sort();
  await waitUntil('client discovers all relays', () => addrs(client.directory).length === N, { timeoutMs: 30_000, intervalMs: 10 });
  const latencyMs = performance.now() - t0;
  console.log(`discovery: client found ${N} relays in ${latencyMs.toFixed(0)} ms (start → all candidates, one bootstrap peer)`);
  assert.deepEqual(addrs(client.directory), all);
  assert.deepEqual(client.transport.peers(), [entry.node.peerId], 'the client talked to its bootstrap relay only');
  for (const c of client.directory.candidates()) {
    const r = relays.find((x) => x.relay!.address === c.descriptor.nodeAddress)!;
    assert.equal(c.descriptor.peerId, r.node.peerId);
    assert.equal(c.stake, BigInt(relays.indexOf(r) + 1) * 100_000n * TOP);
  }

  // More joins, each through a different relay, for a latency spread.
  const more: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const c = await newHost({ bootstrap: [relays[i]!.node.multiaddrs()[0]!] });
    await waitUntil(`client ${i} discovers all relays`, () => addrs(c.directory).length === N, { timeoutMs: 30_000, intervalMs: 5 });
    more.push(performance.now() - t);
    await stopHost(c);
    hosts.splice(hosts.indexOf(c), 1);
  }
  more.sort((a, b) => a - b);
  console.log(`discovery: ${N} more joins (bootstrap relay-0..4): min ${more[0]!.toFixed(0)} / median ${more[2]!.toFixed(0)} / max ${more[N - 1]!.toFixed(0)} ms`);

  // A refresh travels by gossip alone (no new request): measure it.
  const syncs = client.directory.stats().syncs;
  const far = relays[0]!;
  const t1 = performance.now();
  const fresh = await far.publisher!.republish();
  await waitUntil(
    'client sees the refreshed descriptor',
    () => client.directory.candidates().find((c) => c.descriptor.nodeAddress === far.relay!.address)?.descriptor.publishedAt === fresh.publishedAt,
    { timeoutMs: 30_000, intervalMs: 10 },
  );
  console.log(`discovery: a refresh from relay-0 reached the client (3 hops away) in ${(performance.now() - t1).toFixed(0)} ms`);
  assert.equal(client.directory.stats().syncs, syncs);
});

test('forged and foreign-chain descriptors from a rogue peer are rejected and counted', async () => {
  const client = hosts.find((h) => h.publisher === undefined)!;
  const rogue = await newHost({});
  const victim = relays[3]!.relay!;
  const fake = forged(victim.descriptor(Date.now() + 1));
  const other = testRelay(42, rogue.node.peerId);
  chain.setRelay(other.address, TOP);
  const foreign = other.bytes(Date.now(), 30 * 60_000, { chainId: 'another-chain' });
  // The rogue answers requests with its bad set (replacing its honest directory's handler).
  rogue.transport.serve(() => [fake, foreign]);
  const before = client.directory.stats();
  await rogue.node.dial(client.node.multiaddrs()[0]!);
  await waitUntil(
    'client asked the rogue and refused both',
    () => {
      const s = client.directory.stats();
      return s.rejected['bad-signature'] > before.rejected['bad-signature'] && s.rejected['wrong-chain'] > before.rejected['wrong-chain'];
    },
    { timeoutMs: 20_000, intervalMs: 20 },
  );
  // And by gossip: the client's validator rejects a forgery published on the topic.
  await waitUntil('rogue sees the client on the topic', () => rogue.transport.topicPeers(client.directory.topic).includes(client.node.peerId), { timeoutMs: 20_000, intervalMs: 20 });
  const mid = client.directory.stats().rejected['bad-signature'];
  const fake2 = forged(victim.descriptor(Date.now() + 2));
  await rogue.transport.publish(client.directory.topic, fake2);
  await waitUntil('gossiped forgery rejected', () => client.directory.stats().rejected['bad-signature'] > mid, { timeoutMs: 20_000, intervalMs: 20 });

  assert.equal(addrs(client.directory).length, N);
  assert.ok(!addrs(client.directory).includes(other.address));
  const held = client.directory.candidates().find((c) => c.descriptor.nodeAddress === victim.address)!;
  assert.notEqual(Buffer.from(held.descriptor.signature, 'hex').toString('hex'), JSON.parse(Buffer.from(fake2).toString()).signature);
  // The relays never saw the forgeries: the client did not forward them.
  for (const r of relays) assert.equal(r.directory.stats().rejected['bad-signature'], 0);
});

test('a relay whose stake is withdrawn, or that is jailed, leaves a client after the chain TTL', async () => {
  const client = await newHost({ bootstrap: [relays[0]!.node.multiaddrs()[0]!], dir: { chainTtlMs: 300, sweepIntervalMs: 100 } });
  await waitUntil('client discovers all relays', () => addrs(client.directory).length === N, { timeoutMs: 30_000, intervalMs: 10 });
  const withdrawn = relays[4]!.relay!.address;
  const jailed = relays[1]!.relay!.address;
  chain.setRelay(withdrawn, 0n);
  chain.set(jailed, { registered: true, role: 'relay', stake: TOP, jailed: true });
  try {
    await waitUntil('both gone', () => !addrs(client.directory).includes(withdrawn) && !addrs(client.directory).includes(jailed), { timeoutMs: 10_000, intervalMs: 20 });
    assert.equal(addrs(client.directory).length, N - 2);
    assert.equal(client.directory.stats().evicted.unstaked, 1);
    assert.equal(client.directory.stats().evicted.jailed, 1);
  } finally {
    chain.setRelay(withdrawn, 5n * 100_000n * TOP);
    chain.setRelay(jailed, 2n * 100_000n * TOP);
  }
});

test('kad-dht can be switched on: it runs under the topvpn protocol id', async () => {
  const a = await newHost({ dht: true });
  const b = await newHost({ dht: true, bootstrap: [a.node.multiaddrs()[0]!] });
  assert.ok(a.node.libp2p.services.dht !== undefined);
  assert.ok(a.node.libp2p.getProtocols().some((p) => p.startsWith(DHT_PROTOCOL)));
  await waitUntil('dht peers connected', () => b.transport.peers().includes(a.node.peerId), { timeoutMs: 10_000 });
  assert.equal(relays[0]!.node.libp2p.services.dht, undefined, 'off by default');
});
