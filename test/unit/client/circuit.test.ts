import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { Circuit, CircuitBuildError, CircuitUsageError } from '../../../client/circuit.js';
import { DEFAULT_SESSION_LIMITS } from '../../../protocol/session.js';
import { generateX25519 } from '../../../protocol/x25519.js';
import { advance, flush, reply, testbed, udpPacket } from '../relay/fake-net.js';

const pub = generateX25519().publicKey;
const mk = (hosts: string[]) => hosts.map((host) => ({ endpoint: { host, port: 1 }, staticPublic: pub }));
const comps = () => ({ clock: new ManualClock(), log: silentLogger(), send: () => undefined });

test('path validation', () => {
  assert.throws(() => new Circuit(comps(), []), CircuitUsageError);
  assert.throws(() => new Circuit(comps(), mk(['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4'])), CircuitUsageError);
  assert.throws(() => new Circuit(comps(), mk(['1.1.1.1', 'relay.example'])), CircuitUsageError);
  assert.ok(new Circuit(comps(), mk(['entry.example', '1.1.1.2'])), 'the entry may be a hostname');
});

test('before build: sendIp drops as not_ready; packets from strangers are misrouted', async () => {
  const tb = testbed();
  const c = tb.newCircuit(1);
  c.sendIp([Buffer.alloc(20)]);
  assert.equal(c.stats().drops.not_ready, 1);
  const pr = c.build();
  c.onDatagram(Buffer.alloc(40), { host: '6.6.6.6', port: 5000 });
  assert.equal(c.stats().drops.misrouted, 1);
  await flush();
  await pr;
  await assert.rejects(c.build(), CircuitUsageError);
  c.close();
});

test('close() during build rejects with CircuitBuildError(closed)', async () => {
  const tb = testbed();
  tb.net.taps.push(() => false); // nothing gets through
  const c = tb.newCircuit(3);
  const res = c.build().then(() => assert.fail('must fail'), (e: unknown) => e);
  c.close();
  const err = await res;
  assert.ok(err instanceof CircuitBuildError && err.reason === 'closed' && err.hop === 0);
  assert.equal(c.state, 'closed');
});

test('keepalive: PADDING reaches the exit after KEEPALIVE idle and refreshes every hop', async () => {
  const tb = testbed();
  const c = tb.newCircuit(3);
  const pr = c.build();
  await flush();
  await pr;
  const before = tb.relays.map((r) => r.circuits()[0]!.lastActivity);
  await advance(tb.clock, 10_000);
  assert.equal(c.stats().keepalivesSent, 1);
  const after = tb.relays.map((r) => r.circuits()[0]!.lastActivity);
  after.forEach((t, i) => assert.ok(t > before[i]!, `hop ${i} refreshed`));
  assert.equal(tb.exitWrites[2]!.length, 0, 'padding is not written to the TUN');
  // traffic in between postpones the keepalive
  await advance(tb.clock, 5_000);
  c.sendIp([udpPacket('198.19.0.2', '198.18.200.1', 1)]);
  await advance(tb.clock, 6_000);
  assert.equal(c.stats().keepalivesSent, 1);
  c.close();
});

test('onDown fires when the entry destroys the circuit', async () => {
  const tb = testbed();
  const c = tb.newCircuit(2);
  let down = '';
  c.onDown((r) => (down = r));
  const pr = c.build();
  await flush();
  await pr;
  tb.relays[1]!.stop(); // the exit goes away: DESTROY travels back through the entry
  await flush();
  assert.equal(down, 'destroyed');
  assert.equal(c.state, 'down');
  assert.equal(tb.relays[0]!.stats().circuits, 0);
});

test('rekey on message count keeps traffic flowing', async () => {
  const tb = testbed();
  const c = tb.newCircuit(3, { sessionLimits: { ...DEFAULT_SESSION_LIMITS, rekeyAfterMessages: 5 } });
  const got: Buffer[] = [];
  c.onIp((ps) => got.push(...ps));
  const pr = c.build();
  await flush();
  const up = await pr;
  for (let round = 0; round < 4; round++) {
    c.sendIp(Array.from({ length: 6 }, () => udpPacket(up.ipv4, '198.18.200.1', 7)));
    await flush();
    for (const p of tb.exitWrites[2]!.splice(0)) tb.relays[2]!.onTunPackets([reply(p)]);
    await flush();
    await advance(tb.clock, 1000);
  }
  assert.equal(got.length, 24);
  assert.ok(c.stats().rekeys >= 3, `rekeys ${c.stats().rekeys}`);
  tb.relays.forEach((r) => assert.ok(r.circuits()[0]!.epoch >= 1));
  c.close();
});

test('a hop whose rekey is never answered expires the circuit (onDown expired)', async () => {
  const tb = testbed();
  const limits = { ...DEFAULT_SESSION_LIMITS, rekeyAfterMs: 2_000, rejectAfterMs: 5_000 };
  const c = tb.newCircuit(1, { sessionLimits: limits });
  let down = '';
  c.onDown((r) => (down = r));
  const pr = c.build();
  await flush();
  await pr;
  tb.net.taps.push((f) => f.to.port !== 40000); // nothing reaches the client any more
  await advance(tb.clock, 6_000);
  assert.equal(down, 'expired');
  assert.equal(c.state, 'down');
});
