import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoPathError, exitAllows, formatTop, hopInfo, selectPath, type PathConstraints, type RelayCandidate } from '../../../client/path/select.js';
import { ineligibility, related, relayWeight } from '../../../client/path/relays.js';
import { seededRng } from '../../../client/path/rng.js';
import { T0, TOP, addressOf, operatorId, randomNetwork, relay } from './fixtures.js';

const NOW = T0 + 1000;

/** Every rule a path must obey, checked independently of the selector. */
function assertPathOk(path: RelayCandidate[], all: readonly RelayCandidate[], c: PathConstraints, guards?: readonly string[]): void {
  assert.equal(path.length, c.hops);
  const exclude = new Set(c.exclude ?? []);
  for (const h of path) {
    assert.ok(all.includes(h));
    assert.equal(h.jailed, false, 'jailed relay used');
    assert.ok(h.stake > 0n, 'unstaked relay used');
    assert.ok(h.descriptor.expiresAt > NOW, 'expired descriptor used');
    assert.ok(!exclude.has(h.descriptor.nodeAddress), 'excluded relay used');
    if (c.maxPricePerGiB !== undefined) assert.ok(h.descriptor.pricePerGiB <= c.maxPricePerGiB, 'over price');
  }
  const exit = path[path.length - 1]!;
  if (c.exitCountry !== undefined) assert.equal(exit.descriptor.region, c.exitCountry);
  assert.ok(exitAllows(exit, c.destination ?? { port: 443 }), 'exit policy refuses the destination');
  for (let i = 0; i < path.length; i++) {
    for (let j = i + 1; j < path.length; j++) {
      const a = path[i]!.descriptor;
      const b = path[j]!.descriptor;
      assert.notEqual(a.nodeAddress, b.nodeAddress);
      assert.notEqual(a.operator, b.operator, 'same operator');
      assert.ok(!a.family.includes(b.nodeAddress) && !b.family.includes(a.nodeAddress), 'same family');
      assert.notEqual(a.endpoints.udp.split('.').slice(0, 2).join('.'), b.endpoints.udp.split('.').slice(0, 2).join('.'), 'same /16');
    }
  }
  if (guards !== undefined && c.hops >= 2) assert.ok(guards.includes(path[0]!.descriptor.nodeAddress), 'entry is not a guard');
}

/** Brute force: does any valid path exist? (entry among guards when given; first usable guard order is not required). */
function pathExists(all: readonly RelayCandidate[], c: PathConstraints, guards?: readonly string[]): boolean {
  const exclude = new Set(c.exclude ?? []);
  const ok = all.filter((r) => ineligibility(r, { nowMs: NOW, exclude }) === null && (c.maxPricePerGiB === undefined || r.descriptor.pricePerGiB <= c.maxPricePerGiB));
  const exits = ok.filter((r) => (c.exitCountry === undefined || r.descriptor.region === c.exitCountry) && exitAllows(r, c.destination ?? { port: 443 }));
  if (c.hops === 1) return exits.length > 0;
  const entries = guards === undefined ? ok : ok.filter((r) => guards.includes(r.descriptor.nodeAddress));
  for (const e of exits) {
    for (const g of entries) {
      if (related(g, e)) continue;
      if (c.hops === 2) return true;
      if (ok.some((m) => !related(m, e) && !related(m, g))) return true;
    }
  }
  return false;
}

test('property: constraints always honoured; NoPathError exactly when no valid path exists', () => {
  const rng = seededRng('networks');
  let found = 0;
  let none = 0;
  for (let net = 0; net < 60; net++) {
    const all = randomNetwork(rng, 6 + Math.floor(rng() * 14), `n${net}`);
    for (let k = 0; k < 10; k++) {
      const c: PathConstraints = { hops: 1 + Math.floor(rng() * 3) };
      if (rng() < 0.5) c.exitCountry = ['DE', 'US', 'NL'][Math.floor(rng() * 3)]!;
      if (rng() < 0.5) c.maxPricePerGiB = BigInt(Math.floor(rng() * 10)) * TOP;
      if (rng() < 0.3) c.destination = { address: '8.8.8.8', port: [443, 80, 22][Math.floor(rng() * 3)]! };
      if (rng() < 0.3) c.exclude = [all[Math.floor(rng() * all.length)]!.descriptor.nodeAddress];
      const guards = rng() < 0.5 ? all.filter(() => rng() < 0.3).map((r) => r.descriptor.nodeAddress) : undefined;
      const exists = pathExists(all, c, guards);
      try {
        const p = selectPath(all, c, { nowMs: NOW, rng: seededRng(`${net}-${k}`), ...(guards ? { guards } : {}) });
        assertPathOk(p.hops, all, c, guards);
        assert.equal(p.exit, p.hops[p.hops.length - 1]);
        assert.equal(p.entry, p.hops[0]);
        assert.ok(exists);
        found++;
      } catch (err) {
        if (!(err instanceof NoPathError)) throw err;
        assert.equal(exists, false, `NoPathError "${err.reason}" but a path exists (net ${net}, case ${k})`);
        none++;
      }
    }
  }
  // Both outcomes were exercised.
  assert.ok(found > 100 && none > 20, `found ${found}, none ${none}`);
});

