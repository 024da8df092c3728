// Runs the Bind compliance suite (conn.suite.ts) against every implementation: native
// (recvmmsg/sendmmsg, with and without UDP GSO/GRO; needs `npm run build:native`), node:dgram
// and the in-memory network; then checks that the kernel-backed ones talk to each other and
// what only the native one promises (batching, offload, waiting for a full socket buffer).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MemoryNetwork, openBind, type Bind, type BindImpl, type BindStats } from '../../conn/index.js';
import { assertNumbered, connCompliance, numbered, recorder } from './conn.suite.js';

const run = promisify(execFile);

const HOST = '127.0.0.1';

connCompliance('native (GSO/GRO on)', async () => ({ host: HOST, open: (o) => openBind({ ...o, impl: 'native' }) }));
connCompliance('native (GSO/GRO off)', async () => ({ host: HOST, open: (o) => openBind({ ...o, impl: 'native', offload: false }) }));
connCompliance('dgram', async () => ({ host: HOST, open: (o) => openBind({ ...o, impl: 'dgram' }) }));
connCompliance('memory', async () => {
  const network = new MemoryNetwork();
  return {
    host: HOST,
    open: (o) => openBind({ ...o, impl: 'memory', network }),
    dispose: async () => assert.equal(network.size, 0, 'every Bind released its address'),
  };
});

describe('Bind: mixed implementations on 127.0.0.1', () => {
  const pairs: [Exclude<BindImpl, 'memory'>, Exclude<BindImpl, 'memory'>][] = [
    ['native', 'dgram'],
    ['dgram', 'native'],
  ];
  for (const [ia, ib] of pairs) {
    test(`${ia} -> ${ib}: 300 packets in order, replies come back`, async () => {
      const a = await openBind({ host: HOST, port: 0, impl: ia });
      const b = await openBind({ host: HOST, port: 0, impl: ib });
      try {
        const rb = recorder(b);
        for (let i = 0; i < 300; i++) a.send(b.local, numbered(i, 1400));
        await rb.until(300);
        for (let i = 0; i < 300; i++) assertNumbered(rb.packets[i], i, 1400);
        assert.equal(rb.from[0]?.port, a.local.port);
        const ra = recorder(a);
        b.sendBatch(rb.packets.slice(0, 100).map((p, i) => ({ to: rb.from[i]!, packet: p })));
        await ra.until(100);
        for (let i = 0; i < 100; i++) assertNumbered(ra.packets[i], i, 1400);
      } finally {
        a.close();
        b.close();
      }
    });
  }
});

describe('Bind: native specifics', () => {
  async function pair(offload: boolean, sndbuf?: number): Promise<[Bind, Bind]> {
    const a = await openBind({ host: HOST, port: 0, impl: 'native', offload, ...(sndbuf ? { sndbuf } : {}) });
    const b = await openBind({ host: HOST, port: 0, impl: 'native', offload });
    return [a, b];
  }

  test('a burst is received in batches of several datagrams per wake-up', async () => {
    const [a, b] = await pair(false);
    try {
      const rb = recorder(b);
      for (let i = 0; i < 256; i++) a.send(b.local, numbered(i, 1400));
      await rb.until(256);
      assert.ok(Math.max(...rb.batches) > 1, `batches: ${rb.batches.join(',')}`);
      assert.ok(Math.max(...rb.batches) <= 64, 'at most 64 per recvmmsg without GRO');
      assert.ok(a.stats().batchesOut < 256, `send system calls: ${a.stats().batchesOut}`);
    } finally {
      a.close();
      b.close();
    }
  });

  test('same-destination runs go out as GSO messages only when offload is on', async () => {
    for (const offload of [true, false]) {
      const [a, b] = await pair(offload);
      try {
        const rb = recorder(b);
        for (let i = 0; i < 128; i++) a.send(b.local, numbered(i, 1400));
        await rb.until(128);
        for (let i = 0; i < 128; i++) assertNumbered(rb.packets[i], i, 1400);
        const gso = a.stats().gsoMessages;
        if (offload) assert.ok(gso > 0, 'GSO used');
        else assert.equal(gso, 0);
        assert.equal(a.stats().packetsOut, 128);
      } finally {
        a.close();
        b.close();
      }
    }
  });

  test('the socket buffers are raised (forced when root)', async () => {
    const a = await openBind({ host: HOST, port: 0, impl: 'native', rcvbuf: 8 << 20, sndbuf: 8 << 20 });
    try {
      if (process.getuid?.() === 0) {
        assert.ok(a.recvBufferBytes >= 8 << 20, `rcvbuf ${a.recvBufferBytes}`);
        assert.ok(a.sendBufferBytes >= 8 << 20, `sndbuf ${a.sendBufferBytes}`);
      } else {
        assert.ok(a.recvBufferBytes > 0);
      }
    } finally {
      a.close();
    }
  });

  test('datagrams queued by send() in the same tick as close() are still sent', async () => {
    const [a, b] = await pair(true);
    try {
      const rb = recorder(b);
      for (let i = 0; i < 10; i++) a.send(b.local, numbered(i, 100));
      a.close();
      await rb.until(10);
      for (let i = 0; i < 10; i++) assertNumbered(rb.packets[i], i, 100);
    } finally {
      b.close();
    }
  });

  test('a full send buffer is waited out (EAGAIN): a burst through a tiny buffer on a shaped link arrives complete and in order', async () => {
    // Needs root and iproute2 (a namespace tvu-<pid>-blocked whose lo has a tbf qdisc).
    const ns = `tvu-${process.pid}-blocked`;
    await run('ip', ['netns', 'add', ns]);
    try {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '200mbit', 'burst', '16kb', 'latency', '200ms']);
      const child = join(dirname(fileURLToPath(import.meta.url)), 'conn.blocked.js');
      const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, child, 'blocked', '2000'], { timeout: 30_000 });
      const r = JSON.parse(stdout.trim()) as { accepted: number; received: number; inOrder: boolean; stats: BindStats };
      assert.equal(r.accepted, 2000);
      assert.equal(r.received, 2000);
      assert.equal(r.inOrder, true);
      assert.ok(r.stats.sendWaits > 0, 'the send buffer did fill up');
      assert.equal(r.stats.sendDropped, 0);
      assert.equal(r.stats.packetsOut, 2000);
    } finally {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  });

  test('GSO falls back to plain sends when a segment exceeds the MTU, and keeps working for runs that fit', async () => {
    const ns = `tvu-${process.pid}-mtu`;
    await run('ip', ['netns', 'add', ns]);
    try {
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'mtu', '1500']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const child = join(dirname(fileURLToPath(import.meta.url)), 'conn.blocked.js');
      const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, child, 'mtu'], { timeout: 30_000 });
      const r = JSON.parse(stdout.trim()) as { accepted: number; received: number; inOrder: boolean; stats: BindStats };
      assert.equal(r.accepted, 400);
      assert.equal(r.received, 400);
      assert.equal(r.inOrder, true);
      assert.equal(r.stats.sendErrors, 0);
      assert.equal(r.stats.packetsOut, 400);
      // 200 x 1000 B fit 65 segments per message at most: GSO messages exist only for them.
      assert.ok(r.stats.gsoMessages >= 4 && r.stats.gsoMessages < 10, `gsoMessages ${r.stats.gsoMessages}`);
    } finally {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  });
});
