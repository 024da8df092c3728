import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStateDir, parseConnectFlags } from '../../../client/config.js';
import { RelayListError } from '../../../client/relay-list.js';
import { ConfigError } from '../../../relay/config.js';

const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);
const LIST = `198.18.0.11:51820@${K1},198.18.0.13:51820@${K2}`;

test('connect flags: defaults', () => {
  const c = parseConnectFlags({ relays: LIST, hops: '2' });
  assert.equal(c.hops, 2);
  assert.equal(c.path.length, 2);
  assert.equal(c.controlPath, '/run/topvpn/client.sock');
  assert.equal(c.stateDir, '/run/topvpn/client.state');
  assert.equal(c.tunName, 'tvpn0');
  assert.equal(c.dns, 'auto');
  assert.equal(c.resolvConf, '/etc/resolv.conf');
  assert.equal(c.resolvConfExplicit, false);
});

test('connect flags: explicit values', () => {
  const c = parseConnectFlags({ relays: LIST, hops: '1', control: '/tmp/x/c1.sock', tun: 'tv1', dns: '198.18.9.53, 198.18.9.54', resolvConf: '/tmp/r.conf', json: true });
  assert.equal(c.path[0]!.endpoint.host, '198.18.0.13');
  assert.equal(c.stateDir, '/tmp/x/c1.state');
  assert.deepEqual(c.dns, ['198.18.9.53', '198.18.9.54']);
  assert.equal(c.resolvConfExplicit, true);
  assert.equal(c.json, true);
  assert.equal(parseConnectFlags({ relays: LIST, hops: '1', dns: false }).dns, 'off');
  assert.equal(defaultStateDir('/run/a/b.sock'), '/run/a/b.state');
});

test('connect flags: errors are ConfigError / RelayListError naming the problem', () => {
  assert.throws(() => parseConnectFlags({}), (e: unknown) => e instanceof ConfigError && /--relays/.test(e.message));
  assert.throws(() => parseConnectFlags({ relays: LIST, hops: 'three' }), /--hops: "three" is not a number/);
  assert.throws(() => parseConnectFlags({ relays: LIST, hops: '4' }), /--hops must be 1\.\.3/);
  assert.throws(() => parseConnectFlags({ relays: LIST, hops: '3' }), (e: unknown) => e instanceof RelayListError && /needs at least 3/.test(e.message));
  assert.throws(() => parseConnectFlags({ relays: LIST, hops: '2', dns: '1.2.3' }), /--dns: "1\.2\.3"/);
  assert.throws(() => parseConnectFlags({ relays: LIST, hops: '2', tun: 'x'.repeat(16) }), /--tun/);
  assert.throws(() => parseConnectFlags({ relays: 'garbage', hops: '1' }), RelayListError);
  assert.throws(() => parseConnectFlags({ relays: LIST, hops: '1', metrics: 'localhost:9' }), /--metrics: not an IPv4/);
  assert.deepEqual(parseConnectFlags({ relays: LIST, hops: '1', metrics: '127.0.0.1:0' }).metrics, { host: '127.0.0.1', port: 0 });
});
