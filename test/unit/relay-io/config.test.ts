import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AddressError, cidrContains, cidrHost, parseCidr, parseEndpoint } from '../../../relay/addr.js';
import { ConfigError, DEFAULT_EXIT_POOL, parseRelayStartFlags } from '../../../relay/config.js';
import { exitCodeFor } from '../../../relay/cli-util.js';
import { innerMtu, EXIT_TUN_MTU } from '../../../relay/exit-net.js';
import { LAYER_OVERHEAD } from '../../../protocol/constants.js';

test('parseEndpoint accepts IPv4 HOST:PORT and rejects the rest with a reason', () => {
  assert.deepEqual(parseEndpoint('198.18.0.11:51820'), { host: '198.18.0.11', port: 51820 });
  assert.deepEqual(parseEndpoint('0.0.0.0:0', { allowZeroPort: true }), { host: '0.0.0.0', port: 0 });
  assert.throws(() => parseEndpoint('198.18.0.11'), /HOST:PORT/);
  assert.throws(() => parseEndpoint('198.18.0.11:0'), /port out of range/);
  assert.throws(() => parseEndpoint('198.18.0.11:65536'), /port out of range/);
  assert.throws(() => parseEndpoint('198.18.0.256:1'), /octet > 255/);
  assert.throws(() => parseEndpoint('relay.example:1'), AddressError);
  assert.throws(() => parseEndpoint('1.2.3.4:x'), /bad port/);
});

test('parseCidr normalizes, refuses host bits, and cidrHost/cidrContains agree', () => {
  const c = parseCidr('198.19.0.0/16');
  assert.equal(c.network, '198.19.0.0');
  assert.equal(c.prefixLen, 16);
  assert.equal(cidrHost(c, 1), '198.19.0.1');
  assert.equal(cidrHost(c, 65535), '198.19.255.255');
  assert.throws(() => cidrHost(c, 65536), /outside/);
  assert.ok(cidrContains(c, '198.19.200.7'));
  assert.ok(!cidrContains(c, '198.18.200.7'));
  assert.equal(parseCidr('10.1.2.3').prefixLen, 32);
  assert.throws(() => parseCidr('198.19.0.1/16'), /host bits set \(did you mean 198\.19\.0\.0\/16\?\)/);
  assert.equal(parseCidr('198.19.0.1/16', { allowHostBits: true }).network, '198.19.0.0');
  assert.throws(() => parseCidr('198.19.0.0/33'), /prefix length > 32/);
  assert.throws(() => parseCidr('198.19.0.0/'), /bad prefix length/);
  assert.equal(parseCidr('0.0.0.0/0').base, 0);
});

test('relay start flags: a plain relay', () => {
  const cfg = parseRelayStartFlags({ listen: '198.18.0.11:51820', key: '/tmp/k.json' });
  assert.deepEqual(cfg.listen, { host: '198.18.0.11', port: 51820 });
  assert.equal(cfg.keyFile, '/tmp/k.json');
  assert.equal(cfg.exit, undefined);
  assert.equal(cfg.statsIntervalSec, 60);
  assert.equal(parseRelayStartFlags({ listen: '127.0.0.1:0', key: 'k', statsInterval: '0' }).statsIntervalSec, 0);
  const m = parseRelayStartFlags({ listen: '127.0.0.1:0', key: 'k', metrics: '198.18.0.11:9464', region: 'eu' });
  assert.deepEqual(m.metrics, { host: '198.18.0.11', port: 9464 });
  assert.equal(m.region, 'eu');
});

test('relay start flags: an exit with defaults and with every option', () => {
  const d = parseRelayStartFlags({ listen: '0.0.0.0:51820', key: 'k', exit: true });
  assert.equal(`${d.exit!.pool.network}/${d.exit!.pool.prefixLen}`, DEFAULT_EXIT_POOL);
  assert.equal(d.exit!.tun, 'tvx0');
  assert.equal(d.exit!.nftTable, 'topvpn_exit');
  assert.deepEqual(d.exit!.allow, []);
  assert.equal(d.exit!.egress, undefined);
  const f = parseRelayStartFlags({
    listen: '198.18.0.13:51820',
    key: 'k',
    exit: true,
    exitPool: '198.19.4.0/24',
    exitAllow: '198.18.0.0/15, 203.0.113.0/24',
    egress: 'veth-out',
    dns: '198.18.9.53',
    tun: 'exit0',
    nftTable: 'exit_b',
  });
  const e = f.exit!;
  assert.equal(e.pool.network, '198.19.4.0');
  assert.deepEqual(e.allow.map((c) => `${c.network}/${c.prefixLen}`), ['198.18.0.0/15', '203.0.113.0/24']);
  assert.equal(e.egress, 'veth-out');
  assert.equal(e.dns, '198.18.9.53');
  assert.equal(e.tun, 'exit0');
  assert.equal(e.nftTable, 'exit_b');
});

test('relay start flags: errors name the flag and are usage errors (exit code 2)', () => {
  const cases: Array<[Parameters<typeof parseRelayStartFlags>[0], RegExp]> = [
    [{ key: 'k' }, /--listen/],
    [{ listen: '1.2.3.4:5' }, /--key/],
    [{ listen: '1.2.3.4', key: 'k' }, /--listen: expected HOST:PORT/],
    [{ listen: '1.2.3.4:5', key: 'k', exitPool: '198.19.0.0/16' }, /--exit-pool only make sense with --exit/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, exitPool: '198.19.0.0/31' }, /too small/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, exitPool: 'nope' }, /--exit-pool: not an IPv4/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, exitAllow: '198.18.0.0/15,bad' }, /--exit-allow/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, exitAllow: ',' }, /--exit-allow: expected/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, dns: '1.1.1' }, /--dns/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, tun: 'a-name-that-is-too-long' }, /--tun/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, tun: 'x0', egress: 'x0' }, /--egress must differ/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, nftTable: 'bad table' }, /--nft-table/],
    [{ listen: '1.2.3.4:5', key: 'k', exit: true, exitAllow: '1.0.0.0/8', exitPolicy: 'p' }, /exclude each other/],
    [{ listen: '1.2.3.4:5', key: 'k', logLevel: 'loud' }, /--log-level/],
    [{ listen: '1.2.3.4:5', key: 'k', statsInterval: '1.5' }, /--stats-interval/],
    [{ listen: '1.2.3.4:5', key: 'k', metrics: '9464' }, /--metrics: expected HOST:PORT/],
    [{ listen: '1.2.3.4:5', key: 'k', region: 'Europe West' }, /--region/],
  ];
  for (const [flags, re] of cases) {
    let caught: unknown;
    try {
      parseRelayStartFlags(flags);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError, `expected ConfigError for ${JSON.stringify(flags)}`);
    assert.match((caught as Error).message, re);
    assert.equal(exitCodeFor(caught), 2);
  }
  assert.equal(exitCodeFor(new Error('boom')), 1);
});

test('inner MTU follows the protocol overhead per hop', () => {
  assert.equal(LAYER_OVERHEAD, 33);
  assert.equal(innerMtu(1), 1500 - 28 - LAYER_OVERHEAD);
  assert.equal(innerMtu(3), 1500 - 28 - 3 * LAYER_OVERHEAD);
  assert.equal(EXIT_TUN_MTU, innerMtu(1));
});
