import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../common/log.js';
import { MemoryNetwork, openBindTransport, type Endpoint } from '../../../conn/index.js';
import type { UdpTransport } from '../../../relay/udp.js';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test('openBindTransport is a drop-in for openUdp: same shape, per-datagram callback, send never throws', async () => {
  const network = new MemoryNetwork();
  const got: [string, Endpoint][] = [];
  const a = await openBindTransport({ host: '10.0.0.1', port: 0, impl: 'memory', network, log: silentLogger(), onDatagram: () => undefined });
  const b = await openBindTransport({ host: '10.0.0.2', port: 0, impl: 'memory', network, log: silentLogger(), onDatagram: (p, from) => got.push([p.toString(), from]) });
  const asUdp: UdpTransport = b; // the shape relay/udp.ts's callers use
  assert.equal(asUdp.local.port, b.local.port);
  a.send(b.local, Buffer.from('one'));
  a.send(b.local, Buffer.from('two'));
  a.send({ host: 'not-an-ip', port: 1 }, Buffer.from('x'));
  a.send(b.local, Buffer.alloc(70_000));
  await settle();
  assert.deepEqual(got.map(([s]) => s), ['one', 'two']);
  assert.deepEqual({ ...got[0]![1] }, { ...a.local });
  const st = a.stats();
  assert.equal(st.datagramsOut, 2);
  assert.equal(st.bytesOut, 6);
  assert.equal(st.sendErrors, 2, 'refused datagrams are counted, not thrown');
  assert.equal(b.stats().datagramsIn, 2);
  await a.close();
  a.send(b.local, Buffer.from('after close')); // ignored, like openUdp's transport
  await a.close();
  await b.close();
  assert.equal(network.size, 0);
});

test('openBindTransport: onBatch, when given, receives whole batches instead of onDatagram', async () => {
  const network = new MemoryNetwork();
  let single = 0;
  const batches: number[] = [];
  const a = await openBindTransport({ host: '10.0.0.1', port: 0, impl: 'memory', network, log: silentLogger(), onDatagram: () => undefined });
  const b = await openBindTransport({
    host: '10.0.0.2', port: 0, impl: 'memory', network, log: silentLogger(),
    onDatagram: () => { single++; },
    onBatch: (p) => { batches.push(p.length); },
  });
  for (let i = 0; i < 10; i++) a.send(b.local, Buffer.from([i]));
  await settle();
  assert.equal(single, 0);
  assert.deepEqual(batches, [10]);
  await a.close();
  await b.close();
});
