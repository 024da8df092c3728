import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../common/clock.js';
import {
  GUARD_LIFETIME_JITTER,
  GUARD_LIFETIME_MS,
  GuardSet,
  GuardStateError,
  PRIMARY_GUARDS,
  UNLISTED_GRACE_MS,
  defaultGuardsPath,
} from '../../../client/path/guards.js';
import { related } from '../../../client/path/relays.js';
import { seededRng } from '../../../client/path/rng.js';
import { selectPath, type RelayCandidate } from '../../../client/path/select.js';
import { T0, relay, type RelaySpec } from './fixtures.js';

const DAY = 24 * 3600_000;

/** A network of 12 unrelated relays whose descriptors are republished at the clock's time. */
function network(clock: ManualClock, over: Record<number, Partial<RelaySpec>> = {}, prefix = 'gn'): RelayCandidate[] {
  return Array.from({ length: 12 }, (_, i) => relay(`${prefix}-${i}`, { ip: `${100 + i}.0.0.1`, region: i < 6 ? 'DE' : 'US', ...over[i] }, clock.wallMs()));
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'topvpn-guards-'));
}

test('a fresh set picks 3 unrelated guards, and persists them (atomic, 0600)', (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sub', 'guards.json');
  const clock = new ManualClock(0, T0);
  const gs = GuardSet.load(path, { clock, rng: seededRng('g1') });
  assert.deepEqual(gs.entries(), []);
  const net = network(clock);
  const up = gs.refresh(net);
  assert.equal(up.added.length, PRIMARY_GUARDS);
  const primary = gs.primary();
  assert.equal(primary.length, PRIMARY_GUARDS);
  const cands = primary.map((a) => net.find((c) => c.descriptor.nodeAddress === a)!);
  for (let i = 0; i < cands.length; i++) for (let j = i + 1; j < cands.length; j++) assert.ok(!related(cands[i]!, cands[j]!));
  for (const e of gs.entries()) {
    assert.equal(e.addedAt, T0);
    assert.ok(e.expiresAt <= T0 + GUARD_LIFETIME_MS && e.expiresAt >= T0 + GUARD_LIFETIME_MS * (1 - GUARD_LIFETIME_JITTER));
  }
  gs.save();
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'sub')).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['guards.json']);
  const again = GuardSet.load(path, { clock, rng: seededRng('other seed') });
  assert.deepEqual(again.entries(), gs.entries());
  assert.deepEqual(again.primary(), primary);
  // Refreshing with everything healthy changes nothing, even with a different rng.
  assert.deepEqual(again.refresh(net), { added: [], removed: [] });
  assert.deepEqual(again.primary(), primary);
});

test('guards stay for months and every path enters through the first guard', () => {
  const clock = new ManualClock(0, T0);
  const gs = new GuardSet([], { clock, rng: seededRng('g2') });
  gs.refresh(network(clock));
  const first = gs.primary();
  const rng = seededRng('paths');
  for (let day = 0; day < 100; day += 5) {
    clock.advance(5 * DAY);
    const net = network(clock);
    assert.deepEqual(gs.refresh(net), { added: [], removed: [] }, `day ${day}`);
    assert.deepEqual(gs.primary(), first);
    for (let i = 0; i < 20; i++) {
      const p = selectPath(net, { hops: 3 }, { nowMs: clock.wallMs(), rng, guards: gs.primary() });
      // All relays are mutually unrelated here, so the first guard is used unless it was drawn as the exit.
      assert.equal(p.entry.descriptor.nodeAddress, p.exit.descriptor.nodeAddress === first[0] ? first[1] : first[0]);
    }
  }
});

test('guards rotate out at the end of their lifetime', () => {
  const clock = new ManualClock(0, T0);
  const gs = new GuardSet([], { clock, rng: seededRng('g3') });
  gs.refresh(network(clock));
  const before = gs.primary();
  clock.advance(GUARD_LIFETIME_MS * (1 - GUARD_LIFETIME_JITTER) - DAY);
  assert.deepEqual(gs.refresh(network(clock)).removed, []);
  clock.advance(T0 + GUARD_LIFETIME_MS - clock.wallMs());
  const up = gs.refresh(network(clock));
  assert.deepEqual(
    up.removed.map((r) => r.reason),
    ['lifetime', 'lifetime', 'lifetime'],
  );
  assert.deepEqual(up.removed.map((r) => r.address).sort(), [...before].sort());
  assert.equal(gs.primary().length, PRIMARY_GUARDS);
  for (const e of gs.entries()) assert.equal(e.addedAt, clock.wallMs());
});

