import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../common/clock.js';
import { MapChainView } from '../../../discovery/chain-view.js';
import { Directory, descriptorTopic, type DirectoryChange, type DirectoryOptions } from '../../../discovery/directory.js';
import { MAX_DESCRIPTOR_BYTES, encodeDescriptor } from '../../../protocol/descriptor.js';
import { CHAIN, T0, TOP, flush, forged, testRelay } from './fixtures.js';

const TTL = 60_000;
const SWEEP = 15_000;

function setup(over: Partial<DirectoryOptions> = {}): { clock: ManualClock; chain: MapChainView; dir: Directory; changes: DirectoryChange[] } {
  const clock = new ManualClock(0, T0);
  const chain = new MapChainView();
  const dir = new Directory({ chainId: CHAIN, chain, clock, chainTtlMs: TTL, sweepIntervalMs: SWEEP, ...over });
  const changes: DirectoryChange[] = [];
  dir.onChange((c) => changes.push(c));
  return { clock, chain, dir, changes };
}

/** Advances the manual clock in sweep-sized steps, letting each sweep's chain queries finish. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  let left = ms;
  while (left > 0) {
    const step = Math.min(left, SWEEP);
    clock.advance(step);
    left -= step;
    await flush();
  }
}

test('topic name carries the chain id and version', () => {
  assert.equal(descriptorTopic('topvpn-devnet'), 'topvpn/descriptors/topvpn-devnet/1');
});

test('a staked relay becomes a candidate carrying its chain stake', async () => {
  const { chain, dir, changes } = setup();
  const r = testRelay(1);
  chain.setRelay(r.address, 250_000n * TOP);
  const out = await dir.ingest(r.bytes(T0));
  assert.deepEqual(out, { kind: 'added', nodeAddress: r.address });
  const c = dir.candidates();
  assert.equal(c.length, 1);
  assert.equal(c[0]!.descriptor.nodeAddress, r.address);
  assert.equal(c[0]!.stake, 250_000n * TOP);
  assert.equal(c[0]!.jailed, false);
  assert.deepEqual(
    changes.map((x) => [x.kind, x.nodeAddress]),
    [['added', r.address]],
  );
  assert.equal(dir.stats().added, 1);
});

test('each reject reason is reported and counted', async () => {
  const { chain, dir } = setup({ minStake: 100n });
  const ok = testRelay(1);
  chain.setRelay(ok.address, 1000n);
  const cases: [string, Uint8Array][] = [];
  cases.push(['malformed', new TextEncoder().encode('{"not":"a descriptor"}')]);
  cases.push(['malformed', new Uint8Array(MAX_DESCRIPTOR_BYTES + 1)]);
  cases.push(['bad-signature', forged(ok.descriptor(T0))]);
  cases.push(['wrong-chain', ok.bytes(T0, undefined, { chainId: 'other-chain' })]);
  cases.push(['expired', ok.bytes(T0 - 3600_000, 30 * 60_000)]);
  cases.push(['from-future', ok.bytes(T0 + 3600_000)]);
  const unregistered = testRelay(2);
  cases.push(['unstaked', unregistered.bytes(T0)]);
  const validator = testRelay(3);
  chain.set(validator.address, { registered: true, role: 'validator', stake: 10n ** 12n, jailed: false });
  cases.push(['unstaked', validator.bytes(T0)]);
  const poor = testRelay(4);
  chain.setRelay(poor.address, 99n);
  cases.push(['unstaked', poor.bytes(T0)]);
  const jailed = testRelay(5);
  chain.set(jailed.address, { registered: true, role: 'relay', stake: 10n ** 12n, jailed: true });
  cases.push(['jailed', jailed.bytes(T0)]);
  for (const [reason, bytes] of cases) {
    const out = await dir.ingest(bytes);
    assert.equal(out.kind, 'rejected', reason);
    assert.equal(out.kind === 'rejected' && out.reason, reason);
  }
  const s = dir.stats();
  assert.deepEqual(s.rejected, { malformed: 2, 'bad-signature': 1, expired: 1, 'from-future': 1, 'wrong-chain': 1, unstaked: 3, jailed: 1, capacity: 0 });
  assert.equal(dir.candidates().length, 0);
  assert.equal(dir.size, 0);
  assert.equal((await dir.ingest(ok.bytes(T0))).kind, 'added');
});

test('dedupe by node address keeps the newest publishedAt', async () => {
  const { chain, dir, changes } = setup();
  const r = testRelay(1);
  chain.setRelay(r.address, TOP);
  const older = r.bytes(T0 - 60_000);
  const newer = r.bytes(T0);
  assert.equal((await dir.ingest(newer)).kind, 'added');
  assert.equal((await dir.ingest(older)).kind, 'duplicate');
  assert.equal((await dir.ingest(newer)).kind, 'duplicate');
  assert.equal(dir.candidates()[0]!.descriptor.publishedAt, T0);
  const newest = r.bytes(T0 + 1);
  assert.equal((await dir.ingest(newest)).kind, 'updated');
  assert.equal(dir.candidates().length, 1);
  assert.equal(dir.candidates()[0]!.descriptor.publishedAt, T0 + 1);
  assert.deepEqual(
    changes.map((c) => c.kind),
    ['added', 'updated'],
  );
  assert.equal(dir.stats().duplicates, 2);
  // Concurrent arrival of two versions: the newer wins whatever order the chain answers in.
  const r2 = testRelay(2);
  chain.setRelay(r2.address, TOP);
  await Promise.all([dir.ingest(r2.bytes(T0 + 5)), dir.ingest(r2.bytes(T0 + 2))]);
  assert.equal(dir.candidates().find((c) => c.descriptor.nodeAddress === r2.address)!.descriptor.publishedAt, T0 + 5);
});

test('expired descriptors leave the candidates at once and are swept', async () => {
  const { clock, chain, dir, changes } = setup();
  await dir.start();
  const r = testRelay(1);
  chain.setRelay(r.address, TOP);
  assert.equal((await dir.ingest(r.bytes(T0, 20_000))).kind, 'added');
  clock.advance(19_999);
  assert.equal(dir.candidates().length, 1);
  clock.advance(1);
  assert.equal(dir.candidates().length, 0, 'expired one is not offered even before the sweep');
  await advance(clock, SWEEP);
  assert.equal(dir.size, 0);
  assert.deepEqual(changes.at(-1), { kind: 'removed', nodeAddress: r.address, reason: 'expired' });
  assert.equal(dir.stats().evicted.expired, 1);
  await dir.stop();
});

test('chain answers are cached for the TTL; withdrawn stake or jailing removes the relay after it', async () => {
  const { clock, chain, dir, changes } = setup();
  await dir.start();
  const a = testRelay(1);
  const b = testRelay(2);
  const c = testRelay(3);
  for (const r of [a, b, c]) chain.setRelay(r.address, 5n * TOP);
  for (const r of [a, b, c]) assert.equal((await dir.ingest(r.bytes(T0, 3600_000))).kind, 'added');
  const calls = chain.calls;
  assert.equal((await dir.ingest(a.bytes(T0 + 1, 3600_000))).kind, 'updated');
  assert.equal(chain.calls, calls, 'a fresh chain answer is reused');

  chain.setRelay(a.address, 0n); // stake withdrawn
  chain.set(b.address, { registered: true, role: 'relay', stake: 5n * TOP, jailed: true });
  await advance(clock, TTL - SWEEP);
  assert.equal(dir.candidates().length, 3, 'still cached before the TTL');
  await advance(clock, 2 * SWEEP);
  const left = dir.candidates().map((x) => x.descriptor.nodeAddress);
  assert.deepEqual(left, [c.address]);
  const removed = changes.filter((x) => x.kind === 'removed');
  assert.deepEqual(
    removed.map((x) => [x.nodeAddress, x.kind === 'removed' && x.reason]).sort(),
    [
      [a.address, 'unstaked'],
      [b.address, 'jailed'],
    ].sort(),
  );
  // The removed relay's next descriptor is refused while it stays unstaked.
  const again = await dir.ingest(a.bytes(T0 + TTL, 3600_000));
  assert.equal(again.kind === 'rejected' && again.reason, 'unstaked');
  // Staking again brings it back.
  chain.setRelay(a.address, TOP);
  await advance(clock, TTL);
  assert.equal((await dir.ingest(a.bytes(T0 + 2 * TTL + 1, 3600_000))).kind, 'added');
  await dir.stop();
});

test('an unreachable chain leaves new relays pending and known ones as they were', async () => {
  const { clock, chain, dir } = setup();
  await dir.start();
  const known = testRelay(1);
  const fresh = testRelay(2);
  chain.setRelay(known.address, TOP);
  chain.setRelay(fresh.address, TOP);
  assert.equal((await dir.ingest(known.bytes(T0, 3600_000))).kind, 'added');
  chain.failWith = new Error('rpc down');
  assert.equal((await dir.ingest(fresh.bytes(T0, 3600_000))).kind, 'pending');
  await advance(clock, TTL + SWEEP);
  assert.deepEqual(
    dir.candidates().map((c) => c.descriptor.nodeAddress),
    [known.address],
  );
  assert.ok(dir.stats().chainErrors >= 2);
  assert.equal(dir.servable().length, 1, 'pending descriptors are not served');
  chain.failWith = undefined;
  await advance(clock, SWEEP);
  assert.deepEqual(
    dir.candidates().map((c) => c.descriptor.nodeAddress).sort(),
    [known.address, fresh.address].sort(),
  );
  await dir.stop();
});

test('a chain that never answers counts as unreachable after chainTimeoutMs', async () => {
  const clock = new ManualClock(0, T0);
  let calls = 0;
  const hanging = { nodeStatus: () => { calls++; return new Promise<never>(() => undefined); } };
  const dir = new Directory({ chainId: CHAIN, chain: hanging, clock, chainTimeoutMs: 5_000, sweepIntervalMs: SWEEP });
  await dir.start();
  const r = testRelay(1);
  const pending = dir.ingest(r.bytes(T0, 3600_000));
  await flush();
  clock.advance(5_000);
  assert.equal((await pending).kind, 'pending');
  assert.equal(dir.stats().chainErrors, 1);
  // The next sweep asks again instead of waiting on the stuck query forever.
  clock.advance(SWEEP);
  await flush();
  assert.equal(calls, 2);
  await dir.stop().catch(() => undefined);
});

test('capacity bounds the number of descriptors held', async () => {
  const { chain, dir } = setup({ maxEntries: 2 });
  const rs = [1, 2, 3].map((i) => testRelay(i));
  for (const r of rs) chain.setRelay(r.address, TOP);
  assert.equal((await dir.ingest(rs[0]!.bytes(T0))).kind, 'added');
  assert.equal((await dir.ingest(rs[1]!.bytes(T0))).kind, 'added');
  const third = await dir.ingest(rs[2]!.bytes(T0));
  assert.equal(third.kind === 'rejected' && third.reason, 'capacity');
  assert.equal((await dir.ingest(rs[0]!.bytes(T0 + 1))).kind, 'updated', 'updates to held relays still pass');
});

test('servable() lists local descriptors first, then candidates, never unstaked ones', async () => {
  const { chain, dir } = setup();
  const self = testRelay(0);
  const other = testRelay(1);
  const unstaked = testRelay(2);
  chain.setRelay(other.address, TOP);
  dir.setLocal(self.descriptor(T0));
  await dir.ingest(other.bytes(T0));
  await dir.ingest(unstaked.bytes(T0));
  const served = dir.servable().map((b) => Buffer.from(b).toString());
  assert.deepEqual(served, [Buffer.from(self.bytes(T0)).toString(), Buffer.from(other.bytes(T0)).toString()]);
});

test('the cache file (0600) restores the last good set before the network answers', async () => {
  const dirPath = await mkdtemp(join(tmpdir(), 'tvd-cache-'));
  try {
    const file = join(dirPath, 'sub', 'relays.json');
    const first = setup({ cacheFile: file });
    await first.dir.start();
    const a = testRelay(1);
    const b = testRelay(2);
    first.chain.setRelay(a.address, 7n * TOP);
    first.chain.setRelay(b.address, 9n * TOP);
    await first.dir.ingest(a.bytes(T0, 3600_000));
    await first.dir.ingest(b.bytes(T0, 3600_000));
    await first.dir.stop();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { chainId: string; relays: unknown[] };
    assert.equal(saved.chainId, CHAIN);
    assert.equal(saved.relays.length, 2);

    // A restart whose chain is slow to answer: the saved stakes stand until the first sweep.
    const second = setup({ cacheFile: file });
    second.chain.setRelay(a.address, 7n * TOP); // b withdrew meanwhile
    await second.dir.start();
    const before = second.dir.candidates();
    assert.deepEqual(before.map((c) => [c.descriptor.nodeAddress, c.stake]).sort(), [
      [a.address, 7n * TOP],
      [b.address, 9n * TOP],
    ].sort());
    await advance(second.clock, SWEEP);
    assert.deepEqual(
      second.dir.candidates().map((c) => c.descriptor.nodeAddress),
      [a.address],
    );
    await second.dir.stop();

    // A corrupt or foreign cache is ignored, not fatal.
    await writeFile(file, '{"version":1,"chainId":"other","relays":[]}', { mode: 0o600 });
    const third = setup({ cacheFile: file });
    await third.dir.start();
    assert.equal(third.dir.candidates().length, 0);
    await third.dir.stop();
    await writeFile(file, 'not json', { mode: 0o600 });
    const fourth = setup({ cacheFile: file });
    await fourth.dir.start();
    assert.equal(fourth.dir.candidates().length, 0);
    await fourth.dir.stop();
  } finally {
    await rm(dirPath, { recursive: true, force: true });
  }
});

test('cache entries that expired while the node was down are not loaded', async () => {
  const dirPath = await mkdtemp(join(tmpdir(), 'tvd-cache-'));
  try {
    const file = join(dirPath, 'relays.json');
    const first = setup({ cacheFile: file });
    await first.dir.start();
    const a = testRelay(1);
    first.chain.setRelay(a.address, TOP);
    await first.dir.ingest(encodeDescriptor(a.descriptor(T0, 60_000)));
    await first.dir.stop();
    const clock = new ManualClock(0, T0 + 120_000);
    const later = new Directory({ chainId: CHAIN, chain: new MapChainView(), clock, cacheFile: file });
    await later.start();
    assert.equal(later.candidates().length, 0);
    assert.equal(later.stats().rejected.expired, 1);
    await later.stop();
  } finally {
    await rm(dirPath, { recursive: true, force: true });
  }
});
