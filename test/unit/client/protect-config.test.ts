import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConnectFlags } from '../../../client/config.js';
import { ConfigError, parseRelayStartFlags } from '../../../relay/config.js';

const key = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);
const list = [11, 12, 13, 14].map((n) => `198.18.0.${n}:51820@${key(n)}`).join(',');

test('connect: relays of the list outside the path (exit excepted) become spares', () => {
  const cfg = parseConnectFlags({ relays: list, hops: '3' });
  assert.deepEqual(cfg.path.map((r) => r.endpoint.host), ['198.18.0.11', '198.18.0.12', '198.18.0.14']);
  assert.deepEqual(cfg.spares?.map((r) => r.endpoint.host), ['198.18.0.13']);
  assert.equal(parseConnectFlags({ relays: list.split(',').slice(0, 3).join(','), hops: '3' }).spares, undefined);
});

test('connect: --transport ws needs --ws-url; ws flags need ws; the kill switch works with ws', () => {
  const cfg = parseConnectFlags({ relays: list, transport: 'ws', wsUrl: 'wss://198.18.0.11:8443', wsCa: '/tmp/ca.pem' });
  assert.deepEqual(cfg.ws, { url: 'wss://198.18.0.11:8443', caFile: '/tmp/ca.pem' });
  assert.equal(parseConnectFlags({ relays: list }).ws, undefined);
  assert.throws(() => parseConnectFlags({ relays: list, transport: 'ws' }), ConfigError);
  assert.throws(() => parseConnectFlags({ relays: list, transport: 'ws', wsUrl: 'http://x:1' }), ConfigError);
  assert.throws(() => parseConnectFlags({ relays: list, transport: 'tcp' }), ConfigError);
  assert.throws(() => parseConnectFlags({ relays: list, transport: 'ws', wsUrl: 'ws://198.18.0.99:8443' }), ConfigError, 'not the entry: it would be routed into the tunnel');
  assert.throws(() => parseConnectFlags({ relays: list, wsUrl: 'ws://198.18.0.11:8443' }), ConfigError);
  const ks = parseConnectFlags({ relays: list, transport: 'ws', wsUrl: 'ws://198.18.0.11:8443', killSwitch: true });
  assert.equal(ks.killSwitch, true);
  assert.deepEqual(ks.ws, { url: 'ws://198.18.0.11:8443' });
});

test('relay start: --ws-listen, with --ws-cert and --ws-key together', () => {
  const base = { listen: '198.18.0.11:51820', key: '/tmp/k.json' };
  assert.deepEqual(parseRelayStartFlags({ ...base, wsListen: '198.18.0.11:8443' }).ws, { listen: { host: '198.18.0.11', port: 8443 } });
  assert.deepEqual(parseRelayStartFlags({ ...base, wsListen: '0.0.0.0:443', wsCert: 'c.pem', wsKey: 'k.pem' }).ws, { listen: { host: '0.0.0.0', port: 443 }, certFile: 'c.pem', keyFile: 'k.pem' });
  assert.equal(parseRelayStartFlags(base).ws, undefined);
  assert.throws(() => parseRelayStartFlags({ ...base, wsListen: '198.18.0.11:8443', wsCert: 'c.pem' }), ConfigError);
  assert.throws(() => parseRelayStartFlags({ ...base, wsCert: 'c.pem', wsKey: 'k.pem' }), ConfigError);
  assert.throws(() => parseRelayStartFlags({ ...base, wsListen: 'nowhere' }), ConfigError);
});
