/**
 * The Grafana dashboards against a live Prometheus: the paid testnet (deploy/paid-network.ts:
 * a chain devnet in the chain namespace, three relays registered on chain and started with
 * --chain-rpc, a paying client), every daemon serving /metrics, scraped every second by a real
 * Prometheus whose config comes from deploy/gen-prometheus.ts. A first paid session carries
 * traffic and disconnects (its channels close, the relays' watchtowers claim); a second one
 * stays up while every panel query of every dashboard in grafana/dashboards is evaluated
 * through Prometheus' HTTP API: each must succeed with at least one series, and the panels
 * that summarize what the run did must show it. Needs root and /usr/bin/prometheus.
 * Run under `flock /tmp/topvpn-heavy.lock`.
 *
 *                                  tvm-sw (bridge br0)
 *      ┌────────────┬────────────┬──────┼──────┬────────────┬────────────────────────┐
 *   tvm-client   tvm-entry   tvm-middle   tvm-exit      tvm-inet    tvm-chain .200
 *   .10 topvpn   .11 relay   .12 relay    .13 relay     .100 HTTP   devnet nodes (RPC + /metrics)
 *   :9102        :9101       :9101        :9101 + exit  iperf3      Prometheus 127.0.0.1:9090
 *
 * The client's default route points into its tunnel, so replies from its metrics port would
 * leave through the exit; one policy rule in the client namespace sends them (TCP from
 * sport 9102) out of eth0, as a monitoring exemption on a managed host would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { distBin, repoRoot } from '../../common/paths.js';
import { CLIENT_METRICS_PORT, RELAY_METRICS_PORT } from '../../deploy/gen-config.js';
import { prometheusConfig, testnetTargets, type ScrapeTarget } from '../../deploy/gen-prometheus.js';
import { writeChainKey } from '../../deploy/economy.js';
import { startPaidNetwork, type PaidNetwork } from '../../deploy/paid-network.js';
import { CLIENT_IP, INET_IP, IPERF_PORT } from '../../deploy/topology.js';
import { connectClient, type ClientSession } from '../../deploy/topvpn.js';
import { httpGet, inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';
import { dashboardQueries, Prometheus, substituteGrafanaVariables, type PanelQuery, type QueryResult } from '../helpers/prometheus.js';
import { sleep, waitUntil } from '../helpers/wait.js';

const PREFIX = 'tvm';
/** Grafana would use ≥ 4 × the 1 s scrape interval; 1m spans the run, so rates see all of it. */
const RATE_INTERVAL = '1m';
const REGIONS: Record<string, string> = { entry: 'eu', middle: 'us', exit: 'eu' };
const METRICS_RULE_TABLE = '90';

