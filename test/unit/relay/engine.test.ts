import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { MsgType } from '../../../protocol/constants.js';
import { CircuitBuildError } from '../../../client/circuit.js';
import { RelayEngine } from '../../../relay/engine.js';
import { silentLogger } from '../../../common/log.js';
import { generateX25519 } from '../../../protocol/x25519.js';
import { advance, DNS, flush, reply, testbed, udpPacket, type InFlight } from './fake-net.js';

const INTERNET = '198.18.200.10';

async function up(n: number, tb = testbed()) {
  const c = tb.newCircuit(n);
  const got: Buffer[] = [];
  c.onIp((ps) => got.push(...ps));
  const events: string[] = [];
  const pr = c.build((ev) => events.push(`${ev.hop}/${ev.of}:${ev.phase}`));
  await flush();
  const info = await pr;
  return { tb, c, got, info, events };
}

/** Sends one IP packet through `c` and answers it from the exit's TUN; returns what the exit wrote. */
async function roundTrip(t: Awaited<ReturnType<typeof up>>, exitIdx: number, payload = 'ping') {
  const before = t.tb.exitWrites[exitIdx]!.length;
  const gotBefore = t.got.length;
  t.c.sendIp([udpPacket(t.info.ipv4, INTERNET, 53, payload)]);
  await flush();
  const w = t.tb.exitWrites[exitIdx]!.slice(before);
  for (const p of w) t.tb.relays[exitIdx]!.onTunPackets([reply(p, `re:${payload}`)]);
  await flush();
  return { written: w, received: t.got.slice(gotBefore) };
}

for (const n of [1, 2, 3]) {
  test(`${n}-hop circuit: builds, IP reaches the exit with the assigned source, replies come back`, async () => {
    const t = await up(n);
    const expected = ['0/' + n + ':handshake', ...Array.from({ length: n - 1 }, (_, i) => `${i + 1}/${n}:extended`), `${n - 1}/${n}:exit`];
    assert.deepEqual(t.events, expected);
    assert.match(t.info.ipv4, /^198\.19\.\d+\.\d+$/);
    assert.equal(t.info.prefixLen, 16);
    assert.equal(t.info.dns, DNS);
    const exit = n - 1;
    const { written, received } = await roundTrip(t, exit, 'hello');
    assert.equal(written.length, 1);
    assert.equal(`${written[0]![12]}.${written[0]![13]}.${written[0]![14]}.${written[0]![15]}`, t.info.ipv4);
    assert.equal(written[0]!.subarray(28).toString(), 'hello');
    assert.equal(received.length, 1);
    assert.equal(received[0]!.subarray(28).toString(), 're:hello');
    // only the exit wrote; each relay holds exactly one circuit
    t.tb.exitWrites.forEach((w, i) => assert.equal(w.length, i === exit ? 1 : 0));
    t.tb.relays.forEach((r, i) => assert.equal(r.stats().circuits, i < n ? 1 : 0));
    assert.equal(t.tb.relays[exit]!.stats().exitAddresses, 1);
    const s = t.c.stats();
    assert.equal(s.state, 'up');
    assert.equal(s.hopsBuilt, n);
    assert.equal(s.packets.sent, 1);
    assert.equal(s.packets.received, 1);
    // on the wire: a packet from client to entry carries n layers (33 B each) around the IP packet
    const data = t.tb.net.log.filter((f) => f.from.port === 40000 && f.packet[0] === MsgType.DATA);
    assert.equal(data.at(-1)!.packet.length, 33 + n * 33);
  });
}

/** Every KeyObject reachable from `root` exported as hex. */
function keysIn(root: unknown): Set<string> {
  const out = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof KeyObject) {
      if (v.type === 'secret') out.add(v.export().toString('hex'));
      return;
    }
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
      if (v.length === 32) out.add(Buffer.from(v).toString('hex'));
      return;
    }
    for (const x of Object.values(v as Record<string, unknown>)) walk(x);
  };
  walk(root);
  return out;
}

