/** client/path/discovered.ts: connect's discovery flags, candidate → RelaySpec, planPath with guards and constraints. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { candidateToSpec, DEFAULT_DISCOVERY_TIMEOUT_SEC, middleSpares, parseDiscoveryConnectFlags, planPath } from '../../../client/path/discovered.js';
import { GuardSet } from '../../../client/path/guards.js';
import { seededRng } from '../../../client/path/rng.js';
import { NoPathError } from '../../../client/path/select.js';
import { addressOf, operatorId, relay, T0, TOP } from './fixtures.js';

const MA = '/ip4/198.18.0.11/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf';
const RPC = 'http://198.18.0.200:30001';

test('discovery flags: bootstrap and chain required, constraints parsed, guards default / file / off', () => {
  const c = parseDiscoveryConnectFlags({ bootstrap: [MA, `${MA},${MA}`], chainRpc: RPC, exitCountry: 'de', maxPrice: '2.5', exitPort: '80', allowSameSubnet: true }, '/g.json');
  assert.equal(c.bootstrap.length, 3);
  assert.deepEqual(c.constraints, { exitCountry: 'DE', maxPricePerGiB: 2_500_000n, destination: { port: 80 }, distinctSubnets: false });
  assert.equal(c.guardsFile, '/g.json');
  assert.equal(c.timeoutMs, DEFAULT_DISCOVERY_TIMEOUT_SEC * 1000);
  assert.equal(c.recheckMs, 60_000);
  assert.equal(parseDiscoveryConnectFlags({ bootstrap: MA, chainRpc: RPC, guardFile: '/x' }, '/g.json').guardsFile, '/x');
  assert.equal(parseDiscoveryConnectFlags({ bootstrap: MA, chainRpc: RPC, guards: false }, '/g.json').guardsFile, undefined);
  assert.equal(parseDiscoveryConnectFlags({ bootstrap: MA, chainRpc: RPC, maxPrice: '500u' }, '/g').constraints.maxPricePerGiB, 500n);
  assert.equal(parseDiscoveryConnectFlags({ bootstrap: MA, chainRpc: RPC }, '/g').constraints.distinctSubnets, undefined, 'distinct /16s by default');
  const bad: Array<[Parameters<typeof parseDiscoveryConnectFlags>[0], RegExp]> = [
    [{ chainRpc: RPC }, /--relays FILE\|LIST, or --bootstrap/],
    [{ bootstrap: '/ip4/1.2.3.4/tcp/1', chainRpc: RPC }, /\/p2p\//],
    [{ bootstrap: MA }, /--chain-rpc/],
    [{ bootstrap: MA, chainRpc: RPC, exitCountry: 'XX' }, /--exit-country/],
    [{ bootstrap: MA, chainRpc: RPC, maxPrice: 'cheap' }, /--max-price/],
    [{ bootstrap: MA, chainRpc: RPC, exitPort: '70000' }, /--exit-port/],
    [{ bootstrap: MA, chainRpc: RPC, discoveryTimeout: '0' }, /--discovery-timeout/],
    [{ bootstrap: MA, chainRpc: RPC, guards: false, guardFile: '/x' }, /exclude each other/],
  ];
  for (const [f, re] of bad) assert.throws(() => parseDiscoveryConnectFlags(f, '/g'), (e: Error) => (e.name === 'ConfigError' || (e.name === 'UsageError' && f.bootstrap === undefined)) && re.test(e.message), JSON.stringify(f));
});

test('candidateToSpec: endpoint, onion key, chain address and price for the daemon and the channels', () => {
  const c = relay('spec-a', { ip: '198.18.5.7', price: 7n * TOP });
  const s = candidateToSpec(c);
  assert.deepEqual(s.endpoint, { host: '198.18.5.7', port: 51820 });
  assert.equal(Buffer.from(s.publicKey).toString('hex'), 'ab'.repeat(32));
  assert.equal(s.address, addressOf('spec-a'));
  assert.equal(s.pricePerGiB, 7n * TOP);
});

/** Five relays in one /16 as on the netns testnet: two DE exits (one dear), an FR exit, two non-exits of one operator. */
function testnet(): ReturnType<typeof relay>[] {
  const shared = operatorId(42);
  return [
    relay('tn-de', { ip: '198.18.0.11', region: 'DE', price: 1000n * TOP }),
    relay('tn-fr', { ip: '198.18.0.12', region: 'FR', price: 1000n * TOP }),
    relay('tn-nl1', { ip: '198.18.0.13', region: 'NL', price: 1000n * TOP, policy: [], operator: shared }),
    relay('tn-nl2', { ip: '198.18.0.14', region: 'NL', price: 1000n * TOP, policy: [], operator: shared }),
    relay('tn-de9', { ip: '198.18.0.15', region: 'DE', price: 9000n * TOP }),
  ];
}

