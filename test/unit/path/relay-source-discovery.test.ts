/** client/path/relay-source-discovery.ts: replacements for a hop from a (fake) live directory, under the path constraints. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { relayKey, repath } from '../../../client/circuit-repath.js';
import { candidateToSpec } from '../../../client/path/discovered.js';
import { DiscoveryRelaySource } from '../../../client/path/relay-source-discovery.js';
import type { RelayCandidate } from '../../../client/path/relays.js';
import { seededRng } from '../../../client/path/rng.js';
import { addressOf, operatorId, relay, T0, TOP, type RelaySpec as FixtureSpec } from './fixtures.js';

/** A fixture relay with its own onion key (the fixtures share one). */
function r(name: string, spec: FixtureSpec, n: number): RelayCandidate {
  const c = relay(name, spec);
  return { ...c, descriptor: { ...c.descriptor, onionKey: n.toString(16).padStart(64, '0') } };
}

/** A directory whose set the test changes, as the live one changes. */
class FakeDirectory {
  constructor(public set: RelayCandidate[]) {}
  candidates(): RelayCandidate[] {
    return this.set;
  }
}

const entry = r('rs-entry', { ip: '10.1.0.1', operator: operatorId(1) }, 1);
const middle = r('rs-middle', { ip: '10.2.0.1', operator: operatorId(2) }, 2);
const exit = r('rs-exit', { ip: '10.3.0.1', operator: operatorId(3), region: 'DE' }, 3);
const path = [entry, middle, exit].map(candidateToSpec);
const noExclude = new Set(path.map(relayKey));

test('exit role: country, exit policy (port), price and relatedness to the hops that stay', () => {
  const good = r('rs-good', { ip: '10.4.0.1', operator: operatorId(4), region: 'DE' }, 4);
  const dir = new FakeDirectory([
    entry,
    middle,
    exit,
    good,
    r('rs-fr', { ip: '10.5.0.1', operator: operatorId(5), region: 'FR' }, 5),
    r('rs-dear', { ip: '10.6.0.1', operator: operatorId(6), region: 'DE', price: 9n * TOP }, 6),
    r('rs-no443', { ip: '10.7.0.1', operator: operatorId(7), region: 'DE', policy: ['reject *:443', 'accept *:*'] }, 7),
    r('rs-sameop', { ip: '10.8.0.1', operator: operatorId(1), region: 'DE' }, 8),
    r('rs-samenet', { ip: '10.2.9.9', operator: operatorId(9), region: 'DE' }, 9),
    r('rs-family', { ip: '10.10.0.1', operator: operatorId(10), region: 'DE', family: [addressOf('rs-middle')] }, 10),
    r('rs-jailed', { ip: '10.11.0.1', operator: operatorId(11), region: 'DE', jailed: true }, 11),
    r('rs-unstaked', { ip: '10.12.0.1', operator: operatorId(12), region: 'DE', stake: 0n }, 12),
  ]);
  const src = new DiscoveryRelaySource({ directory: dir, constraints: { exitCountry: 'DE', maxPricePerGiB: 2n * TOP, chainId: 'topvpn-devnet' }, nowMs: () => T0, rng: seededRng(1) });
  const got = src.candidates('exit', noExclude, path);
  assert.deepEqual(got.map((s) => s.address), [good.descriptor.nodeAddress]);
  assert.equal(got[0]!.exit, true);
  assert.equal(got[0]!.pricePerGiB, good.descriptor.pricePerGiB);
  assert.equal(relayKey(got[0]!), good.descriptor.onionKey);
  // Without the /16 rule (private testnets) the same-subnet relay qualifies too.
  const loose = new DiscoveryRelaySource({ directory: dir, constraints: { exitCountry: 'DE', maxPricePerGiB: 2n * TOP, distinctSubnets: false }, nowMs: () => T0 });
  assert.deepEqual(new Set(loose.candidates('exit', noExclude, path).map((s) => s.address)), new Set([good.descriptor.nodeAddress, addressOf('rs-samenet')]));
  // A later time: every descriptor expired, nothing qualifies.
  assert.deepEqual(new DiscoveryRelaySource({ directory: dir, constraints: {}, nowMs: () => T0 + 10 * 3600_000 }).candidates('exit', noExclude, path), []);
});

