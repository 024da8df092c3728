import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Liveness, LivenessError } from '../../../client/circuit-liveness.js';
import type { DownInfo } from '../../../client/circuit.js';
import { advance, flush, testbed, udpPacket } from '../relay/fake-net.js';

const O = { probeMs: 500, deadMs: 1500 };

test('Liveness: nothing sent, nothing owed', () => {
  const l = new Liveness(3, O);
  assert.deepEqual(l.check(10_000), { kind: 'none' });
  assert.throws(() => new Liveness(0, O), LivenessError);
  assert.throws(() => new Liveness(3, { probeMs: 0, deadMs: 1 }), LivenessError);
});

test('Liveness: an exit answer ends the silent period; probes every probeMs; dead at deadMs', () => {
  const l = new Liveness(3, O);
  l.sent(0);
  l.sent(100); // the period started at 0
  assert.equal(l.silentFrom, 0);
  assert.equal(l.check(499).kind, 'none');
  assert.equal(l.check(500).kind, 'probe');
  assert.equal(l.check(700).kind, 'none', 'no second round before probeMs');
  l.heard(2, 800);
  assert.equal(l.silentFrom, undefined);
  assert.equal(l.check(5_000).kind, 'none');
  l.sent(6_000);
  assert.equal(l.check(6_500).kind, 'probe');
  assert.equal(l.check(7_000).kind, 'probe');
  assert.equal(l.probes, 3);
  assert.deepEqual(l.check(7_500), { kind: 'dead', hop: 0, silentMs: 1500 });
});

test('Liveness: the first hop that stopped answering probes is named', () => {
  const l = new Liveness(3, O);
  l.sent(0);
  l.heard(1, 200); // answers from before probing do not count
  assert.equal(l.check(500).kind, 'probe');
  l.heard(0, 510); // entry answered its probe; middle did not
  assert.deepEqual(l.check(1500), { kind: 'dead', hop: 1, silentMs: 1500 });
  const m = new Liveness(3, O);
  m.sent(0);
  m.check(500);
  m.heard(1, 520); // entry and middle answered: the exit is the silent one
  assert.deepEqual(m.check(1600), { kind: 'dead', hop: 2, silentMs: 1600 });
});

/** A 3-hop circuit with liveness on, up, sending one packet every 100 ms; `cut` hop stops forwarding. */
async function scenario(cut: number | undefined, ms: number): Promise<{ down: Array<[string, DownInfo]>; probes: number; upAt: number; state: string; echoes: number }> {
  const tb = testbed();
  const c = tb.newCircuit(3, { liveness: O });
  const down: Array<[string, DownInfo]> = [];
  c.onDown((r, info) => down.push([r, info]));
  const pr = c.build();
  await flush();
  const up = await pr;
  const upAt = tb.clock.now();
  let echoes = 0;
  tb.net.taps.push((f) => {
    // Count answers to probes: PADDING echoes from relays travel towards the client.
    if (f.to.port === tb.clientEp.port) echoes++; // nothing answers the IP packets: all of these are PADDING echoes
    if (cut === undefined) return true;
    const ep = tb.endpoints[cut]!;
    return !(f.to.host === ep.host && f.to.port === ep.port); // the hop is dead: it receives nothing
  });
  for (let t = 0; t < ms; t += 100) {
    if (c.state === 'up') c.sendIp([udpPacket(up.ipv4, '198.18.200.1', 9)]);
    await advance(tb.clock, 100, 50);
  }
  const st = c.stats();
  c.close();
  return { down, probes: st.probes, upAt, state: st.state, echoes };
}

test('Circuit: one-way traffic through live relays is probed, answered, never declared dead', async () => {
  const r = await scenario(undefined, 6_000);
  assert.deepEqual(r.down, []);
  assert.ok(r.probes >= 2, `probe rounds ${r.probes}`);
  assert.ok(r.echoes >= 3 * 2, `relays answered probes (${r.echoes} answers)`);
  assert.equal(r.state, 'up');
});

for (const [hop, name] of [[0, 'entry'], [1, 'middle'], [2, 'exit']] as const) {
  test(`Circuit: a dead ${name} → down 'unresponsive' naming hop ${hop}, ~deadMs after traffic went unanswered`, async () => {
    const r = await scenario(hop, 4_000);
    assert.equal(r.down.length, 1);
    const [reason, info] = r.down[0]!;
    assert.equal(reason, 'unresponsive');
    assert.equal(info.hop, hop);
    assert.ok(info.silentMs !== undefined && info.silentMs >= O.deadMs && info.silentMs < O.deadMs + 300, `silentMs ${info.silentMs}`);
    assert.equal(r.state, 'down');
  });
}

test('Circuit: an idle circuit whose relays died is noticed through its keepalive', async () => {
  const tb = testbed();
  const c = tb.newCircuit(3, { liveness: O, keepaliveMs: 2_000 });
  const down: Array<[string, DownInfo]> = [];
  c.onDown((r, info) => down.push([r, info]));
  const pr = c.build();
  await flush();
  await pr;
  tb.net.taps.push(() => false);
  await advance(tb.clock, 1_900, 50);
  assert.equal(down.length, 0, 'nothing sent yet, nothing owed');
  await advance(tb.clock, 2_000, 50);
  assert.deepEqual(down.map(([r, i]) => [r, i.hop]), [['unresponsive', 0]]);
});

test('Circuit: liveness off (the default) never declares a silent circuit dead', async () => {
  const tb = testbed();
  const c = tb.newCircuit(2);
  let down = '';
  c.onDown((r) => (down = r));
  const pr = c.build();
  await flush();
  const up = await pr;
  tb.net.taps.push(() => false);
  for (let i = 0; i < 30; i++) {
    c.sendIp([udpPacket(up.ipv4, '198.18.200.1', 9)]);
    await advance(tb.clock, 100, 100);
  }
  assert.equal(down, '');
  assert.equal(c.stats().probes, 0);
  c.close();
});
