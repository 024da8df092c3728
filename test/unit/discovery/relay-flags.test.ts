/** `toprelay start` discovery flags (relay/config.ts parseRelayDiscoveryFlags via parseRelayStartFlags). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BANDWIDTH_MBIT, parseRelayStartFlags, type RelayStartFlags } from '../../../relay/config.js';

const MA = '/ip4/198.18.0.11/tcp/4001/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf';
const PAID: RelayStartFlags = { listen: '198.18.0.12:51820', key: 'k.json', chainRpc: 'http://198.18.0.200:30001', nodeKey: 'n.json', pricePerGib: '1000' };
const OP = 'a'.repeat(64);

test('discovery is off without --p2p-listen, and its other flags are refused then', () => {
  assert.equal(parseRelayStartFlags(PAID).discovery, undefined);
  assert.equal(parseRelayStartFlags({ ...PAID, peerKey: 'p.key' }).discovery, undefined, 'peer-key (written by init into relay.yaml) alone does not turn it on');
  assert.throws(() => parseRelayStartFlags({ ...PAID, country: 'DE' }), /--country only make sense with --p2p-listen/);
  assert.throws(() => parseRelayStartFlags({ ...PAID, bootstrap: MA, bandwidth: '5' }), /--bootstrap, --bandwidth only make sense/);
});

test('discovery flags parsed with defaults; needs paid relaying and a country', () => {
  const d = parseRelayStartFlags({ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'de' }).discovery!;
  assert.deepEqual(d, { listen: ['/ip4/0.0.0.0/tcp/4001'], bootstrap: [], country: 'DE', family: [], bandwidthBps: DEFAULT_BANDWIDTH_MBIT * 1e6, lifetimeMs: 1_800_000, refreshMs: 600_000 });
  const e = parseRelayStartFlags({
    ...PAID, p2pListen: '/ip4/198.18.0.12/tcp/4001', p2pAnnounce: '/ip4/203.0.113.5/tcp/4001', bootstrap: `${MA},${MA}`, peerKey: 'p.key', country: 'FR',
    operator: OP, family: `${'b'.repeat(64)}`, bandwidth: '2.5', advertise: '203.0.113.5:51820', descriptorLifetime: '60',
  }).discovery!;
  assert.deepEqual(e.bootstrap, [MA, MA]);
  assert.deepEqual(e.announce, ['/ip4/203.0.113.5/tcp/4001']);
  assert.equal(e.peerKeyFile, 'p.key');
  assert.equal(e.operator, OP);
  assert.deepEqual(e.family, ['b'.repeat(64)]);
  assert.equal(e.bandwidthBps, 2_500_000);
  assert.deepEqual(e.advertise, { host: '203.0.113.5', port: 51820 });
  assert.equal(e.lifetimeMs, 60_000);
  assert.equal(e.refreshMs, 20_000, 'refresh defaults to a third of a short lifetime');
  const bad: Array<[RelayStartFlags, RegExp]> = [
    [{ listen: '0.0.0.0:1', key: 'k', p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE' }, /needs paid relaying/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001' }, /--country/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'XX' }, /--country/],
    [{ ...PAID, p2pListen: 'tcp:4001', country: 'DE' }, /--p2p-listen/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', bootstrap: '/ip4/1.2.3.4/tcp/4001' }, /\/p2p\//],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', operator: 'xyz' }, /--operator/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', family: 'nope' }, /--family/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', bandwidth: '0' }, /--bandwidth/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', advertise: '0.0.0.0:51820' }, /--advertise/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', descriptorLifetime: '100000' }, /at most 86400/],
    [{ ...PAID, p2pListen: '/ip4/0.0.0.0/tcp/4001', country: 'DE', descriptorLifetime: '60', descriptorRefresh: '60' }, /shorter than/],
  ];
  for (const [f, re] of bad) assert.throws(() => parseRelayStartFlags(f), (err: Error) => err.name === 'ConfigError' && re.test(err.message), JSON.stringify(f));
});
