import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { Circuit } from '../../../client/circuit.js';
import { RelayEngine } from '../../../relay/engine.js';
import { parseExitPolicy } from '../../../relay/exit-policy.js';
import { generateX25519 } from '../../../protocol/x25519.js';
import { FakeNet, flush, reply, udpPacket, POOL, type InFlight } from './fake-net.js';

const INTERNET = '198.18.200.10';

/** One exit relay and a 1-hop client circuit on a FakeNet, with every exit.write / onIp call recorded. */
async function setup() {
  const clock = new ManualClock();
  const net = new FakeNet();
  const kp = generateX25519();
  const relayEp = { host: '198.18.0.1', port: 5000 };
  const clientEp = { host: '198.18.1.1', port: 40000 };
  const writeCalls: Buffer[][] = [];
  const relay = new RelayEngine({
    clock,
    log: silentLogger(),
    identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
    send: net.sender(relayEp),
    exit: { write: (ps) => void writeCalls.push([...ps]), policy: parseExitPolicy(['accept 198.18.0.0/15:*', 'reject *:*']), pool: POOL },
  });
  net.attach(relayEp, (p, from) => relay.onDatagram(p, from));
  const c = new Circuit({ clock, log: silentLogger(), send: net.sender(clientEp) }, [{ endpoint: relayEp, staticPublic: kp.publicKey }]);
  net.attach(clientEp, (p, from) => c.onDatagram(p, from));
  const ipCalls: Buffer[][] = [];
  c.onIp((ps) => void ipCalls.push([...ps]));
  const pr = c.build(() => {});
  await flush();
  const info = await pr;
  return { net, relay, c, info, relayEp, clientEp, writeCalls, ipCalls };
}

/** Runs `fn` while holding back every datagram sent to `to`; returns them. */
async function capture(net: FakeNet, to: { host: string; port: number }, fn: () => void): Promise<InFlight[]> {
  const held: InFlight[] = [];
  const tap = (f: InFlight): boolean => {
    if (f.to.host !== to.host || f.to.port !== to.port) return true;
    held.push(f);
    return false;
  };
  net.taps.push(tap);
  fn();
  await flush();
  net.taps = net.taps.filter((t) => t !== tap);
  return held;
}

test('RelayEngine.onDatagrams: a batch of IP packets reaches the exit TUN in one write, in order', async () => {
  const t = await setup();
  const ips = [0, 1, 2].map((i) => udpPacket(t.info.ipv4, INTERNET, 53, `p${i}`));
  const held = await capture(t.net, t.relayEp, () => t.c.sendIp(ips));
  assert.equal(held.length, 3);
  assert.equal(t.writeCalls.length, 0);
  t.relay.onDatagrams(
    held.map((f) => f.packet),
    held.map((f) => f.from),
  );
  assert.equal(t.writeCalls.length, 1, 'one write for the whole batch');
  assert.deepEqual(t.writeCalls[0], ips);
  assert.equal(t.relay.stats().packets.exitOut, 3);
  // A replayed copy in a later batch is dropped and writes nothing.
  t.relay.onDatagrams([held[0]!.packet], [held[0]!.from]);
  assert.equal(t.writeCalls.length, 1);
  assert.equal(t.relay.stats().drops.replay, 1);
});

test('Circuit.onDatagrams: the IP packets of a batch reach onIp in one call, in order; bad ones are dropped', async () => {
  const t = await setup();
  const ips = [0, 1, 2].map((i) => udpPacket(t.info.ipv4, INTERNET, 53, `q${i}`));
  t.c.sendIp(ips);
  await flush();
  assert.equal(t.writeCalls.length, 3, 'packet by packet without onDatagrams');
  const replies = ips.map((p, i) => reply(p, `r${i}`));
  const held = await capture(t.net, t.clientEp, () => t.relay.onTunPackets(replies));
  assert.equal(held.length, 3);
  const forged = Buffer.from(held[1]!.packet);
  forged[forged.length - 1]! ^= 1;
  const before = t.ipCalls.length;
  t.c.onDatagrams(
    [held[0]!.packet, forged, held[1]!.packet, held[2]!.packet],
    held.map((f) => f.from).concat(held[0]!.from),
  );
  assert.equal(t.ipCalls.length, before + 1, 'one onIp call for the batch');
  assert.deepEqual(t.ipCalls[before], replies);
  assert.equal(t.c.stats().drops.auth, 1);
});
