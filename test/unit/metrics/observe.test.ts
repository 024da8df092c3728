import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry, type Metric } from 'prom-client';
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { CounterSync, toSample } from '../../../common/metrics-server.js';
import { chainLabel, createChainMetrics } from '../../../chain/node/metrics.js';
import { checkSupply, DEVNET_PARAMS, genesis, genesisStates, UNIT } from '../../../chain/state/index.js';
import { emptyClientDrops } from '../../../client/circuit-errors.js';
import type { CircuitStats } from '../../../client/circuit.js';
import { createClientMetrics } from '../../../client/metrics.js';
import { RelayEngine, type RelayStats } from '../../../relay/engine.js';
import { emptyDrops } from '../../../relay/errors.js';
import { generateKeyPair } from '../../../relay/keys.js';
import { createRelayMetrics } from '../../../relay/metrics.js';
import type { TickReport } from '../../../relay/payments/claims.js';
import type { EarningsReport, Figures } from '../../../relay/payments/ledger.js';

/** Value of one series (labels must match exactly, including none). */
async function value(metric: Metric<string>, labels: Record<string, string> = {}, metricName?: string): Promise<number | undefined> {
  // Histogram values carry metricName (_bucket/_sum/_count); counters and gauges do not.
  const { values } = (await metric.get()) as { values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[] };
  const want = JSON.stringify(Object.entries(labels).sort());
  const hit = values.find((v) => (metricName === undefined || v.metricName === metricName) && JSON.stringify(Object.entries(v.labels).filter(([k]) => k !== 'le' || labels.le !== undefined).sort()) === want);
  return hit?.value;
}

function relayStats(over: Partial<RelayStats> = {}): RelayStats {
  return {
    circuits: 0,
    exitAddresses: 0,
    forwardedBytes: { forward: 0, backward: 0 },
    packets: { forward: 0, backward: 0, exitOut: 0, exitIn: 0, control: 0 },
    handshakes: { answered: 0, retransmitted: 0, extended: 0, extendFailed: 0, rekeyed: 0 },
    circuitsClosed: { destroyed: 0, idle: 0, stopped: 0 },
    drops: emptyDrops(),
    ...over,
  };
}

test('CounterSync: adds growth only, never twice, rebases on a source reset', async () => {
  const reg = new Registry();
  const c = new Counter<'d'>({ name: 'x_total', help: 'x', labelNames: ['d'], registers: [reg] });
  const s = new CounterSync();
  s.advance(c, 10, { d: 'a' });
  s.advance(c, 10, { d: 'a' });
  s.advance(c, 25n, { d: 'a' });
  assert.equal(await value(c, { d: 'a' }), 25);
  s.advance(c, 3, { d: 'a' }); // source recreated: new base, nothing added
  assert.equal(await value(c, { d: 'a' }), 25);
  s.advance(c, 5, { d: 'a' });
  assert.equal(await value(c, { d: 'a' }), 27);
  s.advance(c, 7, { d: 'b' }); // labels tracked separately
  assert.equal(await value(c, { d: 'b' }), 7);
  assert.equal(await value(c, { d: 'a' }), 27);
});

test('toSample: exact below 2^53, nearest double above', () => {
  assert.equal(toSample(9_007_199_254_740_991n), Number.MAX_SAFE_INTEGER);
  assert.equal(toSample(2n ** 53n + 1n), 2 ** 53);
  assert.equal(toSample(10n ** 24n), 1e24);
  assert.equal(toSample(42), 42);
});

test('relay: observeEngine follows cumulative engine stats', async () => {
  const m = createRelayMetrics();
  const drops = emptyDrops();
  drops.replay = 3;
  m.observeEngine(relayStats({ circuits: 4, forwardedBytes: { forward: 1000, backward: 5000 }, drops, handshakes: { answered: 6, retransmitted: 1, extended: 2, extendFailed: 0, rekeyed: 0 } }));
  drops.replay = 5;
  m.observeEngine(relayStats({ circuits: 2, forwardedBytes: { forward: 1500, backward: 5000 }, drops, handshakes: { answered: 7, retransmitted: 1, extended: 2, extendFailed: 1, rekeyed: 0 } }));
  assert.equal(await value(m.forwardedBytes, { direction: 'forward' }), 1500);
  assert.equal(await value(m.forwardedBytes, { direction: 'backward' }), 5000);
  assert.equal(await value(m.drops, { reason: 'replay' }), 5);
  assert.equal(await value(m.drops, { reason: 'auth' }), 0);
  assert.equal(await value(m.circuitsActive), 2);
  assert.equal(await value(m.circuitsTotal), 7);
  assert.equal(await value(m.handshakes, { result: 'extend_failed' }), 1);
});