describe('Grafana dashboards on a live Prometheus (network namespaces)', { timeout: 240_000 }, () => {
  let net: Testnet;
  let pn: PaidNetwork | undefined;
  let prom: Prometheus;
  let session: ClientSession | undefined;
  let targets: ScrapeTarget[];
  const queries = dashboardQueries(join(repoRoot(), 'grafana', 'dashboards'));
  const results = new Map<PanelQuery, { promql: string; result: QueryResult }>();

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 3, chain: true });
    pn = await startPaidNetwork(net, {
      shards: 1,
      group: 2,
      auditors: 2,
      relayArgs: (h) => ['--metrics', `${h.ip}:${RELAY_METRICS_PORT}`, '--region', REGIONS[h.name] ?? 'unknown'],
    });
    // Prometheus in the chain host: deploy's testnet targets plus every chain node.
    targets = [
      ...testnetTargets(net.relays.length),
      ...pn.chain.devnet.nodes.map((n): ScrapeTarget => ({ job: 'topchain', address: new URL(n.rpc).host, labels: { node: `chain-${n.index}`, role: n.role } })),
    ];
    const promDir = join(net.dir, 'prometheus');
    mkdirSync(promDir, { recursive: true });
    prom = await Prometheus.start(net, net.host('chain'), { config: prometheusConfig(targets, { scrapeInterval: '1s', deployment: PREFIX }), dir: promDir });
    // The client's metrics replies leave through eth0, not the tunnel.
    await net.exec(net.client, ['ip', 'route', 'add', 'default', 'dev', 'eth0', 'scope', 'link', 'table', METRICS_RULE_TABLE]);
    await net.exec(net.client, ['ip', 'rule', 'add', 'priority', '90', 'from', CLIENT_IP, 'ipproto', 'tcp', 'sport', String(CLIENT_METRICS_PORT), 'lookup', METRICS_RULE_TABLE]);
  });

  after(async () => {
    await pn?.chain.stop();
    await net?.teardown();
  });

  /** A paying `topvpn connect` over 3 hops with its metrics on the underlay. */
  function connectPaidWithMetrics(p: PaidNetwork): Promise<ClientSession> {
    return connectClient(net, p.relays, {
      hops: 3,
      timeoutMs: 120_000,
      extraArgs: ['--chain-rpc', p.chain.urls[0]!, '--wallet', p.wallet.wallet, '--password-file', p.wallet.passwordFile, '--budget', p.budget.toString(), '--no-dns', '--metrics', `${CLIENT_IP}:${CLIENT_METRICS_PORT}`],
    });
  }

  /** HTTP through the tunnel, then `seconds` of iperf3 each way. */
  async function traffic(seconds: number): Promise<void> {
    const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
    assert.equal(body.remote, net.host('exit').ip, 'HTTP went through the exit');
    await net.exec(net.client, ['iperf3', '-c', INET_IP, '-p', String(IPERF_PORT), '-t', String(seconds), '-b', '20M'], { timeoutMs: 30_000 });
    await net.exec(net.client, ['iperf3', '-c', INET_IP, '-p', String(IPERF_PORT), '-t', String(seconds), '-b', '20M', '-R'], { timeoutMs: 30_000 });
  }

  /** One number from an instant query (the sum of its samples). */
  async function scalar(expr: string): Promise<number> {
    const r = await prom.query(expr);
    assert.ok(r.ok, `${expr}: ${r.error}`);
    return r.samples.reduce((a, s) => a + Number(s.value), 0);
  }

  test('a paid session carries traffic; after disconnect the relays claim on chain', async () => {
    const s = await connectPaidWithMetrics(pn!);
    await traffic(2);
    const { result } = await s.disconnect(60_000);
    assert.equal(result.code, 0, `disconnect: ${result.stderr.slice(0, 300)}`);
    // Every hop's channel closes; each relay's watchtower claims its last receipt.
    await waitUntil('3 confirmed claims in the relays\' metrics', async () => (await scalar('sum(topvpn_relay_claims_total{result="confirmed"})')) >= 3, { timeoutMs: 90_000, intervalMs: 1000 });
  });

  test('a transfer below the minimum fee is refused at admission', async () => {
    const p = pn!;
    const key = writeChainKey(net, 'payer-cli', p.payer);
    const to = p.relays[0]!.address!;
    const r = await net.exec(net.host('chain'), [process.execPath, distBin('chain/cli'), '--rpc', p.chain.urls[0]!, '--json', 'send', to, '1', '--key', key, '--fee', '0u'], { allowFail: true });
    assert.equal(r.code, 1, `refused (stdout ${r.stdout.slice(0, 200)})`);
    assert.match(r.stdout, /fee/, 'the refusal names the fee');
  });

  test('a second paid session is up and carrying traffic', async () => {
    session = await connectPaidWithMetrics(pn!);
    await traffic(2);
    await sleep(3000); // a few more scrapes, so every rate window holds the traffic
  });

  test('Prometheus scrapes every daemon', async () => {
    const expected = targets.length;
    const up = await waitUntil(
      'every target to be up',
      async () => {
        const t = await prom.targets();
        return t.length === expected && t.every((x) => x.health === 'up') ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(async (err: Error) => {
      const t = await prom.targets();
      throw new Error(`${err.message}: ${JSON.stringify(t.filter((x) => x.health !== 'up'))}`);
    });
    assert.deepEqual([...new Set(up.map((t) => t.job))].sort(), ['topchain', 'toprelay', 'topvpn-client']);
  });

  test(`every panel query of every dashboard returns series (${queries.length} queries)`, async (t) => {
    assert.ok(queries.length > 0, 'dashboards hold queries');
    const failures: string[] = [];
    for (const q of queries) {
      const promql = substituteGrafanaVariables(q.expr, { rateInterval: RATE_INTERVAL });
      assert.doesNotMatch(promql, /\$|\[\[/, `${q.file} panel "${q.panel}": variables left in ${promql}`);
      const result = await prom.query(promql);
      results.set(q, { promql, result });
      if (!result.ok) failures.push(`${q.file} panel ${q.panelId} "${q.panel}" ${q.refId}: error ${result.error}\n    ${promql}`);
      else if (result.samples.length === 0) failures.push(`${q.file} panel ${q.panelId} "${q.panel}" ${q.refId}: no series\n    ${promql}`);
    }
    // Not a failure (an idle counter is legitimately 0), but worth seeing: panels that showed nothing but 0/NaN.
    const flat = [...results.entries()].filter(([, r]) => r.result.ok && r.result.samples.length > 0 && r.result.samples.every((x) => !(Number(x.value) !== 0 && !Number.isNaN(Number(x.value)))));
    t.diagnostic(`${flat.length} of ${queries.length} queries returned only 0/NaN: ${flat.map(([q]) => `${q.file} "${q.panel}" ${q.refId}`).join('; ')}`);
    assert.equal(failures.length, 0, `${failures.length} of ${queries.length} panel queries failed:\n  ${failures.join('\n  ')}`);
  });

  /** The sample values of a panel's query (by dashboard file, title and refId) from the run above. */
  function panelValues(file: string, panel: string, refId = 'A'): number[] {
    const entry = [...results.entries()].find(([q]) => q.file === file && q.panel === panel && q.refId === refId);
    assert.ok(entry, `${file} has a panel "${panel}" ${refId} (evaluated)`);
    return entry[1].result.samples.map((s) => Number(s.value));
  }

  test('the panels show what the testnet did', () => {
    const relaysUp = panelValues('network-overview.json', 'Relays up');
    assert.deepEqual(relaysUp, [3], 'Relays up');
    assert.deepEqual(panelValues('network-overview.json', 'Exit relays'), [1], 'Exit relays');
    assert.deepEqual(panelValues('network-overview.json', 'Clients up'), [1], 'Clients up');
    assert.deepEqual(panelValues('network-overview.json', 'Chain nodes up'), [pn!.chain.devnet.nodes.length], 'Chain nodes up');
    assert.deepEqual(panelValues('chain.json', 'Supply invariant'), [1], 'Supply invariant holds');
    const byRegion = panelValues('network-overview.json', 'Relays by region').sort();
    assert.deepEqual(byRegion, [1, 2], 'Relays by region: eu ×2, us ×1');
    for (const [file, panel, ref] of [
      ['relay-operator.json', 'Throughput', 'A'],
      ['network-overview.json', 'Client tunnel traffic', 'A'],
      ['network-overview.json', 'Total relay traffic', 'A'],
      ['chain.json', 'Transactions per second', 'A'],
      ['chain.json', 'Signature verifications', 'A'],
      ['chain.json', 'Rejected at submission', 'A'],
      ['relay-operator.json', 'Handshake latency p50 / p99', 'A'],
      ['relay-operator.json', 'Handshake latency p50 / p99', 'B'],
      // Payments: the relays served, held receipts, claimed (after the first session) and paid burn and fees.
      ['relay-operator.json', 'Earnings rate', 'A'],
      ['relay-operator.json', 'Earnings rate', 'B'],
      ['relay-operator.json', 'Earnings rate', 'C'],
      ['relay-operator.json', 'Earnings rate', 'D'],
      ['relay-operator.json', 'Earnings rate', 'E'],
      ['relay-operator.json', 'Billed bytes rate', 'A'],
      ['relay-operator.json', 'Billed bytes rate', 'C'],
      ['relay-operator.json', 'Claim latency p50 / p99', 'A'],
      ['relay-operator.json', 'Channels by status', 'A'],
      ['relay-operator.json', 'Receipts by result', 'A'],
      ['network-overview.json', 'Burn rate (relay claims)', 'A'],
      ['network-overview.json', 'Claimed value rate', 'B'],
    ] as const) {
      const v = panelValues(file, panel, ref);
      assert.ok(v.some((x) => x > 0), `${file} "${panel}" ${ref} > 0 after the traffic (got ${v.join(', ')})`);
    }
    const exitPackets = panelValues('relay-operator.json', 'Packets by direction', 'B');
    assert.equal(exitPackets.length, 2, 'exit packets in both directions');
    assert.ok(exitPackets.every((x) => x > 0), `exit wrote and read TUN packets (${exitPackets.join(', ')})`);
  });

  test('the second session disconnects cleanly', async () => {
    const { result } = await session!.disconnect(60_000);
    assert.equal(result.code, 0);
  });
});
