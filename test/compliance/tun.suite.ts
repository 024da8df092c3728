import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TunClosedError, TunError, type Tun, type TunStats } from '../../tun/tun.js';
import { buildEcho, echoReplyTo, parseEcho, type EchoInfo } from './tun.icmp.js';

/**
 * One device under test plus its "kernel side": the network stack that owns the
 * interface. For LinuxTun that is a network namespace; for MemoryTun a scripted stack.
 * The kernel side has address `local` on the device and routes `remote` into it.
 */
export interface TunHarness {
  tun: Tun & { stats(): TunStats };
  expectName: string;
  expectMtu: number;
  local: string;
  remote: string;
  /** MTU of the interface as the kernel side sees it. */
  kernelMtu(): Promise<number>;
  /** One echo request to `remote`; true if the matching reply came back (waits up to ~3 s). */
  ping(): Promise<boolean>;
  /** `count` echo requests to `remote`, sent without waiting for replies; resolves once all are sent. */
  sendRequests(count: number): Promise<void>;
  /** Packets the kernel side has received from the device. */
  kernelRx(): Promise<number>;
  /** Whether the interface still exists. */
  exists(): Promise<boolean>;
  /** Delete the interface under the open device (`ip link del`). */
  vanish(): Promise<void>;
  /** Close the device and release everything the harness made. */
  dispose(): Promise<void>;
}

/** Bounds a wait so a broken device fails the test instead of hanging it (not a performance threshold). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Lets pending device wake-ups run: a few event-loop turns plus a short pause. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

function requestsTo(h: TunHarness, batch: Buffer[]): EchoInfo[] {
  return batch.map(parseEcho).filter((e): e is EchoInfo => e !== undefined && e.type === 8 && e.dst === h.remote && e.src === h.local);
}

/** Collects batches until `pred` holds for all echo requests seen so far. */
function collect(h: TunHarness, pred: (requests: EchoInfo[], batches: Buffer[][]) => boolean): Promise<Buffer[][]> {
  return new Promise((resolve) => {
    const batches: Buffer[][] = [];
    const requests: EchoInfo[] = [];
    h.tun.onPackets((batch) => {
      batches.push(batch);
      requests.push(...requestsTo(h, batch));
      if (pred(requests, batches)) resolve(batches);
    });
  });
}

