/**
 * The kill switch's `arp` table (client/killswitch.ts): ARP only to/from the entry's next hop
 * (and --lan networks). Checked on the ruleset text and for real between two namespaces
 * `tn7-ka-<pid>` / `tn7-kb-<pid>` joined by a veth (needs root; run under the heavy lock).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { applyKillSwitch, arpRuleset, KillSwitchError, killSwitchRuleset, removeKillSwitch } from '../../../client/killswitch.js';
import { type CommandRunner, runCommand } from '../../../relay/system.js';

test('arp ruleset: drop policy both ways, only the next hop and LAN networks admitted', () => {
  const r = arpRuleset({ tun: 'tvpn0', entry: { host: '198.18.0.11', port: 51820 }, arpPeers: ['198.18.0.1'], lan: ['192.168.1.0/24'] });
  assert.match(r, /^table arp topvpn_killswitch \{\}\ndelete table arp topvpn_killswitch\n/);
  assert.equal(r.match(/policy drop;/g)?.length, 2);
  assert.match(r, /arp daddr ip \{ 198\.18\.0\.1, 192\.168\.1\.0\/24 \} accept/);
  assert.match(r, /arp saddr ip \{ 198\.18\.0\.1, 192\.168\.1\.0\/24 \} accept/);
  const none = arpRuleset({ tun: 'tvpn0', entry: { host: '198.18.0.11', port: 51820 } });
  assert.doesNotMatch(none, /accept/, 'no peer: all ARP dropped');
  const inet = killSwitchRuleset({ tun: 'tvpn0', entry: { host: '198.18.0.11', port: 51820 }, lan: ['192.168.1.0/24'] });
  assert.match(inet, /ip daddr \{ 192\.168\.1\.0\/24 \} accept/);
  assert.match(inet, /ip saddr \{ 192\.168\.1\.0\/24 \} accept/);
  assert.throws(() => arpRuleset({ tun: 't', entry: { host: '1.1.1.1', port: 1 }, arpPeers: ['1.1.1.1; flush ruleset'] }), KillSwitchError);
});

const A = `tn7-ka-${process.pid}`;
const B = `tn7-kb-${process.pid}`;
const inNs = (ns: string): CommandRunner => (argv, input) => runCommand(['ip', 'netns', 'exec', ns, ...argv], input);
const sh = (argv: string[]): void => void execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
const cleanup = (): void => {
  for (const ns of [A, B]) {
    try {
      sh(['ip', 'netns', 'del', ns]);
    } catch {
      /* gone */
    }
  }
};
process.on('exit', cleanup);

before(() => {
  cleanup();
  sh(['ip', 'netns', 'add', A]);
  sh(['ip', 'netns', 'add', B]);
  sh(['ip', '-n', A, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', B]);
  sh(['ip', '-n', A, 'addr', 'add', '198.18.160.10/24', 'dev', 'eth0']);
  sh(['ip', '-n', B, 'addr', 'add', '198.18.160.11/24', 'dev', 'eth0']);
  sh(['ip', '-n', B, 'addr', 'add', '198.18.160.12/24', 'dev', 'eth0']);
  for (const ns of [A, B]) {
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  }
});
after(cleanup);

const pings = (ip: string): boolean => {
  try {
    inNs(A)(['ping', '-c', '1', '-W', '1', ip]);
    return true;
  } catch {
    return false;
  }
};

test('loaded for real: the next hop resolves, any other neighbour does not; removal restores ARP', () => {
  const spec = { tun: 'tvpn0', entry: { host: '198.18.160.11', port: 51820 }, arpPeers: ['198.18.160.11'] };
  // Only the arp table, so the IP packets themselves are not what blocks the second ping.
  inNs(A)(['nft', '-f', '-'], arpRuleset(spec));
  inNs(A)(['ip', 'neigh', 'flush', 'dev', 'eth0']);
  assert.equal(pings('198.18.160.11'), true, 'the entry (next hop) is resolved');
  assert.equal(pings('198.18.160.12'), false, 'another address on the link is not');
  const listed = inNs(A)(['nft', 'list', 'table', 'arp', 'topvpn_killswitch']);
  assert.match(listed, /counter packets [1-9]\d* .*ARP dropped/, 'the drop was counted');
  inNs(A)(['nft', 'delete', 'table', 'arp', 'topvpn_killswitch']);
  // Both tables together: applied in one transaction, removed together.
  applyKillSwitch(spec, inNs(A));
  assert.match(inNs(A)(['nft', 'list', 'tables']), /table inet topvpn_killswitch[\s\S]*table arp topvpn_killswitch/);
  assert.equal(removeKillSwitch(undefined, inNs(A)), true);
  assert.equal(inNs(A)(['nft', 'list', 'tables']).trim(), '');
  assert.equal(removeKillSwitch(undefined, inNs(A)), false);
  inNs(A)(['ip', 'neigh', 'flush', 'dev', 'eth0']);
  assert.equal(pings('198.18.160.12'), true, 'ARP works again once removed');
});
