import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MEMORY_TUN_BATCH, MemoryTun } from '../../../tun/memory.js';
import { TunClosedError, TunError } from '../../../tun/tun.js';

const ipv4 = (tag: number, len = 40): Buffer => {
  const b = Buffer.alloc(len, tag);
  b[0] = 0x45;
  return b;
};

const nextBatch = (t: MemoryTun, batches: Buffer[][]): Promise<void> =>
  new Promise((resolve) => t.onPackets((b) => { batches.push(b); resolve(); }));

test('more than one batch of injected packets is split into batches of 64, in order', async () => {
  const t = new MemoryTun({ name: 'm0' });
  const total = MEMORY_TUN_BATCH * 2 + 5;
  t.inject(Array.from({ length: total }, (_, i) => ipv4(i & 0xff)));
  const batches: Buffer[][] = [];
  await new Promise<void>((resolve) => t.onPackets((b) => {
    batches.push(b);
    if (batches.flat().length === total) resolve();
  }));
  assert.deepEqual(batches.map((b) => b.length), [MEMORY_TUN_BATCH, MEMORY_TUN_BATCH, 5]);
  assert.deepEqual(batches.flat().map((p) => p[1]), Array.from({ length: total }, (_, i) => i & 0xff));
  assert.equal(t.stats().packetsRead, total);
  assert.equal(t.stats().bytesRead, total * 40);
  t.close();
});

test('delivery is asynchronous and injected packets are private copies', async () => {
  const t = new MemoryTun({ name: 'm0' });
  const src = ipv4(1);
  let delivered = false;
  const batches: Buffer[][] = [];
  t.onPackets((b) => { delivered = true; batches.push(b); });
  t.inject([src]);
  assert.equal(delivered, false, 'not delivered synchronously');
  src[5] = 99;
  await new Promise((r) => setImmediate(r));
  assert.equal(batches.length, 1);
  assert.equal(batches[0]![0]![5], 1);
  t.close();
});

test('the kernel-side queue holds queueLimit packets; the rest are not queued', () => {
  const t = new MemoryTun({ name: 'm0', queueLimit: 3 });
  assert.equal(t.inject([ipv4(1), ipv4(2), ipv4(3), ipv4(4)]), 3);
  assert.equal(t.inject([ipv4(5)]), 0);
  t.close();
  assert.equal(t.inject([ipv4(6)]), 0, 'nothing is queued after close');
});

test('write copies accepted packets into written and tells observers; drops the rest', () => {
  const t = new MemoryTun({ name: 'm0', mtu: 100 });
  const seen: Buffer[][] = [];
  t.onWrite((p) => seen.push(p));
  const v6 = Buffer.alloc(60);
  v6[0] = 0x60;
  const ok = ipv4(7, 100);
  assert.equal(t.write([ok, ipv4(8, 101), Buffer.from([0x10, 0, 0]), Buffer.alloc(0), v6]), 2);
  ok[1] = 0;
  assert.equal(t.written.length, 2);
  assert.equal(t.written[0]![1], 7, 'a copy, unaffected by the caller reusing its buffer');
  assert.equal(t.written[1]![0], 0x60);
  assert.deepEqual(seen.map((b) => b.length), [2]);
  assert.deepEqual(t.stats(), { packetsRead: 0, bytesRead: 0, packetsWritten: 2, writeDropped: 3 });
  t.close();
  assert.throws(() => t.write([ipv4(1)]), TunClosedError);
});

test('pair(): what one side writes the other reads', async () => {
  const [a, b] = MemoryTun.pair({ name: 'a0' }, { name: 'b0', mtu: 1280 });
  assert.equal(b.mtu, 1280);
  const atB: Buffer[][] = [];
  const atA: Buffer[][] = [];
  const gotB = nextBatch(b, atB);
  const gotA = nextBatch(a, atA);
  assert.equal(a.write([ipv4(1), ipv4(2)]), 2);
  assert.equal(b.write([ipv4(3)]), 1);
  await Promise.all([gotA, gotB]);
  assert.deepEqual(atB[0]!.map((p) => p[1]), [1, 2]);
  assert.deepEqual(atA[0]!.map((p) => p[1]), [3]);
  b.close();
  assert.equal(a.write([ipv4(4)]), 1, 'the local device accepted it; the closed peer just does not queue it');
  a.close();
});

test('invalid names and MTUs are refused with TunError', () => {
  assert.throws(() => new MemoryTun({ name: '' }), TunError);
  assert.throws(() => new MemoryTun({ name: 'x'.repeat(16) }), TunError);
  assert.throws(() => new MemoryTun({ name: 'm0', mtu: 67 }), TunError);
  assert.throws(() => new MemoryTun({ name: 'm0', mtu: 65536 }), TunError);
  assert.equal(new MemoryTun({ name: 'x'.repeat(15) }).mtu, 1500);
});