test('the entry holds only its own keys, never the middle or exit keys', async () => {
  const t = await up(3);
  const recs = t.tb.relays.map((r) => {
    const info = r.circuits()[0]!;
    return r.inspectCircuit(info.prevIdx)!;
  });
  const own = recs.map((rec) => new Set([rec.session.current.sendKey.export().toString('hex'), rec.session.current.recvKey.export().toString('hex')]));
  const entryKeys = keysIn(recs[0]);
  for (const k of own[0]!) assert.ok(entryKeys.has(k), 'the walk finds the entry key');
  for (const i of [1, 2]) for (const k of own[i]!) assert.ok(!entryKeys.has(k), `entry must not hold hop ${i}'s key`);
  // and nothing in the whole entry engine holds them either
  const all = keysIn(t.tb.relays[0]);
  for (const i of [1, 2]) for (const k of own[i]!) assert.ok(!all.has(k));
});

test('replayed, bit-flipped, truncated, wrong-index, wrong-epoch packets are dropped and counted; the circuit keeps working', async () => {
  const t = await up(3);
  await roundTrip(t, 2, 'one');
  const entry = t.tb.relays[0]!;
  const middle = t.tb.relays[1]!;
  const toEntry = t.tb.net.log.filter((f) => f.from.port === 40000 && f.packet[0] === MsgType.DATA).at(-1)!;
  const toMiddle = t.tb.net.log.filter((f) => f.from.host === '198.18.0.1' && f.to.host === '198.18.0.2' && f.packet[0] === MsgType.DATA).at(-1)!;
  const inject = (f: InFlight, p: Buffer) => t.tb.net.inject(f.from, f.to, p);
  inject(toEntry, toEntry.packet); // replay
  inject(toMiddle, toMiddle.packet); // replay one hop further
  const flipped = Buffer.from(toEntry.packet);
  flipped[flipped.length - 20]! ^= 4;
  flipped.writeUInt32LE(flipped.readUInt32LE(8) + 1000, 8); // fresh counter so the tag check is what fails
  inject(toEntry, flipped);
  inject(toEntry, toEntry.packet.subarray(0, 30)); // truncated
  const wrongIdx = Buffer.from(toEntry.packet);
  wrongIdx.writeUInt32LE((wrongIdx.readUInt32LE(4) ^ 0x5a5a) >>> 0, 4);
  inject(toEntry, wrongIdx);
  const wrongEpoch = Buffer.from(toEntry.packet);
  wrongEpoch[1] = 7;
  inject(toEntry, wrongEpoch);
  await flush();
  const d = entry.stats().drops;
  assert.equal(d.replay, 1);
  assert.equal(d.auth, 1);
  assert.equal(d.malformed, 1);
  assert.equal(d.unknown_index, 1);
  assert.equal(d.unknown_epoch, 1);
  assert.equal(middle.stats().drops.replay, 1);
  assert.equal(t.tb.exitWrites[2]!.length, 1, 'nothing extra reached the exit');
  const r = await roundTrip(t, 2, 'two');
  assert.equal(r.received.length, 1);
  assert.equal(r.received[0]!.subarray(28).toString(), 're:two');
  // backward: a replayed packet to the client is dropped by the client
  const toClient = t.tb.net.log.filter((f) => f.to.port === 40000 && f.packet[0] === MsgType.DATA).at(-1)!;
  inject(toClient, toClient.packet);
  await flush();
  assert.equal(t.c.stats().drops.replay, 1);
  assert.equal(t.got.length, 2);
});

test('exit drops spoofed sources and policy-denied destinations', async () => {
  const t = await up(2);
  const exit = t.tb.relays[1]!;
  t.c.sendIp([udpPacket('198.19.9.9', INTERNET, 53)]); // spoofed source
  t.c.sendIp([udpPacket(t.info.ipv4, '198.18.0.1', 22)]); // denied: relay net
  t.c.sendIp([udpPacket(t.info.ipv4, '8.8.8.8', 53)]); // denied: outside the allowed test internet
  t.c.sendIp([Buffer.from('6000000000000000', 'hex')]); // not IPv4
  t.c.sendIp([udpPacket(t.info.ipv4, INTERNET, 53)]); // fine
  await flush();
  const d = exit.stats().drops;
  assert.equal(d.spoofed, 1);
  assert.equal(d.policy, 2);
  assert.equal(d.not_ipv4, 1);
  assert.equal(t.tb.exitWrites[1]!.length, 1);
  // TUN packet for an address nobody owns
  exit.onTunPackets([udpPacket(INTERNET, '198.19.77.77', 1)]);
  assert.equal(exit.stats().drops.no_route, 1);
});

