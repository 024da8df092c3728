import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { applyKillSwitch, killSwitchRuleset, removeKillSwitch } from '../../../client/killswitch.js';
import { Netns } from '../relay-io/netns-helper.js';

test('kill-switch ruleset: drop policy in and out, allowing lo, the TUN and the entry flow only', () => {
  const r = killSwitchRuleset({ tun: 'tvpn0', entry: { host: '198.18.0.11', port: 51820 } });
  assert.match(r, /^table inet topvpn_killswitch \{\}\ndelete table inet topvpn_killswitch\n/);
  assert.equal(r.match(/policy drop;/g)?.length, 3);
  assert.match(r, /oifname "tvpn0" accept/);
  assert.match(r, /iifname "tvpn0" accept/);
  assert.match(r, /ip daddr 198\.18\.0\.11 udp dport 51820 accept/);
  assert.match(r, /ip saddr 198\.18\.0\.11 udp sport 51820 accept/);
  assert.doesNotMatch(r, /ct state/, 'no exception for connections opened before the tunnel');
});

const ns = Netns.create('ks');
after(() => ns.destroy());

test('the kill switch loads into nft, replaces itself, and is removed', () => {
  const spec = { tun: 'tvpn0', entry: { host: '198.18.0.11', port: 51820 } };
  applyKillSwitch(spec, ns.run);
  applyKillSwitch({ ...spec, entry: { host: '198.18.0.12', port: 51821 } }, ns.run);
  const listed = ns.run(['nft', 'list', 'table', 'inet', 'topvpn_killswitch']);
  assert.match(listed, /ip daddr 198\.18\.0\.12 udp dport 51821 accept/);
  assert.doesNotMatch(listed, /198\.18\.0\.11/);
  assert.equal(removeKillSwitch(undefined, ns.run), true);
  assert.equal(removeKillSwitch(undefined, ns.run), false);
});

test('kill-switch ruleset over the WebSocket transport admits TCP to the entry\'s WS port, not UDP', () => {
  const r = killSwitchRuleset({ tun: 'tvpn0', entry: { host: '198.18.0.11', port: 8443 }, proto: 'tcp' });
  assert.match(r, /ip daddr 198\.18\.0\.11 tcp dport 8443 accept/);
  assert.match(r, /ip saddr 198\.18\.0\.11 tcp sport 8443 accept/);
  assert.doesNotMatch(r, /udp/);
});
