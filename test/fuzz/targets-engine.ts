/**
 * Stateful fuzz targets: a long-lived RelayEngine fed datagrams from anyone, and a client
 * Circuit fed datagrams as if from its entry. Findings: an exception caught by the engine's
 * own guard (drops.internal, logged at error level), or a canary circuit that stops working
 * (a packet that does not authenticate to a circuit must not affect it).
 *
 * Input layout: byte 0 selects the sender and the mode, the rest is the payload:
 *   from = tag & 3        relay: 0/3 the fuzz circuit's client, 1 a stranger, 2 the fuzz circuit's next hop
 *                         client: 0/3 the entry, 1 a stranger, 2 the entry's host on another port
 *   mode = (tag >> 2) & 3 0 raw datagram; 1 raw with the receiver index patched to the live circuit's;
 *                         2 sealed under the live session (payload = kind | body): relay, as the
 *                           fuzz circuit's client; client, as its entry hop;
 *                         3 relay: as 2 with an IP body's source set to the circuit's exit address;
 *                           client: sealed by the middle hop inside the entry's FORWARD layer
 * The relay runs the real payment hooks (relay/payments/hooks.ts) at price 0, so payment
 * controls (CHANNEL_BIND, RECEIPT, ...) take their real path. The client target runs the
 * three-relay in-memory testbed of test/unit/relay/fake-net.ts and rebuilds its circuit when
 * an authenticated input legitimately closed it.
 */
import pino from 'pino';
import fc from 'fast-check';
import { ManualClock } from '../../common/clock.js';
import { Ctrl, Kind, MsgType } from '../../protocol/constants.js';
import { createInit, finish } from '../../protocol/handshake.js';
import { decodePlaintext, encodeControl, encodeDestroy, type Endpoint } from '../../protocol/messages.js';
import { openLayer, sealOne } from '../../protocol/onion.js';
import { DEFAULT_SESSION_LIMITS, HopSession, type SessionLimits } from '../../protocol/session.js';
import { generateX25519 } from '../../protocol/x25519.js';
import { parseIpv4 } from '../../protocol/ipv4.js';
import { encodePaymentControl, PaymentCtrl } from '../../protocol/payment.js';
import { createRelayPaymentHooks } from '../../relay/payments/hooks.js';
import { ReceiptBook } from '../../relay/payments/meter.js';
import { MiB } from '../../protocol/payment-price.js';
import type { Channel } from '../../chain/state/types.js';
import { CHAIN_ID, CHANNEL, payer, relay as relayKey, signed } from '../unit/payments/helpers.js';
import { parseExitPolicy } from '../../relay/exit-policy.js';
import { RelayEngine } from '../../relay/engine.js';
import type { Circuit } from '../../client/circuit.js';
import { flush, testbed, udpPacket, type Testbed } from '../unit/relay/fake-net.js';
import { FuzzFinding, type FuzzTarget } from './harness.js';
import { bytesFrom, concat, tagged } from './mutate.js';
import { controlSeeds, dataSample, ipSeeds, paymentSeeds } from './targets-protocol.js';

const INTERNET = '198.18.200.10';
const NEXT_HOP: Endpoint = { host: '198.18.0.9', port: 5000 };
const STRANGER: Endpoint = { host: '198.18.5.5', port: 777 };

/** A pino logger that keeps what is logged at error level (an engine's guard logs the exception there). */
function capturingLogger(into: string[]): pino.Logger {
  return pino({ level: 'error' }, { write: (s: string) => void into.push(s) });
}

const LIMITS: SessionLimits = { ...DEFAULT_SESSION_LIMITS, rekeyAfterMs: 1e15, rejectAfterMs: 1e15 };

function patchIdx(b: Uint8Array, idx: number): Uint8Array {
  if (b.length < 8) return b;
  const c = Buffer.from(b);
  c.writeUInt32LE(idx >>> 0, 4);
  return c;
}

function modeTags(modes: number[]): fc.Arbitrary<number> {
  return fc.tuple(fc.nat(3), fc.constantFrom(...modes)).map(([from, mode]) => from | (mode << 2));
}