test('two circuits through the same relays do not interfere', async () => {
  const tb = testbed();
  const a = await up(3, tb);
  const cb = tb.newCircuit(3);
  const gotB: Buffer[] = [];
  cb.onIp((ps) => gotB.push(...ps));
  const pb = cb.build();
  await flush();
  const b = { tb, c: cb, got: gotB, info: await pb, events: [] };
  assert.notEqual(a.info.ipv4, b.info.ipv4);
  tb.relays.forEach((r) => assert.equal(r.stats().circuits, 2));
  const ra = await roundTrip(a, 2, 'A');
  const rb = await roundTrip(b, 2, 'B');
  assert.deepEqual(ra.received.map((p) => p.subarray(28).toString()), ['re:A']);
  assert.deepEqual(rb.received.map((p) => p.subarray(28).toString()), ['re:B']);
  assert.equal(a.got.length, 1);
  assert.equal(b.got.length, 1);
  // b cannot send as a's address
  cb.sendIp([udpPacket(a.info.ipv4, INTERNET, 53)]);
  await flush();
  assert.equal(tb.relays[2]!.stats().drops.spoofed, 1);
  // closing a leaves b working
  a.c.close();
  await flush();
  tb.relays.forEach((r) => assert.equal(r.stats().circuits, 1));
  const rb2 = await roundTrip(b, 2, 'B2');
  assert.equal(rb2.received.length, 1);
  assert.equal(tb.relays[2]!.stats().exitAddresses, 1);
});

test('DESTROY frees every relay; idle expiry frees state when the client goes silent', async () => {
  const t = await up(3);
  t.tb.relays.forEach((r) => r.start());
  // keepalives keep an idle circuit alive past the idle timeout
  await advance(t.tb.clock, 70_000);
  t.tb.relays.forEach((r) => assert.equal(r.stats().circuits, 1));
  assert.ok(t.c.stats().keepalivesSent >= 6);
  // the client vanishes (all its packets lost): relays expire the circuit
  t.tb.net.taps.push((f) => f.from.port !== 40000);
  await advance(t.tb.clock, 70_000);
  t.tb.relays.forEach((r) => {
    assert.equal(r.stats().circuits, 0);
    assert.equal(r.indexCount, 0);
    assert.equal(r.stats().exitAddresses, 0);
  });
  assert.ok(t.tb.relays[0]!.stats().circuitsClosed.idle >= 1);
  t.tb.relays.forEach((r) => r.stop());
  t.c.close();
});

test('close() sends DESTROY that propagates through all hops', async () => {
  const t = await up(3);
  t.c.close();
  await flush();
  t.tb.relays.forEach((r) => {
    assert.equal(r.stats().circuits, 0);
    assert.equal(r.indexCount, 0);
  });
  assert.equal(t.tb.relays[2]!.stats().exitAddresses, 0);
  assert.equal(t.c.state, 'closed');
});

test('rekey after REKEY_AFTER_TIME keeps traffic flowing across the switch, and past REJECT_AFTER_TIME', async () => {
  const t = await up(3);
  t.tb.relays.forEach((r) => r.start());
  let ok = 0;
  for (let s = 0; s < 200; s += 5) {
    await advance(t.tb.clock, 5_000);
    const r = await roundTrip(t, 2, `t${s}`);
    if (r.received.length === 1) ok++;
  }
  assert.equal(ok, 40, 'every round trip succeeded');
  assert.ok(t.c.stats().rekeys >= 3, `rekeys: ${t.c.stats().rekeys}`);
  t.tb.relays.forEach((r) => {
    assert.ok(r.circuits()[0]!.epoch >= 1);
    assert.ok(r.stats().handshakes.rekeyed >= 1);
  });
  t.tb.relays.forEach((r) => r.stop());
  t.c.close();
});

test('a retransmitted INIT does not create a second circuit (duplicate and lost RESP)', async () => {
  const tb = testbed();
  // duplicate every INIT in flight
  tb.net.taps.push((f) => {
    if (f.packet[0] === MsgType.HANDSHAKE_INIT && f.from.port === 40000) queueMicrotask(() => tb.relays[0]!.onDatagram(Buffer.from(f.packet), f.from));
    return true;
  });
  const t = await up(1, tb);
  assert.equal(tb.relays[0]!.stats().circuits, 1);
  assert.equal(tb.relays[0]!.stats().handshakes.retransmitted, 1);
  assert.equal(t.c.stats().drops.unexpected, 1, 'the second RESP is ignored by the client');

  // lose the first RESP: the client resends the same INIT after 1 s and gets the cached RESP
  const tb2 = testbed();
  let lost = 0;
  tb2.net.taps.push((f) => !(f.packet[0] === MsgType.HANDSHAKE_RESP && lost++ === 0));
  const c = tb2.newCircuit(2);
  const pr = c.build();
  await flush();
  await advance(tb2.clock, 1000);
  await pr;
  assert.equal(tb2.relays[0]!.stats().circuits, 1);
  assert.equal(tb2.relays[0]!.stats().handshakes.retransmitted, 1);
  assert.equal(tb2.relays[1]!.stats().circuits, 1);
  c.close();
});