test('relay: a real RelayEngine drop shows up in topvpn_relay_drops_total', async () => {
  const kp = generateKeyPair();
  const engine = new RelayEngine({ clock: new ManualClock(), log: silentLogger(), identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey }, send: () => {} });
  engine.start();
  try {
    engine.onDatagram(Buffer.from([0xee, 1, 2, 3]), { host: '198.18.0.9', port: 4000 });
    const m = createRelayMetrics();
    m.observeEngine(engine.stats());
    const dropped = (await m.drops.get()).values.reduce((a, v) => a + v.value, 0);
    assert.equal(dropped, 1);
    const text = await m.registry.metrics();
    assert.match(text, /topvpn_relay_drops_total\{reason="(unknown_type|malformed)"\} 1/);
  } finally {
    engine.stop();
  }
});

function figures(served: bigint, receipted: bigint, claimed: bigint): Figures {
  const pos = (v: bigint): bigint => (v > 0n ? v : 0n);
  return { served, receipted, claimed, pending: pos(receipted - claimed), unreceipted: pos(served - receipted), excess: pos(receipted - served) };
}

test('relay: observeEarnings exports base units and bytes, values beyond 2^53 as floats', async () => {
  const m = createRelayMetrics();
  const big = 2n ** 60n; // 1.15e18 base units = 1.15e12 TOP
  const report: EarningsReport = {
    channels: [
      { channelId: 'a', status: 'open', tokens: { ...figures(0n, 0n, 0n), burned: 0n, fees: 0n, net: 0n, lost: 0n }, bytes: figures(0n, 0n, 0n) },
      { channelId: 'b', status: 'closing', tokens: { ...figures(0n, 0n, 0n), burned: 0n, fees: 0n, net: 0n, lost: 0n }, bytes: figures(0n, 0n, 0n) },
      { channelId: 'c', status: 'open', tokens: { ...figures(0n, 0n, 0n), burned: 0n, fees: 0n, net: 0n, lost: 0n }, bytes: figures(0n, 0n, 0n) },
    ],
    total: { ...figures(big, 900n * UNIT, 600n * UNIT), burned: 60n * UNIT, fees: 1n, net: 540n * UNIT - 1n, lost: 0n },
    totalBytes: figures(3000n, 2500n, 2000n),
    issues: [],
  };
  m.observeEarnings(report);
  m.observeEarnings(report); // same snapshot again: nothing added
  assert.equal(await value(m.servedValue), 2 ** 60);
  assert.equal(await value(m.receiptedValue), 900e6);
  assert.equal(await value(m.claimedValue), 600e6);
  assert.equal(await value(m.burnedValue), 60e6);
  assert.equal(await value(m.pendingValue), 300e6);
  assert.equal(await value(m.servedBytes), 3000);
  assert.equal(await value(m.pendingBytes), 500);
  assert.equal(await value(m.channels, { status: 'open' }), 2);
  assert.equal(await value(m.channels, { status: 'closing' }), 1);
  assert.equal(await value(m.channels, { status: 'finalized' }), 0);
});

test('relay: claim ticks count results and time submit → confirm', async () => {
  let now = 0;
  const m = createRelayMetrics(new Registry(), { now: () => now });
  const empty: TickReport = { tick: 0, submitted: [], failed: [], confirmed: [], dropped: [], skipped: [] };
  const decision = { channelId: 'ch1', reason: 'threshold' as const, delta: 10n } as unknown as TickReport['submitted'][number]; // only channelId/txHash are read
  m.observeClaimTick({ ...empty, tick: 1, submitted: [{ ...decision, txHash: 'h1' }] });
  now = 2500;
  const rec = { channelId: 'ch1', seq: 1, txHash: 'h1', delta: 10n, burn: 1n, fee: 0n, net: 9n };
  m.observeClaimTick({ ...empty, tick: 2, confirmed: [rec], submitted: [{ ...decision, txHash: 'h2' }] });
  now = 4000;
  m.observeClaimTick({ ...empty, tick: 3, confirmed: [{ ...rec, txHash: 'other' }] }); // not ours in flight: no latency sample
  assert.equal(await value(m.claims, { result: 'submitted' }), 2);
  assert.equal(await value(m.claims, { result: 'confirmed' }), 2);
  assert.equal(await value(m.claimSeconds, {}, 'topvpn_relay_claim_seconds_count'), 1);
  assert.equal(await value(m.claimSeconds, {}, 'topvpn_relay_claim_seconds_sum'), 2.5);
});

test('relay: build info and up', async () => {
  const m = createRelayMetrics(new Registry(), { version: '9.9.9', region: 'de', exit: true });
  const text = await m.registry.metrics();
  assert.match(text, /^topvpn_relay_up 1$/m);
  assert.match(text, new RegExp(`topvpn_relay_build_info\\{version="9.9.9",nodejs="${process.versions.node.replace(/\./g, '\\.')}"\\} 1`));
  assert.match(text, /topvpn_relay_info\{region="de",exit="true"\} 1/);
});

