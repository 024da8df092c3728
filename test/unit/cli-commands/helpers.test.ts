/**
 * Pure pieces behind the CLI commands: RpcChainView (node_get, its not-found and the node_list
 * fallback), Prometheus text parsing, relay row sorting, amount parsing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RpcCallError } from '../../../chain/node/rpc-client.js';
import { RpcChainView, type RpcFn } from '../../../discovery/chain-view-rpc.js';
import { sortRows, type RelayRow } from '../../../client/commands/relays.js';
import { formatTop, parseAmount, parseBaseUnits } from '../../../relay/commands/amount.js';
import { parseProm, Scrape } from '../../../relay/commands/scrape.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function fakeCall(handler: (method: string, params: unknown[]) => unknown): { call: RpcFn; methods: string[] } {
  const methods: string[] = [];
  const call = (async (_url: string, method: string, params: unknown[] = []) => {
    methods.push(method);
    return handler(method, params);
  }) as RpcFn;
  return { call, methods };
}

test('RpcChainView: node_get maps deposit and jail; -32001 is "never heard of it"; transport errors propagate', async () => {
  const f = fakeCall((m, p) => {
    if (p[0] === A) return { role: 'relay', status: 'active', deposit: '200000000000', jailed: false };
    if (p[0] === B) return { role: 'relay', status: 'jailed', deposit: '5', jailed: true };
    throw new RpcCallError(-32001, `no node ${String(p[0])}`);
  });
  const v = new RpcChainView('http://x', 1000, f.call);
  assert.deepEqual(await v.nodeStatus(A), { registered: true, role: 'relay', stake: 200_000_000_000n, jailed: false });
  assert.equal((await v.nodeStatus(B))!.jailed, true);
  assert.equal(await v.nodeStatus('c'.repeat(64)), undefined);
  assert.ok(f.methods.every((m) => m === 'node_get'));
  const broken = new RpcChainView('http://x', 1000, fakeCall(() => {
    throw new Error('ECONNREFUSED');
  }).call);
  await assert.rejects(broken.nodeStatus(A), /ECONNREFUSED/);
});

test('RpcChainView: without node_get (-32601) it reads node_list, and remembers that', async () => {
  const f = fakeCall((m) => {
    if (m === 'node_get') throw new RpcCallError(-32601, 'method not found');
    return { nodes: [{ owner: A, role: 'relay', status: 'active', deposit: '7', slashed: '0' }, { owner: B, role: 'relay', status: 'active', deposit: '9', slashed: '1' }] };
  });
  const v = new RpcChainView('http://x', 1000, f.call);
  assert.deepEqual(await v.nodeStatus(A), { registered: true, role: 'relay', stake: 7n, jailed: false });
  assert.equal((await v.nodeStatus(B))!.jailed, true, 'slashed counts as jailed');
  assert.equal(await v.nodeStatus('c'.repeat(64)), undefined);
  assert.deepEqual(f.methods, ['node_get', 'node_list', 'node_list', 'node_list']);
});

test('parseProm and Scrape: sums over label sets, per-label maps, escaped label values', () => {
  const s = new Scrape(
    parseProm(
      [
        '# HELP topvpn_relay_drops_total x',
        '# TYPE topvpn_relay_drops_total counter',
        'topvpn_relay_drops_total{reason="auth"} 3',
        'topvpn_relay_drops_total{reason="replay"} 4',
        'topvpn_relay_info{region="e\\"u",exit="true"} 1',
        'topvpn_relay_up 1',
        '',
      ].join('\n'),
    ),
    0,
  );
  assert.equal(s.sum('topvpn_relay_drops_total'), 7);
  assert.equal(s.sum('topvpn_relay_drops_total', { reason: 'auth' }), 3);
  assert.deepEqual(s.byLabel('topvpn_relay_drops_total', 'reason'), { auth: 3, replay: 4 });
  assert.equal(s.samples.find((x) => x.name === 'topvpn_relay_info')!.labels.region, 'e"u');
  assert.equal(s.sum('absent_metric'), 0);
  assert.equal(s.has('topvpn_relay_up'), true);
});

function row(addr: string, price: bigint, lat: number | null, bw: number): RelayRow {
  return { nodeAddress: addr, country: 'DE', pricePerGiB: price.toString(), priceTop: formatTop(price), latencyMs: lat, bandwidthBps: bw, stake: '1', stakeTop: '0.000001', exit: false, udp: '1.2.3.4:5', ws: null, peerId: 'p', expiresAt: 0 };
}

test('sortRows: price ascending, latency ascending with unmeasured last, bandwidth descending; ties by address', () => {
  const rows = () => [row('c', 3n, null, 10), row('a', 1n, 50, 30), row('b', 1n, 5, 20)];
  assert.deepEqual(sortRows(rows(), 'price').map((r) => r.nodeAddress), ['a', 'b', 'c']);
  assert.deepEqual(sortRows(rows(), 'latency').map((r) => r.nodeAddress), ['b', 'a', 'c']);
  assert.deepEqual(sortRows(rows(), 'bandwidth').map((r) => r.nodeAddress), ['a', 'b', 'c']);
});

test('amounts: TOP with ≤ 6 decimals, "u" base units, formatTop round trip; bad input is a UsageError', () => {
  assert.equal(parseAmount('--x', '1.5'), 1_500_000n);
  assert.equal(parseAmount('--x', '200000'), 200_000_000_000n);
  assert.equal(parseAmount('--x', '42u'), 42n);
  assert.equal(formatTop(1_500_000n), '1.5');
  assert.equal(formatTop(parseAmount('--x', '0.000001')), '0.000001');
  assert.throws(() => parseAmount('--deposit', '1.2345678'), (e: Error) => e.name === 'UsageError' && /--deposit/.test(e.message));
  assert.throws(() => parseAmount('--x', '-1'), { name: 'UsageError' });
  assert.equal(parseBaseUnits('--p', '500000'), 500_000n);
  assert.throws(() => parseBaseUnits('--p', '0.5'), { name: 'UsageError' });
});