test('EXTEND to an unanswering node fails the build at that hop; the relay gives up and frees the index', async () => {
  const tb = testbed();
  tb.relays.forEach((r) => r.start());
  const c = tb.newCircuit(3);
  // hop 2 points at an endpoint with nobody behind it
  (c as unknown as { hops: Array<{ info: { endpoint: { host: string; port: number } } }> }).hops[2]!.info.endpoint = { host: '198.18.0.99', port: 5000 };
  const pr = c.build();
  const res = pr.then(
    () => assert.fail('must not build'),
    (e: unknown) => e,
  );
  await flush();
  await advance(tb.clock, 11_000);
  const err = await res;
  assert.ok(err instanceof CircuitBuildError);
  assert.equal(err.hop, 2);
  assert.ok(err.reason === 'refused' || err.reason === 'timeout', err.reason);
  assert.equal(tb.relays[1]!.stats().handshakes.extendFailed, 1);
  await flush();
  tb.relays.forEach((r) => r.stop());
});

test('tampered RESP auth fails the build with reason auth; wrong static key times out (wrong_node at the relay)', async () => {
  const tb = testbed();
  tb.net.taps.push((f) => {
    if (f.packet[0] === MsgType.HANDSHAKE_RESP) f.packet[70]! ^= 1;
    return true;
  });
  const c = tb.newCircuit(1);
  const res = c.build().then(() => assert.fail('must fail'), (e: unknown) => e);
  await flush();
  await advance(tb.clock, 11_000);
  const err = await res;
  assert.ok(err instanceof CircuitBuildError && err.reason === 'auth' && err.hop === 0, String(err));

  const tb2 = testbed();
  const c2 = tb2.newCircuit(2);
  (c2 as unknown as { hops: Array<{ info: { staticPublic: Uint8Array } }> }).hops[1]!.info.staticPublic = generateX25519().publicKey;
  const res2 = c2.build().then(() => assert.fail('must fail'), (e: unknown) => e);
  await flush();
  await advance(tb2.clock, 11_000);
  const err2 = await res2;
  assert.ok(err2 instanceof CircuitBuildError && err2.hop === 1, String(err2));
  assert.ok(tb2.relays[1]!.stats().drops.wrong_node >= 1);
});

test('a relay without exit hooks refuses EXIT_OPEN', async () => {
  const tb = testbed();
  const kp = generateX25519();
  const ep = { host: '198.18.0.9', port: 5000 };
  const r = new RelayEngine({ clock: tb.clock, log: silentLogger(), identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey }, send: tb.net.sender(ep) });
  tb.net.attach(ep, (p, from) => r.onDatagram(p, from));
  const c = tb.newCircuit(2);
  (c as unknown as { hops: Array<{ info: { endpoint: object; staticPublic: Uint8Array } }> }).hops[1]!.info = { endpoint: ep, staticPublic: kp.publicKey };
  const res = c.build().then(() => assert.fail('must fail'), (e: unknown) => e);
  await flush();
  const err = await res;
  assert.ok(err instanceof CircuitBuildError && err.reason === 'refused' && err.hop === 1, String(err));
});

test('handshake rate limit per source', async () => {
  const tb = testbed({ relayOptions: { handshakeBurst: 3, handshakeRatePerSec: 1 } });
  for (let i = 0; i < 5; i++) {
    const c = tb.newCircuit(1);
    void c.build().catch(() => undefined);
  }
  await flush();
  assert.equal(tb.relays[0]!.stats().circuits, 3);
  assert.equal(tb.relays[0]!.stats().drops.rate_limited, 2);
});