test('planPath: one /16 needs distinctSubnets false; then country, price and operator hold on every draw', () => {
  const cands = testnet();
  assert.throws(() => planPath(cands, { hops: 3, constraints: {}, nowMs: T0 + 1 }), NoPathError, 'all in one /16: no path unless allowed');
  const rng = seededRng('plan');
  const seenExits = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const de = planPath(cands, { hops: 3, constraints: { exitCountry: 'DE', distinctSubnets: false }, nowMs: T0 + 1, rng });
    assert.equal(de.selected.exit.descriptor.region, 'DE');
    seenExits.add(de.selected.exit.descriptor.nodeAddress);
    const ops = de.selected.hops.map((h) => h.descriptor.operator);
    assert.equal(new Set(ops).size, 3);
    assert.deepEqual(de.specs.map((s) => s.address), de.selected.hops.map((h) => h.descriptor.nodeAddress));
    const cheap = planPath(cands, { hops: 3, constraints: { maxPricePerGiB: 2000n * TOP, distinctSubnets: false }, nowMs: T0 + 1, rng });
    assert.ok(cheap.selected.hops.every((h) => h.descriptor.pricePerGiB <= 2000n * TOP));
    assert.equal(new Set(cheap.selected.hops.map((h) => h.descriptor.operator)).size, 3);
  }
  assert.deepEqual(seenExits, new Set([addressOf('tn-de'), addressOf('tn-de9')]), 'both DE exits get drawn');
  // Without the FR exit, a cheap path needs both NL relays: one operator, refused.
  const noFr = cands.filter((c) => c.descriptor.nodeAddress !== addressOf('tn-fr'));
  assert.throws(() => planPath(noFr, { hops: 3, constraints: { maxPricePerGiB: 2000n * TOP, distinctSubnets: false }, nowMs: T0 + 1, rng }), (e: Error) => e instanceof NoPathError && /related/.test(e.message));
  assert.throws(() => planPath(noFr, { hops: 3, constraints: { exitCountry: 'FR', distinctSubnets: false }, nowMs: T0 + 1, rng }), (e: Error) => e instanceof NoPathError && /country FR/.test(e.message));
});

test('planPath with guards: entry pinned to a saved primary guard; falls back (and says so) when the price rules out every guard', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tn5-guards-'));
  try {
    const file = join(dir, 'guards.json');
    const cands = testnet();
    const guards = GuardSet.load(file, { clock: { wallMs: () => T0 + 1 }, rng: seededRng('g') });
    const p = planPath(cands, { hops: 3, constraints: { distinctSubnets: false }, nowMs: T0 + 1, guards, rng: seededRng('p') });
    assert.equal(p.guardFallback, false);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { guards: Array<{ address: string }> };
    assert.equal(saved.guards.length, 3, 'three primary guards chosen and saved');
    assert.ok(guards.primary().includes(p.selected.entry.descriptor.nodeAddress), 'the entry is a primary guard');
    assert.deepEqual(p.guardUpdate?.added.length, 3);

    // Only the dear DE relay and non-guards below the price: pin the guards to dear relays only.
    const dear = [relay('dear-1', { ip: '198.18.0.21', price: 50n * TOP, policy: [] }), relay('dear-2', { ip: '198.18.0.22', price: 50n * TOP, policy: [] }), relay('dear-3', { ip: '198.18.0.23', price: 50n * TOP, policy: [] })];
    const g2 = new GuardSet([], { clock: { wallMs: () => T0 + 1 }, rng: seededRng('g2') });
    g2.refresh(dear, { distinctSubnets: false });
    assert.equal(g2.primary().length, 3);
    const cheapWorld = [...dear, relay('c-1', { ip: '198.18.0.31', price: 1n * TOP }), relay('c-2', { ip: '198.18.0.32', price: 1n * TOP }), relay('c-3', { ip: '198.18.0.33', price: 1n * TOP })];
    const fb = planPath(cheapWorld, { hops: 3, constraints: { maxPricePerGiB: 2n * TOP, distinctSubnets: false }, nowMs: T0 + 1, guards: g2, rng: seededRng('fb') });
    assert.equal(fb.guardFallback, true);
    assert.ok(fb.selected.hops.every((h) => h.descriptor.pricePerGiB <= 2n * TOP));
    assert.deepEqual(g2.primary().length, 3, 'the guards are kept, not churned by a price limit');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('spare middles: off the path, unrelated to entry and exit, within the price; none for short paths', () => {
  const shared = operatorId(7);
  const cands = [
    relay('sp-entry', { ip: '10.1.0.1' }),
    relay('sp-mid', { ip: '10.2.0.1' }),
    relay('sp-exit', { ip: '10.3.0.1', operator: shared }),
    relay('sp-ok1', { ip: '10.4.0.1' }),
    relay('sp-ok2', { ip: '10.5.0.1' }),
    relay('sp-sameop', { ip: '10.6.0.1', operator: shared }),
    relay('sp-sub16', { ip: '10.1.9.9' }),
    relay('sp-dear', { ip: '10.7.0.1', price: 99n * TOP }),
    relay('sp-jailed', { ip: '10.8.0.1', jailed: true }),
  ];
  const get = (n: string): (typeof cands)[number] => cands.find((c) => c.descriptor.nodeAddress === addressOf(n))!;
  const path = { hops: [get('sp-entry'), get('sp-mid'), get('sp-exit')], entry: get('sp-entry'), exit: get('sp-exit') };
  for (let i = 0; i < 20; i++) {
    const sp = middleSpares(cands, path, { constraints: { maxPricePerGiB: 10n * TOP }, nowMs: T0 + 1, n: 5, rng: seededRng(i) });
    assert.deepEqual(new Set(sp.map((c) => c.descriptor.nodeAddress)), new Set([addressOf('sp-ok1'), addressOf('sp-ok2')]));
  }
  assert.equal(middleSpares(cands, path, { constraints: {}, nowMs: T0 + 1, n: 1 }).length, 1, 'at most n');
  assert.deepEqual(middleSpares(cands, { hops: [get('sp-entry'), get('sp-exit')], entry: get('sp-entry'), exit: get('sp-exit') }, { constraints: {}, nowMs: T0 + 1, n: 3 }), []);
  const plan = planPath(cands, { hops: 3, constraints: {}, nowMs: T0 + 1, rng: seededRng('s'), spares: 2 });
  const inPath = new Set(plan.specs.map((x) => x.address));
  assert.ok(plan.spares.length > 0 && plan.spares.every((x) => !inPath.has(x.address)));
});
