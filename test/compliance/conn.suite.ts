import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BindClosedError,
  BindError,
  EndpointError,
  MAX_DATAGRAM,
  PacketSizeError,
  type Bind,
  type Endpoint,
} from '../../conn/index.js';

/** How to open Binds of one implementation on one host (all Binds of a harness can reach each other). */
export interface ConnHarness {
  /** Address to bind and reach the Binds on (127.0.0.1 for kernel sockets). */
  host: string;
  open(opts: { host: string; port: number }): Promise<Bind>;
  /** Releases what the harness made beyond the Binds (which each test closes). */
  dispose?(): Promise<void>;
}

/** Bounds a wait so a broken Bind fails the test instead of hanging it (not a performance threshold). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Lets pending wake-ups run: a few event-loop turns plus a short pause. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

export interface Received {
  packets: Buffer[];
  from: Endpoint[];
  batches: number[];
}

/** Registers a handler on `b` that records everything; `until(n)` resolves once n packets arrived. */
export function recorder(b: Bind): Received & { until(n: number, what?: string): Promise<void> } {
  const r: Received = { packets: [], from: [], batches: [] };
  const waiters: { n: number; resolve: () => void }[] = [];
  b.onBatch((packets, from) => {
    assert.equal(packets.length, from.length, 'one sender per packet');
    r.packets.push(...packets);
    r.from.push(...from);
    r.batches.push(packets.length);
    for (const w of waiters) if (r.packets.length >= w.n) w.resolve();
  });
  return Object.assign(r, {
    until: (n: number, what = `${n} packets`) =>
      within(new Promise<void>((resolve) => {
        if (r.packets.length >= n) return resolve();
        waiters.push({ n, resolve });
      }), 10_000, what),
  });
}

/** Packet `seq` of `size` bytes (>= 4): seq big-endian, then a pattern derived from seq. */
export function numbered(seq: number, size: number): Buffer {
  const p = Buffer.alloc(size);
  p.writeUInt32BE(seq >>> 0, 0);
  for (let i = 4; i < size; i++) p[i] = (seq * 31 + i) & 0xff;
  return p;
}

export function assertNumbered(p: Buffer | undefined, seq: number, size: number): void {
  assert.ok(p !== undefined, `packet ${seq} missing`);
  assert.equal(p.length, size, `packet ${seq} length`);
  assert.ok(p.equals(numbered(seq, size)), `packet ${seq} content`);
}

