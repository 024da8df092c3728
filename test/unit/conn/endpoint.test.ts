import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AddressParser, ENDPOINT_CACHE_MAX, EndpointCache, formatIpv4, parseIpv4 } from '../../../conn/endpoint.js';
import { EndpointError } from '../../../conn/bind.js';

test('parseIpv4 accepts dotted quads and nothing else', () => {
  assert.equal(parseIpv4('0.0.0.0'), 0);
  assert.equal(parseIpv4('127.0.0.1'), 0x7f000001);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', 'localhost', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', ' 1.2.3.4', '1.2.3.4 ', '::1', '::ffff:1.2.3.4', '-1.2.3.4']) {
    assert.equal(parseIpv4(bad), undefined, JSON.stringify(bad));
  }
});

test('formatIpv4 and parseIpv4 are inverse', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => parseIpv4(formatIpv4(v)) === v));
  fc.assert(fc.property(fc.ipV4(), (s) => formatIpv4(parseIpv4(s) as number) === s));
});

test('EndpointCache interns: same (ip, port) gives the same frozen object; distinct ones differ', () => {
  const c = new EndpointCache();
  const a = c.get(0x7f000001, 5000);
  assert.deepEqual({ ...a }, { host: '127.0.0.1', port: 5000 });
  assert.equal(c.get(0x7f000001, 5000), a);
  assert.notEqual(c.get(0x7f000001, 5001), a);
  assert.notEqual(c.get(0x7f000002, 5000), a);
  assert.ok(Object.isFrozen(a));
  assert.throws(() => { (a as { port: number }).port = 1; });
  const h = c.getByHost('10.0.0.1', 7);
  assert.equal(c.getByHost('10.0.0.1', 7), h);
  assert.deepEqual({ ...h }, { host: '10.0.0.1', port: 7 });
  // Keys do not collide across the (ip, port) space.
  assert.notEqual(c.get(1, 0), c.get(0, 65535));
  assert.notEqual(c.get(0xffffffff, 65535), c.get(0xfffffffe, 65535));
});

test('EndpointCache stays bounded under a flood of distinct senders', () => {
  const c = new EndpointCache();
  for (let i = 0; i < ENDPOINT_CACHE_MAX + 10; i++) c.get(i, 1);
  assert.ok(c.size <= ENDPOINT_CACHE_MAX, `size ${c.size}`);
  const e = c.get(42, 1);
  assert.equal(c.get(42, 1), e, 'still interning after the reset');
});

test('AddressParser returns the numeric address and rejects bad hosts and ports with EndpointError', () => {
  const p = new AddressParser();
  assert.equal(p.ip({ host: '198.18.0.1', port: 1 }), 0xc6120001);
  assert.equal(p.ip({ host: '198.18.0.1', port: 65535 }), 0xc6120001, 'cached host, other port');
  for (const bad of [{ host: 'x', port: 1 }, { host: '1.1.1.1', port: 0 }, { host: '1.1.1.1', port: 65536 }, { host: '1.1.1.1', port: 2.5 }, { host: '1.1.1.1', port: Number.NaN }]) {
    assert.throws(() => p.ip(bad), EndpointError, JSON.stringify(bad));
  }
});