test('fast-check: random bytes into onDatagram never throw and never change other circuits', async () => {
  const tb = testbed();
  const a = await up(3, tb); // the circuit under attack: its live indices are used
  const cb = tb.newCircuit(3);
  const gotB: Buffer[] = [];
  cb.onIp((ps) => gotB.push(...ps));
  const pb = cb.build();
  await flush();
  const b = { tb, c: cb, got: gotB, info: await pb, events: [] };
  const aIdx = new Set(tb.relays.flatMap((r) => r.circuits().filter((c) => c.id === 1).flatMap((c) => [c.prevIdx, c.nextIdx ?? 0])));
  const others = () => tb.relays.map((r) => JSON.stringify(r.circuits().filter((c) => !aIdx.has(c.prevIdx))));
  const lastActivityA = () => tb.relays.map((r) => r.circuits().filter((c) => aIdx.has(c.prevIdx)).map((c) => c.lastActivity));
  const before = others();
  const actBefore = lastActivityA();
  const arb = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((x) => Buffer.from(x)),
    // well-framed DATA with a live receiver index of circuit a and random content
    fc.tuple(fc.constantFrom(...aIdx), fc.uint8Array({ minLength: 17, maxLength: 200 }), fc.nat(255)).map(([idx, body, epoch]) => {
      const p = Buffer.alloc(16 + body.length);
      p[0] = 4;
      p[1] = epoch;
      p.writeUInt32LE(idx, 4);
      Buffer.from(body).copy(p, 16);
      p.writeUInt32LE(p.readUInt32LE(12) & 0x1fffff, 12);
      return p;
    }),
    fc.constantFrom(1, 2, 5).chain((type) => fc.uint8Array({ minLength: 7, maxLength: 80 }).map((x) => Buffer.concat([Buffer.of(type), x]))),
  );
  const fromArb = fc.constantFrom(tb.clientEp, { host: '198.18.0.1', port: 5000 }, { host: '6.6.6.6', port: 1 }, { host: '198.18.0.3', port: 5000 });
  fc.assert(
    fc.property(fc.array(fc.tuple(arb, fc.nat(2), fromArb), { maxLength: 40 }), (items) => {
      for (const [p, i, from] of items) tb.relays[i]!.onDatagram(p, from);
    }),
    { numRuns: 200 },
  );
  await flush();
  tb.relays.forEach((r) => assert.equal(r.stats().drops.internal, 0));
  assert.equal(a.c.stats().drops.internal, 0);
  assert.deepEqual(others(), before, 'circuit b untouched');
  // no forged packet authenticated on circuit a either (only authenticated traffic moves lastActivity)
  assert.deepEqual(lastActivityA(), actBefore);
  assert.equal((await roundTrip(a, 2, 'a-alive')).received.length, 1);
  assert.equal((await roundTrip(b, 2, 'b-alive')).received.length, 1);
  // a DESTROY is only honoured from the adjacent node's endpoint, so both circuits survived
  tb.relays.forEach((r) => assert.equal(r.stats().circuits, 2));
});

test('exit policy passed to the engine is applied (reject a port)', async () => {
  const tb = testbed({ policy: ['reject *:25', 'accept 198.18.0.0/15:*'] });
  const t = await up(1, tb);
  t.c.sendIp([udpPacket(t.info.ipv4, INTERNET, 25), udpPacket(t.info.ipv4, INTERNET, 26)]);
  await flush();
  assert.equal(tb.relays[0]!.stats().drops.policy, 1);
  assert.equal(tb.exitWrites[0]!.length, 1);
});

test('an INIT replayed with the same X but another sender_idx is refused, not answered', async () => {
  const tb = testbed();
  const init = tb.net.log;
  const c = tb.newCircuit(1);
  const pr = c.build();
  await flush();
  await pr;
  const first = init.find((f) => f.packet[0] === MsgType.HANDSHAKE_INIT)!;
  const forged = Buffer.from(first.packet);
  forged.writeUInt32LE(12345, 4);
  const sent = tb.net.log.length;
  tb.relays[0]!.onDatagram(forged, { host: '6.6.6.6', port: 9 });
  assert.equal(tb.relays[0]!.stats().drops.handshake, 1);
  assert.equal(tb.net.log.length, sent, 'nothing sent');
  assert.equal(tb.relays[0]!.stats().circuits, 1);
  c.close();
});