/** The shared contract of tun/tun.ts, run against every implementation. */
export function tunCompliance(name: string, factory: () => Promise<TunHarness>): void {
  const withDevice = (fn: (h: TunHarness) => Promise<void>) => async () => {
    const h = await factory();
    try {
      await fn(h);
    } finally {
      await h.dispose();
    }
  };

  describe(`Tun compliance: ${name}`, () => {
    test('reports the name and mtu the kernel uses', withDevice(async (h) => {
      assert.equal(h.tun.name, h.expectName);
      assert.equal(h.tun.mtu, h.expectMtu);
      assert.equal(await h.kernelMtu(), h.expectMtu);
    }));

    test('packets queued before onPackets arrive together in one batch of separate, stable Buffers', withDevice(async (h) => {
      await h.sendRequests(10);
      const batches = await within(collect(h, (reqs) => reqs.length >= 10), 10_000, '10 echo requests');
      const first = batches.find((b) => requestsTo(h, b).length > 0) ?? [];
      assert.equal(requestsTo(h, first).length, 10, 'all 10 queued requests in the first batch that has any');
      for (const p of first) assert.ok(Buffer.isBuffer(p));
      const copies = first.map((p) => Buffer.from(p));
      // Later batches must not overwrite what the callee kept.
      const more = within(collect(h, (reqs) => reqs.length >= 3), 10_000, '3 more echo requests');
      await h.sendRequests(3);
      await more;
      first.forEach((p, i) => assert.deepEqual(p, copies[i]));
      const seqs = requestsTo(h, first).map((e) => e.seq);
      assert.equal(new Set(seqs).size, 10, 'ten distinct packets, not one buffer repeated');
    }));

    test('a written echo reply completes the kernel side ping', withDevice(async (h) => {
      const rxBefore = await h.kernelRx();
      let replies = 0;
      h.tun.onPackets((batch) => {
        const out = requestsTo(h, batch).map(echoReplyTo);
        if (out.length > 0) replies += h.tun.write(out);
      });
      assert.equal(await h.ping(), true, 'ping got its reply through the device');
      assert.ok(replies >= 1);
      assert.ok((await h.kernelRx()) >= rxBefore + 1, 'kernel rx counter rose');
      assert.ok(h.tun.stats().packetsRead >= 1);
      assert.ok(h.tun.stats().packetsWritten >= 1);
    }));

    test('without a reply the ping fails (the device is the only path)', withDevice(async (h) => {
      let seen = 0;
      h.tun.onPackets((batch) => { seen += requestsTo(h, batch).length; });
      assert.equal(await h.ping(), false);
      assert.ok(seen >= 1, 'the request did go into the device');
    }));

    test('refused packets are counted as dropped, never thrown; valid ones in the same batch pass', withDevice(async (h) => {
      const rxBefore = await h.kernelRx();
      const req: EchoInfo = { type: 8, src: h.local, dst: h.remote, id: 7, seq: 1, payload: Buffer.alloc(16, 1) };
      const valid = echoReplyTo(req);
      const fullSize = echoReplyTo({ ...req, seq: 2, payload: Buffer.alloc(h.expectMtu - 28, 2) });
      assert.equal(fullSize.length, h.expectMtu);
      const oversized = echoReplyTo({ ...req, seq: 3, payload: Buffer.alloc(h.expectMtu - 27, 3) });
      const garbage = Buffer.alloc(60, 0xff);
      const accepted = h.tun.write([oversized, garbage, valid, Buffer.alloc(0), fullSize]);
      assert.equal(accepted, 2);
      assert.deepEqual({ written: h.tun.stats().packetsWritten, dropped: h.tun.stats().writeDropped }, { written: 2, dropped: 3 });
      assert.equal((await h.kernelRx()) - rxBefore, 2, 'kernel received exactly the two valid packets');
    }));

    test('onPackets replaces the earlier handler', withDevice(async (h) => {
      let old = 0;
      h.tun.onPackets(() => { old++; });
      const got = within(collect(h, (reqs) => reqs.length >= 2), 10_000, '2 echo requests');
      await h.sendRequests(2);
      await got;
      assert.equal(old, 0);
    }));

    test('after close(): no callback, write throws TunClosedError, the interface is gone', withDevice(async (h) => {
      let calls = 0;
      await h.sendRequests(5); // queued in the device, not yet read
      h.tun.onPackets(() => { calls++; });
      h.tun.onError(() => { calls++; });
      h.tun.close(); // same turn: the pending wake-up must not deliver
      h.tun.close(); // idempotent
      assert.throws(() => h.tun.write([echoReplyTo({ type: 8, src: h.local, dst: h.remote, id: 1, seq: 1, payload: Buffer.alloc(8) })]), TunClosedError);
      assert.equal(await h.exists(), false);
      await h.sendRequests(2);
      h.tun.onPackets(() => { calls++; }); // registering after close starts nothing
      await settle();
      assert.equal(calls, 0);
    }));

    test('close() inside the onPackets handler: that batch is the last one', withDevice(async (h) => {
      let calls = 0;
      const first = new Promise<void>((resolve) => h.tun.onPackets(() => {
        calls++;
        h.tun.close();
        resolve();
      }));
      await h.sendRequests(3);
      await within(first, 10_000, 'the first batch');
      await h.sendRequests(3);
      await settle();
      assert.equal(calls, 1);
      assert.equal(await h.exists(), false);
    }));

    test('deleting the interface under the device reports a TunError; writes are then dropped', withDevice(async (h) => {
      h.tun.onPackets(() => undefined);
      const err = within(new Promise<Error>((resolve) => h.tun.onError(resolve)), 10_000, 'the error callback');
      await h.vanish();
      const e = await err;
      assert.ok(e instanceof TunError, `got ${e.name}: ${e.message}`);
      assert.match(e.message, new RegExp(h.expectName));
      const reply = buildEcho({ type: 0, src: h.remote, dst: h.local, id: 1, seq: 1, payload: Buffer.alloc(8) });
      assert.equal(h.tun.write([reply]), 0);
      assert.equal(h.tun.stats().writeDropped, 1);
    }));
  });
}
