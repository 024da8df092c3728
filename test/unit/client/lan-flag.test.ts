/** `topvpn connect --lan CIDR[,CIDR]` (client/config.ts): canonical IPv4 networks, only with --kill-switch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConnectFlags, parseLan } from '../../../client/config.js';
import { ConfigError } from '../../../relay/config.js';

const relays = `198.18.0.11:51820@${'11'.repeat(32)},198.18.0.12:51820@${'12'.repeat(32)},198.18.0.13:51820@${'13'.repeat(32)}`;

test('--lan takes canonical IPv4 networks and needs --kill-switch', () => {
  assert.deepEqual(parseLan('192.168.1.0/24, 10.0.0.0/8', true), ['192.168.1.0/24', '10.0.0.0/8']);
  for (const bad of ['192.168.1.5/24', '192.168.1.0', '192.168.1.0/33', 'lan', '192.168.1.0/24;flush ruleset', '']) {
    assert.throws(() => parseLan(bad, true), ConfigError, bad);
  }
  assert.throws(() => parseLan('192.168.1.0/24', false), /only makes sense with --kill-switch/);
  const cfg = parseConnectFlags({ relays, killSwitch: true, lan: '192.168.1.0/24' });
  assert.deepEqual(cfg.lan, ['192.168.1.0/24']);
  assert.equal(parseConnectFlags({ relays }).lan, undefined);
});