test('weighting: higher stake is picked more often (1:2:4)', () => {
  const relays = [1n, 2n, 4n].map((m, i) => relay(`stake-${i}`, { ip: `20.${i}.0.1`, stake: m * 100_000n * TOP }));
  const counts = [0, 0, 0];
  const rng = seededRng('stake');
  const N = 7000;
  for (let i = 0; i < N; i++) counts[relays.indexOf(selectPath(relays, { hops: 1 }, { nowMs: NOW, rng }).exit)]!++;
  // Expected 1000 / 2000 / 4000.
  assert.ok(counts[0]! > 800 && counts[0]! < 1200, `${counts}`);
  assert.ok(counts[1]! > 1700 && counts[1]! < 2300, `${counts}`);
  assert.ok(counts[2]! > 3600 && counts[2]! < 4400, `${counts}`);
});

test('weighting: measured bandwidth counts, latency is penalised, unmeasured claims are capped', () => {
  const fast = relay('bw-fast', { ip: '21.0.0.1', measuredBps: 40_000_000, latencyMs: 0 });
  const slow = relay('bw-slow', { ip: '21.1.0.1', measuredBps: 10_000_000, latencyMs: 0 });
  const far = relay('bw-far', { ip: '21.2.0.1', measuredBps: 40_000_000, latencyMs: 300 });
  const liar = relay('bw-liar', { ip: '21.3.0.1', bandwidthBps: 10_000_000_000 });
  assert.equal(relayWeight(fast) / relayWeight(slow), 4);
  assert.equal(relayWeight(fast) / relayWeight(far), 4);
  // Unmeasured: at most 10 Mbit/s and the default 100 ms latency.
  assert.equal(relayWeight(liar), relayWeight(relay('bw-unmeasured', { ip: '21.4.0.1', bandwidthBps: 10_000_000 })));
  assert.ok(relayWeight(liar) < relayWeight(slow));
  const counts = new Map<RelayCandidate, number>();
  const rng = seededRng('bw');
  for (let i = 0; i < 5000; i++) {
    const e = selectPath([fast, slow, far], { hops: 1 }, { nowMs: NOW, rng }).exit;
    counts.set(e, (counts.get(e) ?? 0) + 1);
  }
  // Weights 4 : 1 : 1 → about 3333 / 833 / 833.
  assert.ok(counts.get(fast)! > 3000, `${[...counts.values()]}`);
  assert.ok(counts.get(slow)! > 600 && counts.get(slow)! < 1100);
  assert.ok(counts.get(far)! > 600 && counts.get(far)! < 1100);
});

test('never a jailed, unstaked, expired or excluded relay, however heavy', () => {
  const jailed = relay('bad-jailed', { ip: '30.0.0.1', stake: 10n ** 9n * TOP, jailed: true });
  const unstaked = relay('bad-unstaked', { ip: '30.1.0.1', stake: 0n, measuredBps: 1e9, latencyMs: 0 });
  const expired = relay('bad-expired', { ip: '30.2.0.1', stake: 10n ** 9n * TOP }, NOW - 4 * 3600_000);
  const dead = relay('bad-dead', { ip: '30.3.0.1', stake: 10n ** 9n * TOP });
  const fine = [0, 1, 2, 3].map((i) => relay(`good-${i}`, { ip: `31.${i}.0.1` }));
  const all = [jailed, unstaked, expired, dead, ...fine];
  const rng = seededRng('bad');
  for (let i = 0; i < 300; i++) {
    const p = selectPath(all, { hops: 3, exclude: [dead.descriptor.nodeAddress] }, { nowMs: NOW, rng });
    for (const h of p.hops) assert.ok(fine.includes(h));
  }
  // minStake raises the bar: below it counts as unstaked.
  assert.throws(() => selectPath(fine, { hops: 1, minStake: 300_000n * TOP }, { nowMs: NOW }), NoPathError);
});

test('family, operator, on-chain owner and /16 keep hops apart', () => {
  const exit = relay('fam-exit', { ip: '40.1.0.1', region: 'NL' });
  const sameSlash16 = relay('fam-16', { ip: '40.1.200.9', region: 'DE', policy: [] });
  const sameOperator = relay('fam-op', { ip: '41.0.0.1', region: 'DE', policy: [], operator: exit.descriptor.operator });
  const declaresFamily = relay('fam-decl', { ip: '42.0.0.1', region: 'DE', policy: [], family: [addressOf('fam-exit')] });
  const sameOwner = relay('fam-owner', { ip: '43.0.0.1', region: 'DE', policy: [], owner: exit.descriptor.operator });
  const ok = relay('fam-ok', { ip: '44.0.0.1', region: 'DE', policy: [] });
  const all = [exit, sameSlash16, sameOperator, declaresFamily, sameOwner, ok];
  const rng = seededRng('fam');
  for (let i = 0; i < 200; i++) {
    const p = selectPath(all, { hops: 2 }, { nowMs: NOW, rng });
    assert.equal(p.exit, exit);
    assert.equal(p.entry, ok);
  }
  assert.throws(
    () => selectPath(all, { hops: 3 }, { nowMs: NOW, rng }),
    (e: unknown) => e instanceof NoPathError && /middle/.test(e.reason),
  );
  // With a guard related to the only exit, there is no path at all.
  assert.throws(
    () => selectPath(all, { hops: 2 }, { nowMs: NOW, rng, guards: [sameSlash16.descriptor.nodeAddress] }),
    (e: unknown) => e instanceof NoPathError && /guard/.test(e.reason),
  );
});