function circuitStats(sent: number, received: number, state: CircuitStats['state'] = 'up'): CircuitStats {
  return { state, hopsBuilt: 3, bytes: { sent, received }, packets: { sent: sent / 100, received: received / 100 }, keepalivesSent: 0, rekeys: 0, drops: emptyClientDrops(), lastRecvAt: undefined, lastSentAt: undefined, hopBytes: [], probes: 0 };
}

test('client: a replaced circuit adds on top, the old one is not counted twice', async () => {
  const m = createClientMetrics();
  m.observeCircuit(circuitStats(1000, 3000));
  m.observeCircuit(circuitStats(1500, 4000));
  m.circuitReplaced();
  m.observeCircuit(circuitStats(200, 100, 'building'));
  assert.equal(await value(m.tunnelBytes, { direction: 'sent' }), 1700);
  assert.equal(await value(m.tunnelBytes, { direction: 'received' }), 4100);
  assert.equal(await value(m.reconnects), 1);
  assert.equal(await value(m.circuitState, { state: 'building' }), 1);
  assert.equal(await value(m.circuitState, { state: 'up' }), 0);
  m.circuitBuilt(0.12);
  m.circuitFailed('timeout');
  m.receiptSigned(2n ** 54n);
  m.receiptSigned(0n);
  assert.equal(await value(m.circuitsBuilt), 1);
  assert.equal(await value(m.circuitsFailed, { reason: 'timeout' }), 1);
  assert.equal(await value(m.receiptsSigned), 2);
  assert.equal(await value(m.spentValue), 2 ** 54);
  assert.equal(await value(m.circuitBuildSeconds, {}, 'topvpn_client_circuit_build_seconds_sum'), 0.12);
});

test('chain: blocks, block time, txs by result, bounded chain label', async () => {
  const m = createChainMetrics(new Registry(), { chains: ['beacon', 'shard-0'] });
  const tx = (status: 'ok' | 'failed' | 'invalid') => ({ kind: 'tx' as const, status });
  m.observeBlock('shard-0', { committedAt: 10_000, results: [tx('ok'), tx('ok'), tx('failed'), { kind: 'receipt', status: 'ok' }] });
  m.observeBlock('shard-0', { committedAt: 10_400, results: [tx('invalid')] });
  m.observeBlock('beacon', { committedAt: 11_000, results: [] });
  m.txRejected('shard-0');
  m.viewChange('shard-0');
  m.observeBlock('../../etc', { committedAt: 1, results: [] });
  assert.equal(await value(m.blocks, { chain: 'shard-0' }), 2);
  assert.equal(await value(m.blocks, { chain: 'other' }), 1);
  assert.equal(await value(m.txs, { chain: 'shard-0', result: 'ok' }), 2);
  assert.equal(await value(m.txs, { chain: 'shard-0', result: 'failed' }), 1);
  assert.equal(await value(m.txs, { chain: 'shard-0', result: 'invalid' }), 1);
  assert.equal(await value(m.txs, { chain: 'shard-0', result: 'rejected' }), 1);
  assert.equal(await value(m.viewChanges, { chain: 'shard-0' }), 1);
  assert.equal(await value(m.blockSeconds, { chain: 'shard-0' }, 'topchain_block_seconds_count'), 1);
  assert.equal(await value(m.blockSeconds, { chain: 'shard-0' }, 'topchain_block_seconds_sum'), 0.4);
  assert.equal(chainLabel('shard-12'), 'shard-12');
  assert.equal(chainLabel('shard-x'), 'other');
  m.observeRuntime({ chain: 'shard-0', height: 17, finalHeight: 15, isValidator: true, isAuditor: false, mempool: { size: 3 } });
  assert.equal(await value(m.height, { chain: 'shard-0' }), 17);
  assert.equal(await value(m.finalHeight, { chain: 'shard-0' }), 15);
  assert.equal(await value(m.committeeMember, { chain: 'shard-0', role: 'validator' }), 1);
  assert.equal(await value(m.committeeMember, { chain: 'shard-0', role: 'auditor' }), 0);
  assert.equal(await value(m.mempoolTxs, { chain: 'shard-0' }), 3);
});