test('app controls and metering hooks: payments ride in a hop layer; billed bytes agree on both sides; a paused circuit drops traffic but still carries controls', async () => {
  const tb = testbed();
  const calls: Array<{ relay: number; id: number; body: string }> = [];
  const billed = [0, 1, 2].map(() => ({ forward: 0, backward: 0 }));
  let paused = false;
  // replace the middle relay with one that has hooks (same identity slot)
  const kp = generateX25519();
  const ep = { host: '198.18.0.5', port: 5000 };
  let mid!: RelayEngine;
  mid = new RelayEngine({
    clock: tb.clock,
    log: silentLogger(),
    identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
    send: tb.net.sender(ep),
    hooks: {
      onControl: (id, body) => {
        calls.push({ relay: 1, id, body: body.toString('hex') });
        mid.sendAppControl(id, Buffer.of(18, 0xaa)); // answer
      },
      meter: (_id, dir, bytes, traffic) => {
        billed[1]![dir] += bytes;
        return !(paused && traffic);
      },
    },
  });
  tb.net.attach(ep, (p, from) => mid.onDatagram(p, from));
  const c = tb.newCircuit(3);
  (c as unknown as { hops: Array<{ info: unknown }> }).hops[1]!.info = { endpoint: ep, staticPublic: kp.publicKey };
  const got: Array<[number, string]> = [];
  c.onAppControl((hop, body) => got.push([hop, body.toString('hex')]));
  const pr = c.build();
  await flush();
  const info = await pr;
  assert.equal(c.sendAppControl(1, Buffer.of(17, 1, 2, 3)), true);
  assert.equal(c.sendAppControl(1, Buffer.of(3)), false, 'data-plane ctypes are refused');
  assert.equal(c.sendAppControl(5, Buffer.of(17)), false);
  await flush();
  assert.deepEqual(calls.map((x) => x.body), ['11010203']);
  assert.deepEqual(got, [[1, '12aa']]);
  // traffic both ways, then compare billed bytes for the middle hop
  c.sendIp([udpPacket(info.ipv4, INTERNET, 53, 'x'.repeat(500))]);
  await flush();
  for (const p of tb.exitWrites[2]!.splice(0)) tb.relays[2]!.onTunPackets([reply(p, 'y'.repeat(900))]);
  await flush();
  const hb = c.stats().hopBytes[1]!;
  assert.equal(hb.forward, billed[1]!.forward);
  assert.equal(hb.backward, billed[1]!.backward);
  assert.ok(hb.forward > 500 && hb.backward > 900);
  // paused: traffic dropped as unpaid, controls still flow
  paused = true;
  c.sendIp([udpPacket(info.ipv4, INTERNET, 53)]);
  await flush();
  assert.equal(mid.stats().drops.unpaid, 1);
  assert.equal(tb.exitWrites[2]!.length, 0);
  assert.equal(c.sendAppControl(1, Buffer.of(20, 9)), true);
  await flush();
  assert.equal(calls.length, 2);
  paused = false;
  c.sendIp([udpPacket(info.ipv4, INTERNET, 53)]);
  await flush();
  assert.equal(tb.exitWrites[2]!.length, 1);
  c.close();
});

test('exit pool: gateway and broadcast never assigned; exhaustion refuses; DESTROY returns the address', async () => {
  const tb = testbed({ pool: '198.19.7.0/29' }); // hosts .1 (gateway) .2-.6 assignable, .7 broadcast
  assert.equal(tb.relays[0]!.exitGateway, '198.19.7.1');
  const circuits = [];
  const addrs: string[] = [];
  for (let i = 0; i < 5; i++) {
    const c = tb.newCircuit(1);
    const pr = c.build();
    await flush();
    addrs.push((await pr).ipv4);
    circuits.push(c);
  }
  assert.deepEqual([...addrs].sort(), ['198.19.7.2', '198.19.7.3', '198.19.7.4', '198.19.7.5', '198.19.7.6']);
  const sixth = tb.newCircuit(1);
  const res = sixth.build().then(() => assert.fail('must be refused'), (e: unknown) => e);
  await flush();
  const err = await res;
  assert.ok(err instanceof CircuitBuildError && err.reason === 'refused' && err.hop === 0);
  circuits[2]!.close();
  await flush();
  assert.equal(tb.relays[0]!.stats().exitAddresses, 4);
  const again = tb.newCircuit(1);
  const pr = again.build();
  await flush();
  assert.equal((await pr).ipv4, addrs[2]);
});
