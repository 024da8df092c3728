import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BindError, MAX_PENDING, MemoryNetwork, openBind, type Endpoint } from '../../../conn/index.js';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test('memory: datagrams to nobody are lost and counted; a later receiver on that port gets only later ones', async () => {
  const net = new MemoryNetwork();
  const a = net.open({ host: '10.0.0.1', port: 0 });
  a.send({ host: '10.0.0.2', port: 9 }, Buffer.from('lost'));
  await settle();
  assert.equal(net.lost, 1);
  const b = net.open({ host: '10.0.0.2', port: 9 });
  const got: string[] = [];
  b.onBatch((p) => got.push(...p.map((x) => x.toString())));
  a.send(b.local, Buffer.from('kept'));
  await settle();
  assert.deepEqual(got, ['kept']);
  a.close();
  b.close();
  assert.equal(net.size, 0);
});

test('memory: packets are copied at flush; a sender may reuse its buffer afterwards', async () => {
  const net = new MemoryNetwork();
  const a = net.open({ host: '10.0.0.1', port: 1000 });
  const b = net.open({ host: '10.0.0.2', port: 2000 });
  const got: Buffer[] = [];
  b.onBatch((p) => got.push(...p));
  const buf = Buffer.from('abc');
  a.sendBatch([{ to: b.local, packet: buf }]);
  buf.fill(0x7a);
  await settle();
  assert.equal(got[0]?.toString(), 'abc');
});

test('memory: ephemeral ports are distinct; 0.0.0.0 conflicts with any address on that port', () => {
  const net = new MemoryNetwork();
  const ports = new Set<number>();
  for (let i = 0; i < 50; i++) ports.add(net.open({ host: '10.0.0.1', port: 0 }).local.port);
  assert.equal(ports.size, 50);
  net.open({ host: '10.0.0.1', port: 7000 });
  assert.throws(() => net.open({ host: '0.0.0.0', port: 7000 }), (e: unknown) => e instanceof BindError && e.code === 'EADDRINUSE');
  net.open({ host: '0.0.0.0', port: 7001 });
  assert.throws(() => net.open({ host: '10.0.0.9', port: 7001 }), (e: unknown) => e instanceof BindError && e.code === 'EADDRINUSE');
  net.open({ host: '10.0.0.2', port: 7000 }); // another address, same port: fine
});

test('memory: a wildcard Bind receives for any address; `from` is the sender address', async () => {
  const net = new MemoryNetwork();
  const w = net.open({ host: '0.0.0.0', port: 53 });
  const a = net.open({ host: '10.0.0.1', port: 0 });
  const from: Endpoint[] = [];
  w.onBatch((_p, f) => from.push(...f));
  a.send({ host: '10.9.9.9', port: 53 }, Buffer.from('q'));
  await settle();
  assert.deepEqual(from.map((e) => ({ ...e })), [{ host: '10.0.0.1', port: a.local.port }]);
});

test('memory: a receiver holds at most MAX_PENDING undelivered datagrams; the rest are lost', async () => {
  const net = new MemoryNetwork();
  const a = net.open({ host: '10.0.0.1', port: 0 });
  const b = net.open({ host: '10.0.0.2', port: 0 });
  a.sendBatch(Array.from({ length: MAX_PENDING + 5 }, () => ({ to: b.local, packet: Buffer.from('x') })));
  assert.equal(net.lost, 5);
  let n = 0;
  b.onBatch((p) => { n += p.length; });
  for (let i = 0; i < 100 && n < MAX_PENDING; i++) await settle();
  assert.equal(n, MAX_PENDING);
});

test('openBind: memory needs a network; unknown implementations are refused', async () => {
  await assert.rejects(openBind({ host: '127.0.0.1', port: 0, impl: 'memory' }), (e: unknown) => e instanceof BindError && e.code === 'EINVAL');
  await assert.rejects(openBind({ host: '127.0.0.1', port: 0, impl: 'bogus' as 'native' }), (e: unknown) => e instanceof BindError && /unknown/.test(e.message));
  const net = new MemoryNetwork();
  const b = await openBind({ host: '127.0.0.1', port: 0, impl: 'memory', network: net });
  assert.equal(b.impl, 'memory');
  b.close();
});