const sealedSeeds: Uint8Array[] = [
  ...controlSeeds.map((c) => concat(Uint8Array.of(Kind.CONTROL), c)),
  ...paymentSeeds.map((c) => concat(Uint8Array.of(Kind.CONTROL), c)),
  ...ipSeeds.map((p) => concat(Uint8Array.of(Kind.IP), p)),
  concat(Uint8Array.of(Kind.FORWARD), dataSample(Kind.PADDING, new Uint8Array(8))),
  Uint8Array.of(Kind.PADDING),
];

interface Live {
  ep: Endpoint;
  session: HopSession;
  /** The relay's receiver index for this circuit. */
  idx: number;
  /** Inner address assigned by the exit. */
  addr: number;
}

export async function relayEngineTarget(): Promise<FuzzTarget> {
  const clock = new ManualClock();
  const errors: string[] = [];
  // The real payment hooks (price 0: a bound circuit never pauses, so the canary keeps flowing).
  const channel: Channel = { id: CHANNEL, payer: payer.address, relay: relayKey.address, deposit: 100n * MiB, claimed: 0n, seq: 0, cumulativeBytes: 0n, status: 'open', openedAt: 0, closesAt: null };
  const hooks = createRelayPaymentHooks({
    chainId: CHAIN_ID,
    relay: relayKey.address,
    pricePerGiB: 0n,
    chain: { getChannel: (id) => Promise.resolve(id === channel.id ? { ...channel } : null) },
    book: new ReceiptBook(),
    log: capturingLogger(errors),
  });
  const kp = generateX25519();
  let sent: Array<{ to: Endpoint; p: Buffer }> = [];
  let exitWrites = 0;
  const engine = new RelayEngine({
    clock,
    log: capturingLogger(errors),
    identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
    send: (to, p) => void sent.push({ to: { ...to }, p: Buffer.from(p) }),
    exit: { write: (ps) => void (exitWrites += ps.length), policy: parseExitPolicy(['reject 198.18.0.0/24:*', 'accept 198.18.0.0/15:*', 'reject *:*']), pool: '198.19.0.0/16', dns: '198.18.0.53' },
    hooks,
    options: { sessionLimits: LIMITS, maxCircuits: 2048 },
  });
  hooks.attach(engine);
  engine.start();
  let hostN = 0;

  /** Handshake + EXIT_OPEN from a fresh host; returns the live circuit. */
  function open(): Live {
    hostN++;
    const ep = { host: `198.18.${3 + ((hostN >> 8) & 0x3f)}.${hostN & 0xff}`, port: 40000 };
    const myIdx = (0x1000 + hostN) >>> 0;
    const { init, state } = createInit(kp.publicKey, myIdx);
    sent = [];
    engine.onDatagram(init, ep);
    const resp = sent.find((s) => s.p[0] === MsgType.HANDSHAKE_RESP);
    if (!resp) throw new Error('fuzz setup: the relay did not answer the INIT');
    const r = finish(state, resp.p, myIdx);
    const session = new HopSession('initiator', r.keys, clock.now(), LIMITS);
    sent = [];
    engine.onDatagram(sealOne(session, r.relayIdx, Kind.CONTROL, encodeControl({ ctype: Ctrl.EXIT_OPEN }), clock.now())!, ep);
    for (const s of sent) {
      const pt = openLayer(session, s.p, clock.now());
      if (typeof pt === 'string') continue;
      const m = decodePlaintext(pt);
      if (m.kind === Kind.CONTROL && m.control.ctype === Ctrl.EXIT_OPENED) return { ep, session, idx: r.relayIdx, addr: parseIpv4(m.control.ipv4) };
    }
    throw new Error('fuzz setup: no EXIT_OPENED');
  }

  const canary = open();
  // Bind the canary to the channel (the hooks answer after the channel lookup resolves).
  engine.onDatagram(sealOne(canary.session, canary.idx, Kind.CONTROL, encodePaymentControl({ ctype: PaymentCtrl.CHANNEL_BIND, chainId: CHAIN_ID, channelId: CHANNEL, payer: payer.address }), clock.now())!, canary.ep);
  await flush();
  if (hooks.channelOf(canary.idx) === undefined && hooks.stats().bound === 0) throw new Error('fuzz setup: the canary did not bind');
  let live = open();
  let internal = 0;

  const rawSeeds: Uint8Array[] = [
    createInit(kp.publicKey, 77).init,
    sealOne(live.session, live.idx, Kind.PADDING, new Uint8Array(0), 0)!,
    encodeDestroy(live.idx),
    dataSample(Kind.IP, ipSeeds[0]!),
  ];
  // Controls that name this relay (a REKEY it can answer), and payment controls for its channel.
  const mySealed = [
    ...sealedSeeds,
    concat(Uint8Array.of(Kind.CONTROL), encodeControl({ ctype: Ctrl.REKEY, init: createInit(kp.publicKey, 5).init })),
    concat(Uint8Array.of(Kind.CONTROL), encodePaymentControl({ ctype: PaymentCtrl.RECEIPT, ...signed({ seq: 7, cumulativeAmount: 10n, cumulativeBytes: 10n }) })),
  ];
  const arbitrary = fc.oneof(tagged(modeTags([0, 1]), bytesFrom(rawSeeds, 128)), tagged(modeTags([2, 3]), bytesFrom(mySealed, 128)));

  return {
    name: 'relay.engine.onDatagram',
    parser: 'relay/engine.ts RelayEngine.onDatagram (all message types, controls, exit IP path)',
    arbitrary,
    allowedErrors: [],
    run(b) {
      if (b.length === 0) return;
      clock.advance(5);
      if (engine.inspectCircuit(live.idx) === undefined) live = open();
      const from = b[0]! & 3;
      const mode = (b[0]! >> 2) & 3;
      let payload: Uint8Array = b.subarray(1);
      const src = from === 1 ? STRANGER : from === 2 ? NEXT_HOP : live.ep;
      if (mode === 1) payload = patchIdx(payload, live.idx);
      if (mode >= 2) {
        if (payload.length === 0) return;
        let body = Buffer.from(payload.subarray(1));
        if (mode === 3 && payload[0] === Kind.IP && body.length >= 20) body.writeUInt32BE(live.addr, 12);
        payload = sealOne(live.session, live.idx, payload[0]!, body, clock.now())!;
      }
      sent = [];
      engine.onDatagram(Buffer.from(payload), src);
      const st = engine.stats();
      if (st.drops.internal !== internal || errors.length > 0) {
        internal = st.drops.internal;
        const e = errors.splice(0).join('\n');
        throw new FuzzFinding(`relay engine caught an exception: ${e}`);
      }
      // The canary circuit still carries traffic to the exit.
      const before = exitWrites;
      const ip = udpPacket('0.0.0.0', INTERNET, 53, 'canary');
      ip.writeUInt32BE(canary.addr, 12);
      engine.onDatagram(sealOne(canary.session, canary.idx, Kind.IP, ip, clock.now())!, canary.ep);
      if (exitWrites !== before + 1) throw new FuzzFinding('the canary circuit stopped carrying traffic');
      sent = [];
    },
    close() {
      engine.stop();
    },
  };
}