test('a jailed, unstaked or expired guard is replaced; the others keep their place', () => {
  const clock = new ManualClock(0, T0);
  const gs = new GuardSet([], { clock, rng: seededRng('g4') });
  let net = network(clock);
  gs.refresh(net);
  const [g0, g1, g2] = gs.primary();
  const idx = (a: string | undefined): number => net.findIndex((c) => c.descriptor.nodeAddress === a);

  net = network(clock, { [idx(g1)]: { jailed: true } });
  let up = gs.refresh(net);
  assert.deepEqual(up.removed, [{ address: g1, reason: 'jailed' }]);
  assert.equal(up.added.length, 1);
  assert.deepEqual(gs.primary().slice(0, 2), [g0, g2]);
  const g3 = gs.primary()[2]!;
  assert.ok(![g0, g1, g2].includes(g3));

  net = network(clock, { [idx(g0)]: { stake: 0n } });
  up = gs.refresh(net);
  assert.deepEqual(up.removed, [{ address: g0, reason: 'unstaked' }]);
  assert.deepEqual(gs.primary().slice(0, 2), [g2, g3]);

  // A descriptor that was not republished expires.
  net = network(clock);
  const stale = net.findIndex((c) => c.descriptor.nodeAddress === g2);
  clock.advance(4 * 3600_000);
  const fresh = network(clock);
  fresh[stale] = net[stale]!;
  up = gs.refresh(fresh);
  assert.deepEqual(up.removed, [{ address: g2, reason: 'descriptor-expired' }]);
  assert.equal(gs.primary().length, PRIMARY_GUARDS);
  assert.equal(gs.primary()[0], g3);
});

test('an unlisted guard is skipped, comes back within the grace period, and is dropped after it', () => {
  const clock = new ManualClock(0, T0);
  const gs = new GuardSet([], { clock, rng: seededRng('g5') });
  gs.refresh(network(clock));
  const [g0, g1, g2] = gs.primary();
  const without = (a: string | undefined): RelayCandidate[] => network(clock).filter((c) => c.descriptor.nodeAddress !== a);

  let up = gs.refresh(without(g0));
  assert.deepEqual(up.removed, []);
  assert.equal(up.added.length, 1);
  const backup = up.added[0]!;
  assert.deepEqual(gs.primary(), [g1, g2, backup]);
  assert.equal(gs.entries().find((e) => e.address === g0)?.unlistedSince, T0);

  clock.advance(UNLISTED_GRACE_MS - DAY);
  gs.refresh(network(clock));
  assert.deepEqual(gs.primary(), [g0, g1, g2], 'back in first place once listed again');
  assert.equal(gs.entries().find((e) => e.address === g0)?.unlistedSince, undefined);

  gs.refresh(without(g0));
  clock.advance(UNLISTED_GRACE_MS);
  up = gs.refresh(without(g0));
  assert.deepEqual(up.removed, [{ address: g0, reason: 'unlisted' }]);
  assert.ok(!gs.entries().some((e) => e.address === g0));
  assert.equal(gs.primary().length, PRIMARY_GUARDS);
});

test('when few relays exist, the set holds what it can and tops up later', () => {
  const clock = new ManualClock(0, T0);
  const gs = new GuardSet([], { clock, rng: seededRng('g6') });
  const a = relay('few-a', { ip: '150.0.0.1' }, clock.wallMs());
  const b = relay('few-b', { ip: '150.0.9.9' }, clock.wallMs()); // same /16 as a
  gs.refresh([a, b]);
  assert.equal(gs.primary().length, 1);
  const c = relay('few-c', { ip: '151.0.0.1' }, clock.wallMs());
  const d = relay('few-d', { ip: '152.0.0.1' }, clock.wallMs());
  gs.refresh([a, b, c, d]);
  assert.equal(gs.primary().length, 3);
});

test('damaged state files are GuardStateError; a missing file is an empty set', (t) => {
  const dir = tmp();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const clock = new ManualClock(0, T0);
  const path = join(dir, 'guards.json');
  assert.deepEqual(GuardSet.load(path, { clock }).entries(), []);
  const good = { version: 1, guards: [{ address: 'ab'.repeat(32), addedAt: T0, expiresAt: T0 + DAY }] };
  writeFileSync(path, JSON.stringify(good));
  assert.equal(GuardSet.load(path, { clock }).primary()[0], 'ab'.repeat(32));
  for (const bad of [
    'nope',
    '[]',
    JSON.stringify({ ...good, version: 2 }),
    JSON.stringify({ version: 1, guards: [{ address: 'xy', addedAt: 1, expiresAt: 2 }] }),
    JSON.stringify({ version: 1, guards: [{ address: 'ab'.repeat(32), addedAt: -1, expiresAt: 2 }] }),
    JSON.stringify({ version: 1, guards: [good.guards[0], good.guards[0]] }),
  ]) {
    writeFileSync(path, bad);
    assert.throws(() => GuardSet.load(path, { clock }), GuardStateError, bad);
  }
  assert.throws(() => new GuardSet([], { clock }).save(), GuardStateError);
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).version, 1);
});

test('default guards path sits next to the wallet', () => {
  assert.equal(defaultGuardsPath({ XDG_CONFIG_HOME: '/c' }), '/c/topvpn/guards.json');
  assert.equal(defaultGuardsPath({ HOME: '/home/u' }), '/home/u/.config/topvpn/guards.json');
});
