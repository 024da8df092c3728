/**
 * Fault: a malicious link between the entry and the middle relay (real processes, network
 * namespaces; needs root). A mangling UDP proxy (deploy/mangle-proxy.ts) stands on host
 * "middle1"; the client's relay list names the proxy's address as the middle's endpoint, so
 * the entry extends through it to the real middle on "middle2":
 *
 *   client ══▶ entry(.11) ══▶ proxy(.12, mangles DATA both ways) ══▶ middle(.13) ══▶ exit(.14) ──▶ inet
 *
 * While the attack is on, the proxy replays, reorders, flips a bit in or truncates a share
 * of the DATA packets. Every replayed copy, flipped and truncated packet must be dropped:
 * forward ones by the middle (its layer authenticates them), backward ones by the entry
 * (header checks) or else by the client (the middle's layer, opened only there). Reordered
 * packets must be accepted. The circuit keeps working throughout and afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { distBin } from '../../common/paths.js';
import { mustDrop, type MangleCounts } from '../../deploy/mangle.js';
import { diffCounts, relayDrops, total } from '../../deploy/prom-text.js';
import type { Proc } from '../../deploy/procs.js';
import { connectClient, startRelay, type ClientSession, type RelayNode } from '../../deploy/topvpn.js';
import { RELAY_PORT } from '../../deploy/topology.js';
import { httpDownload } from '../../deploy/traffic.js';
import { httpGet, inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';
import { relayMetricsUrl } from '../helpers/relay-procs.js';

const PREFIX = 'tvrm';
const RATE = 0.08;

interface MangledEvent {
  forward: MangleCounts;
  backward: MangleCounts;
  passed: { forward: number; backward: number };
}

function clientDrops(status: Record<string, unknown>): Record<string, number> {
  const c = status['circuit'] as { drops?: Record<string, number> } | undefined;
  assert.ok(c?.drops, `status has circuit drops: ${JSON.stringify(status).slice(0, 300)}`);
  return { ...c.drops };
}

describe('malicious link between entry and middle', { timeout: 240_000 }, () => {
  let net: Testnet;
  let entry: RelayNode;
  let middle: RelayNode;
  let exit: RelayNode;
  let proxy: Proc;
  let proxyEndpoint: string;
  let session: ClientSession;
  let entryMetrics: string;
  let middleMetrics: string;

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 4 });
    const metricsArg = (h: string): string[] => ['--metrics', `${net.host(h).ip}:9464`];
    [entry, middle, exit] = await Promise.all([
      startRelay(net, net.host('entry'), { extraArgs: metricsArg('entry') }),
      startRelay(net, net.host('middle2'), { extraArgs: metricsArg('middle2') }),
      startRelay(net, net.host('exit'), { exit: true }),
    ]);
    entryMetrics = await relayMetricsUrl(entry);
    middleMetrics = await relayMetricsUrl(middle);
    const ph = net.host('middle1');
    proxyEndpoint = `${ph.ip}:${RELAY_PORT}`;
    proxy = net.spawn(ph, [process.execPath, distBin('deploy/mangle-proxy'), '--listen', proxyEndpoint, '--upstream', middle.endpoint, '--rate', String(RATE), '--seed', '20261125'], {
      label: 'middle1:mangle-proxy',
    });
    await proxy.waitForEvent('listening', 10_000);
    // The middle as the client knows it: the real middle's key at the proxy's address.
    session = await connectClient(net, [entry, { ...middle, endpoint: proxyEndpoint }, exit], { hops: 3 });
  });

  after(async () => {
    await net?.teardown();
  });

  test('the circuit runs through the proxy (attack off)', async () => {
    assert.equal(session.up.hops, 3);
    const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
    assert.equal(body.remote, exit.host.ip);
    const st = (await session.status())['path'] as Array<{ endpoint: string }>;
    assert.equal(st[1]?.endpoint, proxyEndpoint, 'the client extends to the proxy address');
  });

  test('every replayed, flipped or truncated packet is dropped where it must be, reordered ones are not', async (t) => {
    const before = {
      entry: await relayDrops(net, entry.host, entryMetrics),
      middle: await relayDrops(net, middle.host, middleMetrics),
      client: clientDrops(await session.status()),
    };
    proxy.signal('SIGUSR1');
    await proxy.waitForEvent('attack', 5000);
    // Bulk both ways plus many small round trips, all through the mangled link.
    const downloads = await Promise.all([httpDownload(net, net.client, inetUrl('/bytes/1500000'), 60), httpDownload(net, net.client, inetUrl('/bytes/700000'), 60)]);
    for (const d of downloads) assert.ok(d.bytes === 1_500_000 || d.bytes === 700_000, `download completed despite the attack (${d.bytes} B)`);
    for (let i = 0; i < 10; i++) {
      const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'), 20)) as { remote: string };
      assert.equal(body.remote, exit.host.ip);
    }
    const doneLine = proxy.waitForEvent('mangled', 10_000);
    proxy.signal('SIGUSR2');
    const m = (await doneLine) as unknown as MangledEvent;
    await new Promise((r) => setTimeout(r, 500)); // last copies reach their receivers
    const afterAttack = {
      entry: await relayDrops(net, entry.host, entryMetrics),
      middle: await relayDrops(net, middle.host, middleMetrics),
      status: await session.status(),
    };
    const d = {
      entry: diffCounts(before.entry, afterAttack.entry),
      middle: diffCounts(before.middle, afterAttack.middle),
      client: diffCounts(before.client, clientDrops(afterAttack.status)),
    };
    const diag = JSON.stringify({ mangled: m, drops: d });
    t.diagnostic(diag);
    for (const dir of ['forward', 'backward'] as const) {
      for (const k of ['replay', 'reorder', 'flip', 'truncate'] as const) assert.ok(m[dir][k] > 0, `proxy applied ${dir} ${k} at least once: ${diag}`);
    }
    assert.equal(afterAttack.status['reconnects'], 0, `the client never had to rebuild (same circuit, same counters): ${diag}`);
    // Forward: only the middle can authenticate what the proxy sends it.
    assert.equal(total(d.middle), mustDrop(m.forward), `middle drops = forward replays + flips + truncations: ${diag}`);
    assert.ok((d.middle['replay'] ?? 0) >= m.forward.replay, `every forward replay counted as such by the middle: ${diag}`);
    // Backward: the entry checks headers, the client the middle's layer; together they drop each one once.
    assert.equal(total(d.entry) + total(d.client), mustDrop(m.backward), `entry + client drops = backward replays + flips + truncations: ${diag}`);
    assert.ok((d.client['replay'] ?? 0) >= m.backward.replay, `every backward replay caught by the client: ${diag}`);
    for (const [who, c] of Object.entries(d)) assert.equal(c['internal'] ?? 0, 0, `${who}: no internal errors: ${diag}`);
  });

  test('the circuit still works after the attack', async () => {
    const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
    assert.equal(body.remote, exit.host.ip);
    const dl = await httpDownload(net, net.client, inetUrl('/bytes/500000'), 30);
    assert.equal(dl.bytes, 500_000);
    const st = await session.status();
    assert.equal(st['state'], 'up');
    const { result } = await session.disconnect();
    assert.equal(result.code, 0);
  });
});