export async function clientCircuitTarget(): Promise<FuzzTarget> {
  const errors: string[] = [];
  let tb: Testbed = testbed();
  let c: Circuit;
  let got = 0;
  let internal = 0;
  let runs = 0;
  let addr = '';

  async function build(): Promise<void> {
    tb = testbed();
    c = tb.newCircuit(3);
    // Replace the silent logger: the circuit's guard logs what it caught at error level.
    (c as unknown as { log: pino.Logger }).log = capturingLogger(errors);
    c.onIp((ps) => void (got += ps.length));
    let up: { ipv4: string } | undefined;
    let failed: unknown;
    c.build().then(
      (u) => void (up = u),
      (e: unknown) => void (failed = e ?? new Error('build failed')),
    );
    // Deliver, then let retransmission timers run (simulated time) until the build settles.
    for (let i = 0; i < 40 && up === undefined && failed === undefined; i++) {
      await flush();
      if (up === undefined && failed === undefined) tb.clock.advance(1000);
    }
    if (up === undefined) throw new FuzzFinding(`a fresh circuit did not build: ${failed === undefined ? 'no answer in 40 s' : String(failed)}`);
    addr = up.ipv4;
    internal = 0;
  }
  await build();

  function relayCircuit(i: number) {
    const info = tb.relays[i]!.circuits()[0];
    if (!info) return undefined;
    return tb.relays[i]!.inspectCircuit(info.prevIdx);
  }

  const rawSeeds: Uint8Array[] = [dataSample(Kind.IP, ipSeeds[0]!), encodeDestroy(1), createInit(tb.statics[0]!, 3).init, dataSample(Kind.CONTROL, controlSeeds[1]!)];
  const arbitrary = fc.oneof(tagged(modeTags([0, 1]), bytesFrom(rawSeeds, 128)), tagged(modeTags([2, 3]), bytesFrom(sealedSeeds, 128)));

  return {
    name: 'client.circuit.onDatagram',
    parser: 'client/circuit.ts Circuit.onDatagram (peeling, controls from each hop, IP delivery)',
    arbitrary,
    allowedErrors: [],
    async run(b) {
      if (b.length === 0) return;
      if (c.stats().state !== 'up') await build();
      const entryEp = tb.endpoints[0]!;
      const from = b[0]! & 3;
      const mode = (b[0]! >> 2) & 3;
      let payload: Uint8Array = b.subarray(1);
      const src = from === 1 ? { host: '198.18.5.5', port: 777 } : from === 2 ? { host: entryEp.host, port: entryEp.port + 1 } : entryEp;
      const entry = relayCircuit(0);
      if (!entry) throw new FuzzFinding('the entry relay lost the circuit');
      if (mode === 1) payload = patchIdx(payload, entry.prevPeerIdx);
      if (mode >= 2) {
        if (payload.length === 0) return;
        const now = tb.clock.now();
        const body = Buffer.from(payload.subarray(1));
        if (mode === 3) {
          // As if from the middle hop: its layer inside the entry's FORWARD layer.
          const mid = relayCircuit(1);
          if (!mid) throw new FuzzFinding('the middle relay lost the circuit');
          const inner = sealOne(mid.session, mid.prevPeerIdx, payload[0]!, body, now)!;
          payload = sealOne(entry.session, entry.prevPeerIdx, Kind.FORWARD, inner, now)!;
        } else payload = sealOne(entry.session, entry.prevPeerIdx, payload[0]!, body, now)!;
      }
      c.onDatagram(Buffer.from(payload), src);
      const st = c.stats();
      if (st.drops.internal !== internal || errors.length > 0) {
        internal = st.drops.internal;
        throw new FuzzFinding(`client circuit caught an exception: ${errors.splice(0).join('\n')}`);
      }
      // Every 32 inputs: a round trip through the (possibly reset) circuit still works.
      if (++runs % 32 === 0 && st.state === 'up') {
        await flush();
        const info = c.stats();
        if (info.state !== 'up') return;
        const writes = tb.exitWrites[2]!;
        const before = writes.length;
        const gotBefore = got;
        c.sendIp([udpPacket(addr, INTERNET, 53, 'canary')]);
        await flush();
        if (writes.length === before) {
          if (c.stats().state === 'up') throw new FuzzFinding('the circuit stopped carrying traffic');
          return;
        }
        const p = writes[writes.length - 1]!;
        const reply = udpPacket(`${p[16]}.${p[17]}.${p[18]}.${p[19]}`, `${p[12]}.${p[13]}.${p[14]}.${p[15]}`, 12345, 'pong');
        tb.relays[2]!.onTunPackets([reply]);
        await flush();
        if (got === gotBefore && c.stats().state === 'up') throw new FuzzFinding('replies stopped reaching the client');
        for (const r of tb.relays) if (r.stats().drops.internal > 0) throw new FuzzFinding('a relay caught an exception while serving the fuzzed circuit');
      }
    },
    close() {
      c.close();
      for (const r of tb.relays) r.stop();
    },
  };
}
