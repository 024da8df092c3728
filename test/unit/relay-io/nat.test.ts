import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseCidr } from '../../../relay/addr.js';
import { applyNat, natRuleset, removeNat } from '../../../relay/nat.js';
import { Netns } from './netns-helper.js';

test('ruleset: masquerade the pool out of the egress, anti-spoof and MSS clamp on the TUN', () => {
  const r = natRuleset({ table: 'topvpn_exit', pool: parseCidr('198.19.0.0/16'), tun: 'tvx0', egress: 'veth1' });
  assert.match(r, /^table ip topvpn_exit \{\}\ndelete table ip topvpn_exit\n/);
  assert.match(r, /ip saddr 198\.19\.0\.0\/16 oifname "veth1" counter masquerade/);
  assert.match(r, /iifname "tvx0" ip saddr != 198\.19\.0\.0\/16 counter drop/);
  assert.match(r, /maxseg size set rt mtu/);
  const any = natRuleset({ table: 't2', pool: parseCidr('198.19.4.0/24'), tun: 'tvx1' });
  assert.match(any, /ip saddr 198\.19\.4\.0\/24 oifname != "tvx1" counter masquerade/);
});

const ns = Netns.create('nat');
after(() => ns.destroy());

test('applyNat installs exactly its own table (idempotently) and removeNat deletes only it', () => {
  ns.run(['nft', 'add', 'table', 'ip', 'someone_else']);
  const spec = { table: 'topvpn_exit', pool: parseCidr('198.19.0.0/16'), tun: 'tvx0', egress: 'veth1' };
  applyNat(spec, ns.run);
  applyNat(spec, ns.run); // replacing, not duplicating
  const listed = ns.run(['nft', 'list', 'table', 'ip', 'topvpn_exit']);
  assert.equal(listed.match(/masquerade/g)?.length, 1);
  assert.match(listed, /ip saddr 198\.19\.0\.0\/16 oifname "veth1"/);
  assert.equal(removeNat('topvpn_exit', ns.run), true);
  assert.equal(removeNat('topvpn_exit', ns.run), false);
  const all = ns.run(['nft', 'list', 'tables']);
  assert.doesNotMatch(all, /topvpn_exit/);
  assert.match(all, /someone_else/);
});