test('guards: the entry is the first usable primary guard unrelated to the exit', () => {
  const exit = relay('g-exit', { ip: '50.0.0.1', region: 'SE' });
  const g1 = relay('g-1', { ip: '50.0.9.9', policy: [] }); // same /16 as the exit
  const g2 = relay('g-2', { ip: '51.0.0.1', policy: [] });
  const g3 = relay('g-3', { ip: '52.0.0.1', policy: [] });
  const mid = relay('g-mid', { ip: '53.0.0.1', policy: [], stake: 10n ** 7n * TOP });
  const all = [exit, g1, g2, g3, mid];
  const guards = [g1, g2, g3].map((g) => g.descriptor.nodeAddress);
  const rng = seededRng('guards');
  for (let i = 0; i < 100; i++) {
    const p = selectPath(all, { hops: 3 }, { nowMs: NOW, rng, guards });
    assert.equal(p.entry, g2);
    assert.equal(p.exit, exit);
  }
  // g2 dead → g3.
  const p = selectPath(all, { hops: 3, exclude: [g2.descriptor.nodeAddress] }, { nowMs: NOW, rng, guards });
  assert.equal(p.entry, g3);
  assert.deepEqual(p.hops, [g3, mid, exit]);
});

test('clear errors', () => {
  const de = relay('err-de', { ip: '60.0.0.1', region: 'DE', price: 8n * TOP });
  const us = relay('err-us', { ip: '60.1.0.1', region: 'US', price: 1n * TOP });
  const reason = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof NoPathError) return e.reason;
      throw e;
    }
    assert.fail('expected NoPathError');
  };
  const r = reason(() => selectPath([de, us], { hops: 1, exitCountry: 'DE', maxPricePerGiB: 5n * TOP }, { nowMs: NOW }));
  assert.match(r, /^no exit in country DE at or under 5 TOP\/GiB whose exit policy allows a public address:443/);
  assert.match(r, /1 above the price limit/);
  assert.match(r, /1 in other countries/);
  assert.match(reason(() => selectPath([], { hops: 3 }, { nowMs: NOW })), /no relays known/);
  assert.match(reason(() => selectPath([de], { hops: 4 }, { nowMs: NOW })), /hops must be 1\.\.3/);
  assert.match(reason(() => selectPath([de], { hops: 0 }, { nowMs: NOW })), /hops must be 1\.\.3/);
  assert.match(reason(() => selectPath([de, us], { hops: 2 }, { nowMs: NOW, guards: [operatorId(7)] })), /primary guards/);
  const web = relay('err-web', { ip: '60.2.0.1', policy: ['accept *:80', 'reject *:*'] });
  assert.match(reason(() => selectPath([web], { hops: 1, destination: { address: '8.8.8.8', port: 22 } }, { nowMs: NOW })), /allows 8\.8\.8\.8:22 .*1 whose exit policy refuses it/);
  assert.equal(formatTop(2_500_000n), '2.5');
  assert.equal(formatTop(5n * TOP), '5');
  assert.equal(formatTop(1n), '0.000001');
});

test('destination: an explicit address is checked against the exit policy', () => {
  const noGoogle = relay('d-1', { ip: '70.0.0.1', policy: ['reject 8.8.8.0/24:*', 'accept *:*'] });
  const any = relay('d-2', { ip: '70.1.0.1', policy: ['accept *:*'], stake: 1n });
  const rng = seededRng('dest');
  for (let i = 0; i < 50; i++) {
    assert.equal(selectPath([noGoogle, any], { hops: 1, destination: { address: '8.8.8.8', port: 443 } }, { nowMs: NOW, rng }).exit, any);
  }
  assert.equal(exitAllows(noGoogle, { address: '1.1.1.1', port: 443 }), true);
  assert.equal(exitAllows(noGoogle, { address: 'not-an-ip', port: 443 }), false);
});

test('hopInfo gives the circuit builder endpoint and onion key', () => {
  const r = relay('hop', { ip: '80.1.2.3' });
  const h = hopInfo(r);
  assert.deepEqual(h.endpoint, { host: '80.1.2.3', port: 51820 });
  assert.equal(Buffer.from(h.staticPublic).toString('hex'), 'ab'.repeat(32));
});