test('entry / middle roles: any usable unrelated relay, no country or policy check; excluded keys and addresses skipped', () => {
  const a = r('rs-a', { ip: '10.20.0.1', operator: operatorId(20), region: 'FR', policy: [] }, 20);
  const b = r('rs-b', { ip: '10.21.0.1', operator: operatorId(21), region: 'US' }, 21);
  const c = r('rs-c', { ip: '10.22.0.1', operator: operatorId(3) }, 22); // the exit's operator
  const dir = new FakeDirectory([entry, middle, exit, a, b, c]);
  const src = new DiscoveryRelaySource({ directory: dir, constraints: { exitCountry: 'DE' }, nowMs: () => T0 });
  assert.deepEqual(new Set(src.candidates('middle', noExclude, path).map((s) => s.address)), new Set([a.descriptor.nodeAddress, b.descriptor.nodeAddress]));
  // Replacing the entry: unrelated to middle and exit; c shares the exit's operator.
  assert.ok(!src.candidates('entry', noExclude, path).some((s) => s.address === c.descriptor.nodeAddress));
  const ex = new Set([...noExclude, a.descriptor.onionKey]);
  assert.deepEqual(src.candidates('middle', ex, path).map((s) => s.address), [b.descriptor.nodeAddress]);
  const byAddr = new DiscoveryRelaySource({ directory: dir, constraints: { exclude: [b.descriptor.nodeAddress] }, nowMs: () => T0 });
  assert.deepEqual(byAddr.candidates('middle', noExclude, path).map((s) => s.address), [a.descriptor.nodeAddress]);
});

test('the live set: a relay that left the directory is no longer offered; repath swaps the dead exit for a live one', async () => {
  const x1 = r('rs-x1', { ip: '10.30.0.1', operator: operatorId(30) }, 30);
  const x2 = r('rs-x2', { ip: '10.31.0.1', operator: operatorId(31) }, 31);
  const dir = new FakeDirectory([entry, middle, exit, x1, x2]);
  const src = new DiscoveryRelaySource({ directory: dir, constraints: {}, nowMs: () => T0 });
  assert.equal(src.candidates('exit', noExclude, path).length, 2);
  dir.set = [entry, middle, exit, x2];
  const rp = await repath(path, src, 2, new Set([relayKey(path[2]!)]));
  assert.equal(rp.replaced?.role, 'exit');
  assert.equal(rp.replaced?.to.address, x2.descriptor.nodeAddress);
  assert.deepEqual(rp.path.slice(0, 2), path.slice(0, 2));
  dir.set = [entry, middle, exit];
  const none = await repath(path, src, 2, new Set([relayKey(path[2]!)]));
  assert.equal(none.replaced, undefined, 'no candidate: the same path');
});

test('order: heavier (stake) relays tend to come first; every qualifying relay is listed once', () => {
  const heavy = r('rs-heavy', { ip: '10.40.0.1', operator: operatorId(40), stake: 1_000_000n * TOP }, 40);
  const light = r('rs-light', { ip: '10.41.0.1', operator: operatorId(41), stake: 1n * TOP }, 41);
  const src = new DiscoveryRelaySource({ directory: new FakeDirectory([heavy, light]), constraints: {}, nowMs: () => T0, rng: seededRng(7) });
  let heavyFirst = 0;
  for (let i = 0; i < 50; i++) {
    const got = src.candidates('middle', new Set(), []);
    assert.equal(got.length, 2);
    if (got[0]!.address === heavy.descriptor.nodeAddress) heavyFirst++;
  }
  assert.ok(heavyFirst > 40, `heavy first ${heavyFirst}/50`);
});