/** The shared contract of conn/bind.ts, run against every implementation. */
export function connCompliance(name: string, factory: () => Promise<ConnHarness>): void {
  const withHarness = (fn: (h: ConnHarness, open: () => Promise<Bind>) => Promise<void>) => async () => {
    const h = await factory();
    const binds: Bind[] = [];
    const open = async (): Promise<Bind> => {
      const b = await h.open({ host: h.host, port: 0 });
      binds.push(b);
      return b;
    };
    try {
      await fn(h, open);
    } finally {
      for (const b of binds) b.close();
      await h.dispose?.();
    }
  };

  describe(`Bind compliance: ${name}`, () => {
    test('binds a real port on the asked host; round trip with the sender as `from`', withHarness(async (h, open) => {
      const a = await open();
      const b = await open();
      assert.equal(a.local.host, h.host);
      assert.ok(a.local.port > 0 && a.local.port < 65536);
      assert.notEqual(a.local.port, b.local.port);
      b.onBatch((packets, from) => {
        for (let i = 0; i < packets.length; i++) b.send(from[i] as Endpoint, Buffer.concat([Buffer.from('re:'), packets[i] as Buffer]));
      });
      const ra = recorder(a);
      a.send(b.local, Buffer.from('hello'));
      await ra.until(1, 'the echo');
      assert.equal(ra.packets[0]?.toString(), 're:hello');
      assert.deepEqual({ ...ra.from[0] }, { host: b.local.host, port: b.local.port });
      const sa = a.stats();
      assert.equal(sa.packetsOut, 1);
      assert.equal(sa.bytesOut, 5);
      assert.equal(sa.packetsIn, 1);
      assert.equal(sa.bytesIn, 8);
    }));

    test('`from` endpoints are interned and frozen: one object per sender', withHarness(async (_h, open) => {
      const a = await open();
      const c = await open();
      const b = await open();
      const rb = recorder(b);
      a.send(b.local, Buffer.from('a1'));
      c.send(b.local, Buffer.from('c1'));
      await rb.until(2);
      a.send(b.local, Buffer.from('a2'));
      c.send(b.local, Buffer.from('c2'));
      await rb.until(4);
      const by = new Map<string, Endpoint[]>();
      rb.packets.forEach((p, i) => {
        const k = p.toString().slice(0, 1);
        by.set(k, [...(by.get(k) ?? []), rb.from[i] as Endpoint]);
      });
      const [a1, a2] = by.get('a') ?? [];
      const [c1, c2] = by.get('c') ?? [];
      assert.ok(a1 && a2 && c1 && c2);
      assert.equal(a1, a2, 'same object for the same sender');
      assert.equal(c1, c2);
      assert.notEqual(a1, c1);
      assert.equal(a1.port, a.local.port);
      assert.equal(c1.port, c.local.port);
      assert.ok(Object.isFrozen(a1));
    }));

    test('200 packets sent in one tick arrive complete and in order, in batches', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      const rb = recorder(b);
      for (let i = 0; i < 200; i++) a.send(b.local, numbered(i, 1400));
      await rb.until(200);
      for (let i = 0; i < 200; i++) assertNumbered(rb.packets[i], i, 1400);
      assert.equal(rb.batches.reduce((x, y) => x + y, 0), 200);
      const st = b.stats();
      assert.equal(st.packetsIn, 200);
      assert.equal(st.bytesIn, 200 * 1400);
      assert.equal(st.batchesIn, rb.batches.length);
    }));

    test('sendBatch of 300 varied sizes (runs of equal sizes, shorter tails) arrives intact and in order', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      const rb = recorder(b);
      const sizes: number[] = [];
      for (let i = 0; i < 300; i++) sizes.push(i % 50 === 49 ? 4 + (i % 7) : i < 150 ? 1200 : 4 + ((i * 37) % 1400));
      const n = a.sendBatch(sizes.map((s, i) => ({ to: b.local, packet: numbered(i, s) })));
      assert.equal(n, 300);
      await rb.until(300);
      for (let i = 0; i < 300; i++) assertNumbered(rb.packets[i], i, sizes[i] as number);
      assert.equal(a.stats().packetsOut, 300);
    }));

    test('interleaved destinations each get their own sequence in order', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      const c = await open();
      const rb = recorder(b);
      const rc = recorder(c);
      for (let i = 0; i < 150; i++) {
        a.send(b.local, numbered(i, 1000));
        if (i % 3 === 0) a.send(c.local, numbered(i, 500));
      }
      await rb.until(150);
      await rc.until(50);
      for (let i = 0; i < 150; i++) assertNumbered(rb.packets[i], i, 1000);
      for (let i = 0; i < 50; i++) assertNumbered(rc.packets[i], i * 3, 500);
    }));

    test('received packets are separate Buffers that stay valid', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      const rb = recorder(b);
      for (let i = 0; i < 20; i++) a.send(b.local, numbered(i, 100));
      await rb.until(20);
      const kept = rb.packets.slice();
      const copies = kept.map((p) => Buffer.from(p));
      for (let i = 20; i < 100; i++) a.send(b.local, numbered(i, 100));
      await rb.until(100);
      kept.forEach((p, i) => assert.ok(p.equals(copies[i] as Buffer), `kept packet ${i} unchanged`));
      kept[0]?.fill(0);
      assertNumbered(rb.packets[1], 1, 100);
    }));

    test('zero-length datagrams are delivered as empty Buffers, in order', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      const rb = recorder(b);
      a.send(b.local, Buffer.alloc(0));
      a.send(b.local, numbered(1, 10));
      a.sendBatch([{ to: b.local, packet: Buffer.alloc(0) }, { to: b.local, packet: Buffer.alloc(0) }, { to: b.local, packet: numbered(2, 10) }]);
      await rb.until(5);
      assert.deepEqual(rb.packets.map((p) => p.length), [0, 10, 0, 0, 10]);
      assert.deepEqual({ ...rb.from[0] }, { ...a.local });
    }));

    test(`a ${MAX_DATAGRAM}-byte datagram arrives intact; one byte more throws PacketSizeError and sends nothing`, withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      const rb = recorder(b);
      assert.throws(() => a.send(b.local, Buffer.alloc(MAX_DATAGRAM + 1)), (e: unknown) => e instanceof PacketSizeError && e instanceof BindError && e.name === 'PacketSizeError');
      assert.throws(() => a.sendBatch([{ to: b.local, packet: numbered(0, 10) }, { to: b.local, packet: Buffer.alloc(MAX_DATAGRAM + 1) }]), PacketSizeError);
      a.send(b.local, numbered(7, MAX_DATAGRAM));
      a.send(b.local, numbered(8, 10));
      await rb.until(2);
      await settle();
      assert.equal(rb.packets.length, 2, 'the rejected batch sent nothing');
      assertNumbered(rb.packets[0], 7, MAX_DATAGRAM);
      assertNumbered(rb.packets[1], 8, 10);
    }));

    test('invalid destinations throw EndpointError', withHarness(async (_h, open) => {
      const a = await open();
      const bad: Endpoint[] = [
        { host: 'localhost', port: 5000 },
        { host: '1.2.3', port: 5000 },
        { host: '256.1.1.1', port: 5000 },
        { host: '127.0.0.1', port: 0 },
        { host: '127.0.0.1', port: 65536 },
        { host: '127.0.0.1', port: 1.5 },
      ];
      for (const to of bad) {
        assert.throws(() => a.send(to, Buffer.from('x')), (e: unknown) => e instanceof EndpointError && (e as BindError).code === 'EINVAL', `${to.host}:${to.port}`);
      }
      assert.throws(() => a.sendBatch([{ to: bad[0] as Endpoint, packet: Buffer.from('x') }]), EndpointError);
      assert.equal(a.stats().packetsOut, 0);
    }));

    test('datagrams that arrive before onBatch is registered are delivered once it is', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      for (let i = 0; i < 10; i++) a.send(b.local, numbered(i, 300));
      await settle();
      const rb = recorder(b);
      await rb.until(10);
      for (let i = 0; i < 10; i++) assertNumbered(rb.packets[i], i, 300);
    }));

    test('onBatch replaces the earlier handler', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      let old = 0;
      b.onBatch(() => { old++; });
      const rb = recorder(b);
      a.send(b.local, Buffer.from('x'));
      await rb.until(1);
      assert.equal(old, 0);
    }));

    test('after close(): no callback, send/sendBatch throw BindClosedError, close is idempotent', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      let calls = 0;
      b.onBatch(() => { calls++; });
      for (let i = 0; i < 50; i++) a.send(b.local, numbered(i, 200));
      await new Promise((r) => setImmediate(r)); // the datagrams are on their way or queued at b
      b.close(); // before b's wake-up delivers them
      b.close();
      assert.throws(() => b.send(a.local, Buffer.from('x')), (e: unknown) => e instanceof BindClosedError && e.name === 'BindClosedError' && e instanceof BindError);
      assert.throws(() => b.sendBatch([{ to: a.local, packet: Buffer.from('x') }]), BindClosedError);
      b.onBatch(() => { calls++; }); // registering after close starts nothing
      a.send(b.local, Buffer.from('late'));
      await settle();
      assert.equal(calls, 0);
    }));

    test('close() inside onBatch: that batch is the last one', withHarness(async (_h, open) => {
      const a = await open();
      const b = await open();
      let calls = 0;
      const first = new Promise<void>((resolve) => b.onBatch(() => {
        calls++;
        b.close();
        resolve();
      }));
      for (let i = 0; i < 200; i++) a.send(b.local, numbered(i, 1000));
      await within(first, 10_000, 'the first batch');
      for (let i = 0; i < 10; i++) a.send(b.local, numbered(i, 10));
      await settle();
      assert.equal(calls, 1);
    }));

    test('close() releases the port; a bound port is refused with EADDRINUSE', withHarness(async (h, _open) => {
      const a = await h.open({ host: h.host, port: 0 });
      const port = a.local.port;
      try {
        await assert.rejects(h.open({ host: h.host, port }), (e: unknown) => {
          assert.ok(e instanceof BindError, String(e));
          assert.equal(e.code, 'EADDRINUSE');
          assert.match(e.message, new RegExp(`${port}`));
          assert.match(e.message, /in use/i);
          return true;
        });
      } finally {
        a.close();
      }
      const again = await h.open({ host: h.host, port });
      assert.equal(again.local.port, port);
      again.close();
    }));

    test('a host that is not a dotted quad is refused with EINVAL', withHarness(async (h, _open) => {
      await assert.rejects(h.open({ host: 'not-an-ip', port: 0 }), (e: unknown) => e instanceof BindError && e.code === 'EINVAL');
    }));
  });
}
