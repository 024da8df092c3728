import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChainMetrics } from '../../../chain/node/metrics.js';
import { createClientMetrics } from '../../../client/metrics.js';
import { repoRoot } from '../../../common/paths.js';
import { formatProblems, knownMetricsOf, lintDashboard, lintDashboards, scanPromql, type LintProblem, type LintRule } from '../../../grafana/lint.js';
import { createRelayMetrics } from '../../../relay/metrics.js';

const DIR = join(repoRoot(), 'grafana', 'dashboards');
/** What the daemons serve: relay/metrics.ts, client/metrics.ts, chain/node/metrics.ts. */
const known = knownMetricsOf(createRelayMetrics().registry, createClientMetrics().registry, createChainMetrics().registry);

type Json = Record<string, unknown>;
function load(file: string): Json {
  return JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Json;
}
function panels(d: Json): Json[] {
  const out: Json[] = [];
  for (const p of d.panels as Json[]) {
    out.push(p);
    if (Array.isArray(p.panels)) out.push(...(p.panels as Json[]));
  }
  return out;
}
function exprs(d: Json): string[] {
  return panels(d).flatMap((p) => ((p.targets as Json[] | undefined) ?? []).map((t) => String(t.expr)));
}
function rules(ps: LintProblem[]): LintRule[] {
  return [...new Set(ps.map((p) => p.rule))].sort();
}
/** A copy of relay-operator.json changed by `edit`, linted alone. */
function lintEdited(edit: (d: Json) => void, k: Parameters<typeof lintDashboard>[2] = known): LintProblem[] {
  const d = load('relay-operator.json');
  edit(d);
  return lintDashboard('edited.json', d, k);
}
function firstQueryPanel(d: Json): Json {
  return panels(d).find((p) => p.type !== 'row')!;
}

test('the three dashboards and both provisioning files exist', () => {
  const files = readdirSync(DIR).sort();
  for (const f of ['chain.json', 'network-overview.json', 'relay-operator.json']) assert.ok(files.includes(f), f);
  const prov = join(repoRoot(), 'grafana', 'provisioning');
  assert.match(readFileSync(join(prov, 'datasources', 'prometheus.yaml'), 'utf8'), /type: prometheus/);
  const dash = readFileSync(join(prov, 'dashboards', 'topvpn.yaml'), 'utf8');
  assert.match(dash, /type: file/);
  assert.match(dash, /path: /);
});

test('every dashboard lints clean against the metrics the three factories define', () => {
  const problems = lintDashboards(DIR, known);
  assert.equal(problems.length, 0, formatProblems(problems));
});