test('chain: supply kinds partition genesis + issued; supply_ok follows the invariant and keeps its value while undecidable', async () => {
  const params = { ...DEVNET_PARAMS, shardCount: 2 };
  const a = 'aa'.repeat(32);
  const b = 'bb'.repeat(32);
  const g = genesis(params, [
    { address: a, amount: 5_000_000n * UNIT },
    { address: b, amount: 7n * UNIT },
  ], { reserve: 1_000n * UNIT });
  const states = genesisStates(g);
  // Move value between kinds the way transactions do: burn some, lock some.
  const home = states.find((s) => s.accounts.get(a))!;
  home.accounts.get(a)!.balance -= 30n * UNIT;
  home.burned += 10n * UNIT;
  home.accounts.get(a)!.resource.locked += 20n * UNIT;
  const report = checkSupply(states, g.supply);
  assert.ok(report.ok, report.message);
  const m = createChainMetrics();
  m.observeSupply(report);
  const kinds = new Map((await m.supply.get()).values.map((v) => [v.labels.kind as string, v.value]));
  assert.equal(kinds.get('burned'), 10e6);
  assert.equal(kinds.get('locked'), 20e6);
  assert.equal(kinds.get('circulating'), (5_000_007 - 30) * 1e6);
  assert.equal(kinds.get('reserve'), 1_000e6);
  const sum = [...kinds].filter(([k]) => k !== 'reserve').reduce((x, [, v]) => x + v, 0);
  assert.equal(sum, toSample(report.expected));
  assert.equal(await value(m.supplyOk), 1);
  home.accounts.get(a)!.balance += 1n; // value from nowhere
  m.observeSupply(checkSupply(states, g.supply));
  assert.equal(await value(m.supplyOk), 0);
  home.accounts.get(a)!.balance -= 1n;
  m.observeSupply(checkSupply(states, g.supply));
  assert.equal(await value(m.supplyOk), 1);
  // One chain ahead of another (a receipt applied that the source has not sent here): undecided, the gauge keeps its value.
  const other = states.find((s) => s !== home && s.chain !== 'beacon')!;
  other.inbox[home.chain] = 1;
  const undecided = checkSupply(states, g.supply);
  assert.equal(undecided.consistent, false);
  m.observeSupply(undecided);
  assert.equal(await value(m.supplyOk), 1);
});

test('chain: finality by kind (block: commit → final; tx: admission → final), receipts, verifications', async () => {
  const m = createChainMetrics(new Registry(), { chains: ['beacon', 'shard-0'] });
  m.txAdmitted('t1', 1_000);
  m.txAdmitted('t2', 1_500); // never in a block: no tx sample
  m.observeBlock('shard-0', { committedAt: 2_000, height: 5, results: [{ kind: 'tx', status: 'ok' }, { kind: 'receipt', status: 'ok' }, { kind: 'receipt', status: 'invalid' }], txHashes: ['t1', 'x'] });
  m.observeFinal('shard-0', 4, 9_000); // a height never committed here: nothing
  assert.equal(await value(m.finality, { kind: 'block' }, 'topchain_finality_seconds_count'), 0);
  m.observeFinal('shard-0', 5, 2_500);
  assert.equal(await value(m.finality, { kind: 'block' }, 'topchain_finality_seconds_count'), 1);
  assert.equal(await value(m.finality, { kind: 'block' }, 'topchain_finality_seconds_sum'), 0.5);
  assert.equal(await value(m.finality, { kind: 'tx' }, 'topchain_finality_seconds_count'), 1);
  assert.equal(await value(m.finality, { kind: 'tx' }, 'topchain_finality_seconds_sum'), 1.5);
  m.observeFinal('shard-0', 5, 3_000); // observed once only
  assert.equal(await value(m.finality, { kind: 'block' }, 'topchain_finality_seconds_count'), 1);
  assert.equal(await value(m.receiptsApplied, { chain: 'shard-0' }), 1);
  m.observeVerifications(10);
  m.observeVerifications(4); // a source reset never decreases the counter
  m.observeVerifications(6);
  assert.equal(await value(m.txVerifications), 12);
  m.observeConsensusVerifications(7);
  m.observeConsensusVerifications(9);
  assert.equal(await value(m.consensusVerifications), 9);
  assert.equal(await value(m.txVerifications), 12); // the two counters are independent
  m.error('store');
  assert.equal(await value(m.errors, { kind: 'store' }), 1);
  assert.equal(await value(m.errors, { kind: 'sync' }), 0);
});

test('relay: observeResume follows the exit resumption counters', async () => {
  const m = createRelayMetrics();
  const refused = { version: 0, length: 0, mac: 1, expired: 0, in_use: 0, not_in_pool: 0 };
  m.observeResume({ issued: 3, resumed: 1, refused });
  m.observeResume({ issued: 5, resumed: 2, refused: { ...refused, expired: 2 } });
  assert.equal(await value(m.resumptions, { result: 'issued' }), 5);
  assert.equal(await value(m.resumptions, { result: 'resumed' }), 2);
  assert.equal(await value(m.resumptions, { result: 'mac' }), 1);
  assert.equal(await value(m.resumptions, { result: 'expired' }), 2);
  assert.equal(await value(m.resumptions, { result: 'in_use' }), 0);
});
