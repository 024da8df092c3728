/** Relays and a client on the in-memory transport: publishing, forwarding, refresh, chain filtering. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../common/clock.js';
import { MapChainView } from '../../../discovery/chain-view.js';
import { Directory } from '../../../discovery/directory.js';
import { DescriptorPublisher, PublisherConfigError } from '../../../discovery/publisher.js';
import { MemoryNetwork, type MemoryTransport } from '../../../discovery/transport-memory.js';
import { decodeDescriptor, verifyDescriptor } from '../../../protocol/descriptor.js';
import { waitUntil } from '../../helpers/wait.js';
import { CHAIN, T0, TOP, flush, forged, testRelay, type TestRelay } from './fixtures.js';

const LIFETIME = 30 * 60_000;
const REFRESH = 10 * 60_000;
const TTL = 60_000;
const SWEEP = 15_000;

interface RelayNode {
  relay: TestRelay;
  transport: MemoryTransport;
  directory: Directory;
  publisher: DescriptorPublisher;
}

interface World {
  clock: ManualClock;
  chain: MapChainView;
  net: MemoryNetwork;
  relays: RelayNode[];
  client: { transport: MemoryTransport; directory: Directory };
  stop(): Promise<void>;
}

function directory(clock: ManualClock, chain: MapChainView): Directory {
  return new Directory({ chainId: CHAIN, chain, clock, chainTtlMs: TTL, sweepIntervalMs: SWEEP });
}

async function world(n: number): Promise<World> {
  const clock = new ManualClock(0, T0);
  const chain = new MapChainView();
  const net = new MemoryNetwork();
  const relays: RelayNode[] = [];
  for (let i = 0; i < n; i++) {
    const relay = testRelay(i);
    chain.setRelay(relay.address, BigInt(i + 1) * 1000n * TOP);
    const transport = net.create(`relay-${i}`);
    const dir = directory(clock, chain);
    await dir.start();
    dir.attach(transport);
    const publisher = new DescriptorPublisher({ transport, directory: dir, template: () => relay.template, sign: relay.key.sign, clock, lifetimeMs: LIFETIME, refreshIntervalMs: REFRESH });
    relays.push({ relay, transport, directory: dir, publisher });
  }
  const ct = net.create('client');
  const cd = directory(clock, chain);
  await cd.start();
  cd.attach(ct);
  return {
    clock,
    chain,
    net,
    relays,
    client: { transport: ct, directory: cd },
    async stop() {
      for (const r of relays) {
        r.publisher.stop();
        await r.directory.stop();
      }
      await cd.stop();
    },
  };
}

const addrs = (d: Directory): string[] => d.candidates().map((c) => c.descriptor.nodeAddress).sort();

async function advance(w: World, ms: number): Promise<void> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(left, SWEEP);
    w.clock.advance(step);
    left -= step;
    await flush(10);
  }
}

test('relays published before anyone listened still reach a client with one bootstrap peer (store and forward)', async () => {
  const w = await world(5);
  try {
    for (const r of w.relays) await r.publisher.start();
    for (let i = 0; i + 1 < w.relays.length; i++) w.net.connect(`relay-${i}`, `relay-${i + 1}`); // a line
    w.net.connect('client', 'relay-2');
    const all = w.relays.map((r) => r.relay.address).sort();
    await waitUntil('client sees all 5', () => addrs(w.client.directory).length === 5, { timeoutMs: 5_000, intervalMs: 5 });
    assert.deepEqual(addrs(w.client.directory), all);
    const stakes = new Map(w.client.directory.candidates().map((c) => [c.descriptor.nodeAddress, c.stake]));
    w.relays.forEach((r, i) => assert.equal(stakes.get(r.relay.address), BigInt(i + 1) * 1000n * TOP));
    await waitUntil('every relay holds the others', () => w.relays.every((r) => r.directory.candidates().length >= 4), { timeoutMs: 5_000, intervalMs: 5 });
  } finally {
    await w.stop();
  }
});

test('relays starting after the client joined arrive by gossip', async () => {
  const w = await world(5);
  try {
    for (let i = 0; i + 1 < w.relays.length; i++) w.net.connect(`relay-${i}`, `relay-${i + 1}`);
    w.net.connect('client', 'relay-0');
    await flush(10);
    const syncsBefore = w.client.directory.stats().syncs;
    for (const r of w.relays) await r.publisher.start();
    await waitUntil('client sees all 5', () => addrs(w.client.directory).length === 5, { timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(w.client.directory.stats().syncs, syncsBefore, 'no request was needed: gossip carried them');
  } finally {
    await w.stop();
  }
});

test('refresh keeps relays alive past their lifetime; a withdrawn or jailed relay disappears after the TTL', async () => {
  const w = await world(4);
  try {
    for (let i = 0; i < 4; i++) w.net.connect('client', `relay-${i}`);
    for (const r of w.relays) await r.publisher.start();
    await waitUntil('client sees all 4', () => addrs(w.client.directory).length === 4, { timeoutMs: 5_000, intervalMs: 5 });
    const firstExpiry = w.client.directory.candidates()[0]!.descriptor.expiresAt;
    await advance(w, 3 * LIFETIME);
    assert.equal(addrs(w.client.directory).length, 4, 'refreshed descriptors never expired');
    for (const c of w.client.directory.candidates()) {
      assert.ok(c.descriptor.expiresAt > firstExpiry + 2 * LIFETIME);
      assert.equal(c.descriptor.expiresAt - c.descriptor.publishedAt, LIFETIME);
    }
    assert.ok(w.relays.every((r) => r.publisher.published >= 1 + Math.floor((3 * LIFETIME) / REFRESH)));

    const [withdrawn, jailed] = [w.relays[1]!.relay.address, w.relays[2]!.relay.address];
    w.chain.setRelay(withdrawn, 0n);
    w.chain.set(jailed, { registered: true, role: 'relay', stake: TOP, jailed: true });
    await advance(w, TTL + SWEEP);
    assert.deepEqual(addrs(w.client.directory), [w.relays[0]!.relay.address, w.relays[3]!.relay.address].sort());
    const s = w.client.directory.stats();
    assert.equal(s.evicted.unstaked, 1);
    assert.equal(s.evicted.jailed, 1);
    // Their refreshed descriptors keep being refused.
    await advance(w, REFRESH);
    assert.equal(addrs(w.client.directory).length, 2);
    assert.ok(w.client.directory.stats().rejected.unstaked >= 1);
    assert.ok(w.client.directory.stats().rejected.jailed >= 1);
  } finally {
    await w.stop();
  }
});

test('without refresh, a relay that stops publishing expires from the client', async () => {
  const w = await world(2);
  try {
    w.net.connect('client', 'relay-0');
    w.net.connect('client', 'relay-1');
    for (const r of w.relays) await r.publisher.start();
    await waitUntil('client sees both', () => addrs(w.client.directory).length === 2, { timeoutMs: 5_000, intervalMs: 5 });
    w.relays[0]!.publisher.stop();
    await advance(w, LIFETIME + SWEEP);
    assert.deepEqual(addrs(w.client.directory), [w.relays[1]!.relay.address]);
    assert.equal(w.client.directory.stats().evicted.expired, 1);
  } finally {
    await w.stop();
  }
});

test('forged and foreign-chain descriptors are rejected, counted and not forwarded', async () => {
  const w = await world(2);
  try {
    w.net.connect('relay-0', 'relay-1');
    w.net.connect('client', 'relay-0');
    for (const r of w.relays) await r.publisher.start();
    await waitUntil('client sees both', () => addrs(w.client.directory).length === 2, { timeoutMs: 5_000, intervalMs: 5 });

    const rogue = w.net.create('rogue');
    const victim = w.relays[1]!.relay;
    const fake = forged(victim.descriptor(T0 + 5));
    const other = testRelay(9);
    w.chain.setRelay(other.address, TOP);
    const foreign = other.bytes(T0, LIFETIME, { chainId: 'another-chain' });
    rogue.serve(() => [fake, foreign]);
    w.net.connect('rogue', 'client');
    w.net.connect('rogue', 'relay-1');
    await waitUntil('client asked the rogue', () => w.client.directory.stats().rejected['wrong-chain'] >= 1, { timeoutMs: 5_000, intervalMs: 5 });
    const fake2 = forged(victim.descriptor(T0 + 6));
    await rogue.publish(w.client.directory.topic, fake2);
    await waitUntil('gossiped forgery seen', () => w.client.directory.stats().rejected['bad-signature'] >= 2, { timeoutMs: 5_000, intervalMs: 5 });
    const s = w.client.directory.stats();
    assert.ok(s.rejected['bad-signature'] >= 2);
    assert.ok(s.rejected['wrong-chain'] >= 1);
    // The victim's real descriptor is still the one held; the other-chain relay is absent.
    const held = w.client.directory.candidates().find((c) => c.descriptor.nodeAddress === victim.address)!;
    assert.ok(verifyDescriptor(held.descriptor, w.clock.wallMs(), { chainId: CHAIN }).ok);
    assert.ok(!addrs(w.client.directory).includes(other.address));
    // relay-1 rejected the gossiped forgery it got from the rogue... and relay-0 never saw it.
    assert.equal(w.relays[0]!.directory.stats().rejected['bad-signature'], 0);
  } finally {
    await w.stop();
  }
});

test('publisher: republish re-signs with a strictly later publishedAt and the configured lifetime', async () => {
  const clock = new ManualClock(0, T0);
  const chain = new MapChainView();
  const net = new MemoryNetwork();
  const t = net.create('r');
  const relay = testRelay(1);
  const dir = new Directory({ chainId: CHAIN, chain, clock });
  dir.attach(t);
  const p = new DescriptorPublisher({ transport: t, directory: dir, template: () => relay.template, sign: relay.key.sign, clock, lifetimeMs: LIFETIME, refreshIntervalMs: REFRESH });
  const d1 = await p.start();
  const d2 = await p.republish();
  assert.ok(d2.publishedAt > d1.publishedAt);
  assert.equal(d2.expiresAt - d2.publishedAt, LIFETIME);
  assert.equal(d1.publishedAt, T0);
  // What the relay serves is its current descriptor, valid for this chain.
  const served = dir.servable().map((b) => decodeDescriptor(b));
  assert.equal(served.length, 1);
  assert.deepEqual(served[0], d2);
  assert.ok(verifyDescriptor(served[0]!, clock.wallMs(), { chainId: CHAIN }).ok);
  clock.advance(REFRESH);
  await flush();
  assert.ok(p.current()!.publishedAt >= T0 + REFRESH);
  p.stop();
  assert.throws(() => new DescriptorPublisher({ transport: t, directory: dir, template: () => relay.template, sign: relay.key.sign, lifetimeMs: 60_000, refreshIntervalMs: 60_000 }), PublisherConfigError);
  assert.throws(() => new DescriptorPublisher({ transport: t, directory: dir, template: () => relay.template, sign: relay.key.sign, lifetimeMs: 25 * 3600_000, refreshIntervalMs: 60_000 }), PublisherConfigError);
});

test('a client whose chain view is unreachable holds relays pending until the chain answers', async () => {
  const w = await world(2);
  try {
    w.chain.failWith = new Error('chain rpc down');
    w.net.connect('client', 'relay-0');
    w.net.connect('client', 'relay-1');
    for (const r of w.relays) await r.publisher.start();
    await waitUntil('client holds both', () => w.client.directory.size === 2, { timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(w.client.directory.candidates().length, 0);
    w.chain.failWith = undefined;
    await advance(w, SWEEP);
    assert.equal(w.client.directory.candidates().length, 2);
  } finally {
    await w.stop();
  }
});