test('dashboards cover what operators need (metric names per dashboard)', () => {
  const need: Record<string, string[]> = {
    'relay-operator.json': [
      'topvpn_relay_forwarded_bytes_total',
      'topvpn_relay_forwarded_packets_total',
      'topvpn_relay_circuits_active',
      'topvpn_relay_handshake_seconds_bucket',
      'topvpn_relay_drops_total',
      'topvpn_relay_receipts_total',
      'topvpn_relay_served_value_total',
      'topvpn_relay_receipted_value_total',
      'topvpn_relay_claimed_value_total',
      'topvpn_relay_burned_value_total',
      'topvpn_relay_pending_value',
      'topvpn_relay_claims_total',
      'topvpn_relay_claim_seconds_bucket',
    ],
    'chain.json': ['topchain_height', 'topchain_block_seconds_sum', 'topchain_finality_seconds_bucket', 'topchain_txs_total', 'topchain_view_changes_total', 'topchain_committee_member', 'topchain_supply'],
    'network-overview.json': ['topvpn_relay_up', 'topvpn_relay_info', 'topvpn_relay_forwarded_bytes_total', 'topchain_supply'],
  };
  for (const [file, names] of Object.entries(need)) {
    const used = new Set(exprs(load(file)).flatMap((e) => scanPromql(e).metrics.map((m) => m.name)));
    for (const n of names) assert.ok(used.has(n), `${file} does not query ${n}`);
  }
  const relay = exprs(load('relay-operator.json')).join('\n');
  assert.match(relay, /histogram_quantile\(0\.5,/);
  assert.match(relay, /histogram_quantile\(0\.99,/);
  const chain = exprs(load('chain.json')).join('\n');
  assert.match(chain, /kind=~"circulating\|staked\|channels\|burned/);
  const overview = exprs(load('network-overview.json')).join('\n');
  assert.match(overview, /by \(region\)/);
});

test('dashboards: Grafana ≥ 10 shape, datasource variable, no hard-coded instances', () => {
  for (const f of ['chain.json', 'network-overview.json', 'relay-operator.json']) {
    const d = load(f);
    assert.ok((d.schemaVersion as number) >= 38, f);
    const list = (d.templating as { list: Json[] }).list;
    assert.deepEqual(
      list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query]),
      [['datasource', 'prometheus']],
    );
    for (const p of panels(d)) {
      if (p.type === 'row') continue;
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `${f}: ${String(p.title)}`);
      assert.ok(String((p.fieldConfig as { defaults: Json }).defaults.unit).length > 0);
    }
    assert.doesNotMatch(JSON.stringify(d), /instance=\\"[^$\\]/, `${f}: hard-coded instance`);
  }
});

test('scanPromql: metric names, functions, labels, strings, numbers, variables', () => {
  const s = scanPromql(
    'histogram_quantile(0.99, sum by (le, kind) (rate(a_seconds_bucket{job=~"$job", x="rate(b_total)"}[$__rate_interval]))) * 1e6 + on (instance) group_left (region) c_info offset 5m / scalar(d_total) > bool 2',
  );
  assert.deepEqual(s.metrics.map((m) => [m.name, m.fn]), [['a_seconds_bucket', 'rate'], ['c_info', ''], ['d_total', 'scalar']]);
  assert.deepEqual(s.functions, ['histogram_quantile', 'rate', 'scalar']);
  assert.deepEqual(s.rateRanges, ['$__rate_interval']);
  assert.deepEqual(s.hardcoded, []);
  const t = scanPromql('count(up) by (region) and label_replace(x_total, "dst", "$1", "src", "(.*)") unless sum without (a) (y)');
  assert.deepEqual(t.metrics.map((m) => m.name), ['up', 'x_total', 'y']);
  assert.deepEqual(scanPromql('z{instance="10.0.0.1:9100"}').hardcoded, [{ label: 'instance', value: '10.0.0.1:9100' }]);
  assert.deepEqual(scanPromql('z{instance=~"$instance"}').hardcoded, []);
  assert.deepEqual(scanPromql('rate(q_total[5m])').rateRanges, ['5m']);
});

test('negative: a bogus metric is reported as unknown-metric', () => {
  const ps = lintEdited((d) => {
    ((firstQueryPanel(d).targets as Json[])[0] as Json).expr = 'sum(topvpn_relay_bogus_thing)';
  });
  assert.deepEqual(rules(ps), ['unknown-metric']);
  assert.match(ps[0]!.message, /topvpn_relay_bogus_thing/);
  assert.match(ps[0]!.where, /^panel \d+ ".+" target A$/);
});

test('negative: a missing unit is reported', () => {
  const ps = lintEdited((d) => {
    delete ((firstQueryPanel(d).fieldConfig as Json).defaults as Json).unit;
  });
  assert.deepEqual(rules(ps), ['unit']);
});

test('negative: increase(), delta() and irate() are forbidden', () => {
  for (const fn of ['increase', 'delta', 'irate', 'idelta']) {
    const ps = lintEdited((d) => {
      ((firstQueryPanel(d).targets as Json[])[0] as Json).expr = `sum(${fn}(topvpn_relay_forwarded_bytes_total[$__rate_interval]))`;
    });
    assert.ok(rules(ps).includes('forbidden-function'), `${fn}: ${formatProblems(ps)}`);
  }
});

test('negative: a datasource other than the variable is reported (panel, target, missing)', () => {
  let ps = lintEdited((d) => {
    firstQueryPanel(d).datasource = { type: 'prometheus', uid: 'PBFA97CFB590B2093' };
  });
  assert.deepEqual(rules(ps), ['datasource']);
  ps = lintEdited((d) => {
    ((firstQueryPanel(d).targets as Json[])[0] as Json).datasource = 'Prometheus';
  });
  assert.deepEqual(rules(ps), ['datasource']);
  ps = lintEdited((d) => {
    delete firstQueryPanel(d).datasource;
  });
  assert.deepEqual(rules(ps), ['datasource']);
  ps = lintEdited((d) => {
    (d.templating as { list: Json[] }).list = (d.templating as { list: Json[] }).list.filter((v) => v.type !== 'datasource');
  });
  assert.deepEqual(rules(ps), ['schema']);
});

test('negative: counters outside rate(), gauges inside it, hard-coded ranges and instances', () => {
  const set = (expr: string) =>
    lintEdited((d) => {
      ((firstQueryPanel(d).targets as Json[])[0] as Json).expr = expr;
    });
  assert.deepEqual(rules(set('sum(topvpn_relay_drops_total)')), ['rate']);
  assert.deepEqual(rules(set('sum(rate(topvpn_relay_circuits_active[$__rate_interval]))')), ['rate']);
  assert.deepEqual(rules(set('histogram_quantile(0.5, sum by (le) (topvpn_relay_claim_seconds_bucket))')), ['rate']);
  assert.deepEqual(rules(set('sum(rate(topvpn_relay_drops_total[5m]))')), ['rate-interval']);
  assert.deepEqual(rules(set('sum(topvpn_relay_up{instance="relay-1:9464"})')), ['hardcoded-instance']);
  assert.deepEqual(rules(set('sum(rate_of(topvpn_relay_up))')), ['unknown-function']);
  assert.deepEqual(rules(set('sum(rate(topvpn_relay_handshake_seconds_total[$__rate_interval]))')), ['unknown-metric']);
  assert.deepEqual(set('sum(rate(topvpn_relay_handshake_seconds_count[$__rate_interval]))'), []);
});

test('negative: old schema, broken JSON and a duplicate uid in a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'topvpn-grafana-'));
  try {
    const d = load('relay-operator.json');
    writeFileSync(join(dir, 'a.json'), JSON.stringify(d));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...d, schemaVersion: 30 }));
    writeFileSync(join(dir, 'c.json'), '{ "panels": [ ');
    const ps = lintDashboards(dir, known);
    assert.deepEqual(
      ps.map((p) => [p.file, p.rule]),
      [
        ['b.json', 'schema'],
        ['b.json', 'schema'],
        ['c.json', 'json'],
      ],
    );
    assert.match(formatProblems(ps), /schemaVersion 30 < 38/);
    assert.match(formatProblems(ps), /uid topvpn-relay-operator also used by a\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('variables are linted too (label_values metric must exist)', () => {
  const ps = lintEdited((d) => {
    const v = (d.templating as { list: Json[] }).list.find((x) => x.name === 'instance')!;
    v.query = { query: 'label_values(topvpn_relay_upp, instance)', refId: 'X' };
  });
  assert.deepEqual(rules(ps), ['unknown-metric']);
  assert.match(ps[0]!.where, /variable instance/);
});

test('plain name lists work too: histogram suffixes accepted, kinds inferred from _total', () => {
  const names = [...known.keys()];
  assert.deepEqual(lintDashboards(DIR, names), []);
  const ps = lintEdited((d) => {
    ((firstQueryPanel(d).targets as Json[])[0] as Json).expr = 'sum(topvpn_relay_errors_total)';
  }, names);
  assert.deepEqual(rules(ps), ['rate']);
});
