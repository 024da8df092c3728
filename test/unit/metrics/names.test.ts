import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry, Registry } from 'prom-client';
import { createChainMetrics, METRIC_NAMES as CHAIN_NAMES } from '../../../chain/node/metrics.js';
import { createClientMetrics, METRIC_NAMES as CLIENT_NAMES } from '../../../client/metrics.js';
import { createRelayMetrics, METRIC_NAMES as RELAY_NAMES } from '../../../relay/metrics.js';

const daemons = [
  { daemon: 'relay', prefix: 'topvpn_relay_', make: () => createRelayMetrics().registry, names: RELAY_NAMES as readonly string[] },
  { daemon: 'client', prefix: 'topvpn_client_', make: () => createClientMetrics().registry, names: CLIENT_NAMES as readonly string[] },
  { daemon: 'chain', prefix: 'topchain_', make: () => createChainMetrics(new Registry(), { chains: ['beacon', 'shard-0', 'shard-1'] }).registry, names: CHAIN_NAMES as readonly string[] },
];

const SNAKE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
/** Label names that would make a series per peer/channel/circuit (unbounded). */
const UNBOUNDED_LABELS = /(^|_)(id|ids|address|addr|ip|key|pubkey|peer|channel|circuit|hash|tx|endpoint|port|user)$/;

for (const d of daemons) {
  test(`${d.daemon}: METRIC_NAMES lists exactly what the factory registers`, () => {
    const reg = d.make();
    const registered = reg.getMetricsAsArray().map((m) => m.name).sort();
    assert.deepEqual(registered, [...d.names].sort());
    assert.equal(new Set(d.names).size, d.names.length, 'duplicate in METRIC_NAMES');
  });

  test(`${d.daemon}: names follow Prometheus conventions`, () => {
    for (const m of d.make().getMetricsAsArray()) {
      assert.match(m.name, SNAKE, `${m.name} is not snake_case`);
      assert.ok(m.name.startsWith(d.prefix), `${m.name} lacks the ${d.prefix} prefix`);
      assert.ok(m.help.trim().length > 10, `${m.name} has no help text`);
      if (String(m.type) === 'counter') assert.ok(m.name.endsWith('_total'), `counter ${m.name} must end in _total`);
      else assert.ok(!m.name.endsWith('_total'), `${m.type} ${m.name} must not end in _total`);
      if (String(m.type) === 'histogram') assert.match(m.name, /_(seconds|bytes)$/, `histogram ${m.name} needs a base-unit suffix`);
      // Units are base units: no milliseconds, kilobytes, etc.
      assert.doesNotMatch(m.name, /_(ms|milliseconds|kb|mb|kib|mib|percent)(_|$)/, `${m.name} is not in base units`);
    }
  });

  test(`${d.daemon}: label names are snake_case and bounded`, async () => {
    const reg = d.make();
    for (const m of await reg.getMetricsAsJSON()) {
      for (const v of m.values) {
        for (const l of Object.keys(v.labels)) {
          if (l === 'le') continue;
          assert.match(l, SNAKE, `${m.name}: label ${l}`);
          assert.doesNotMatch(l, UNBOUNDED_LABELS, `${m.name}: label ${l} looks unbounded`);
        }
      }
    }
  });

  test(`${d.daemon}: factory uses its own registry, never the global one`, () => {
    d.make();
    d.make(); // a second instance in the same process must not clash
    const global = new Set(globalRegistry.getMetricsAsArray().map((m) => m.name));
    for (const n of d.names) assert.ok(!global.has(n), `${n} leaked into the global registry`);
  });
}

test('no metric name is shared between daemons', () => {
  const all = daemons.flatMap((d) => d.make().getMetricsAsArray().map((m) => m.name));
  const dup = all.filter((n, i) => all.indexOf(n) !== i);
  assert.deepEqual(dup, []);
});

test('the required metrics exist with their types', () => {
  const kinds = new Map(daemons.flatMap((d) => d.make().getMetricsAsArray().map((m) => [m.name, String(m.type)] as const)));
  const want: [string, string][] = [
    ['topvpn_relay_forwarded_bytes_total', 'counter'],
    ['topvpn_relay_forwarded_packets_total', 'counter'],
    ['topvpn_relay_circuits_active', 'gauge'],
    ['topvpn_relay_circuits_total', 'counter'],
    ['topvpn_relay_handshake_seconds', 'histogram'],
    ['topvpn_relay_drops_total', 'counter'],
    ['topvpn_relay_receipts_total', 'counter'],
    ['topvpn_relay_claims_total', 'counter'],
    ['topvpn_relay_claim_seconds', 'histogram'],
    ['topvpn_relay_served_bytes_total', 'counter'],
    ['topvpn_relay_receipted_bytes_total', 'counter'],
    ['topvpn_relay_served_value_total', 'counter'],
    ['topvpn_relay_receipted_value_total', 'counter'],
    ['topvpn_relay_claimed_value_total', 'counter'],
    ['topvpn_relay_burned_value_total', 'counter'],
    ['topvpn_relay_pending_value', 'gauge'],
    ['topvpn_relay_peers', 'gauge'],
    ['topvpn_relay_errors_total', 'counter'],
    ['topvpn_relay_up', 'gauge'],
    ['topvpn_relay_build_info', 'gauge'],
    ['topvpn_client_tunnel_bytes_total', 'counter'],
    ['topvpn_client_tunnel_packets_total', 'counter'],
    ['topvpn_client_circuit_build_seconds', 'histogram'],
    ['topvpn_client_circuits_built_total', 'counter'],
    ['topvpn_client_circuits_failed_total', 'counter'],
    ['topvpn_client_reconnects_total', 'counter'],
    ['topvpn_client_receipts_signed_total', 'counter'],
    ['topvpn_client_spent_value_total', 'counter'],
    ['topvpn_client_rtt_seconds', 'histogram'],
    ['topvpn_client_up', 'gauge'],
    ['topchain_height', 'gauge'],
    ['topchain_block_seconds', 'histogram'],
    ['topchain_finality_seconds', 'histogram'],
    ['topchain_txs_total', 'counter'],
    ['topchain_view_changes_total', 'counter'],
    ['topchain_committee_member', 'gauge'],
    ['topchain_supply', 'gauge'],
    ['topchain_peers', 'gauge'],
    ['topchain_errors_total', 'counter'],
    ['topchain_mempool_txs', 'gauge'],
  ];
  for (const [n, t] of want) assert.equal(kinds.get(n), t, n);
});

test('bounded label values are pre-created at 0 so rate() has series from the first scrape', async () => {
  const m = createRelayMetrics();
  const drops = await m.drops.get();
  assert.ok(drops.values.length >= 20);
  assert.ok(drops.values.every((v) => v.value === 0));
  const dirs = (await m.forwardedBytes.get()).values.map((v) => v.labels.direction).sort();
  assert.deepEqual(dirs, ['backward', 'forward']);
  const c = createChainMetrics(new Registry(), { chains: ['beacon', 'shard-0'] });
  const txs = (await c.txs.get()).values;
  assert.equal(txs.length, 2 * 4);
});
