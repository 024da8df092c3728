/** Fuzz targets over protocol/: wire messages, handshakes, payment controls, descriptors, IPv4, exit policies. */
import fc from 'fast-check';
import { Ctrl, Kind } from '../../protocol/constants.js';
import {
  dataCounter,
  dataEpoch,
  dataFramingError,
  dataReceiverIdx,
  decodeControl,
  decodeDataHeader,
  decodeDestroy,
  decodeInit,
  decodePlaintext,
  decodeResp,
  encodeControl,
  encodeDestroy,
  encodeInit,
  encodeResp,
  MalformedPacketError,
  type Control,
} from '../../protocol/messages.js';
import { createInit, finish, HandshakeError, makeResponder, respond, staticKeysFromSecret } from '../../protocol/handshake.js';
import { HopSession } from '../../protocol/session.js';
import { sealOne } from '../../protocol/onion.js';
import { openResumeToken, RESUME_TOKEN_LEN, sealResumeToken } from '../../protocol/resume.js';
import { decodePaymentControl, encodePaymentControl, MalformedPaymentError, PaymentCtrl, RECEIPT_OUTCOMES, type PaymentControl } from '../../protocol/payment.js';
import { decodeDescriptor, encodeDescriptor, MalformedDescriptorError, signDescriptor, verifyDescriptor, type Descriptor } from '../../protocol/descriptor.js';
import { AddressError, ipv4Dst, ipv4DstPort, ipv4Proto, ipv4Src, isIpv4Packet, parseCidr4, parseIpv4, tryParseIpv4 } from '../../protocol/ipv4.js';
import { DEFAULT_REJECTED_NETS, ExitPolicyError, parseExitPolicy } from '../../relay/exit-policy.js';
import { CircuitMeter, ReceiptBook, type ChannelInfo } from '../../relay/payments/meter.js';
import { GiB, MiB } from '../../protocol/payment-price.js';
import { body as descriptorBody, newKey, T0 } from '../unit/descriptor/fixtures.js';
import { CHAIN_ID, CHANNEL, payer, relay as relayKey, signed } from '../unit/payments/helpers.js';
import { udpPacket } from '../unit/relay/fake-net.js';
import { FuzzFinding, type FuzzTarget } from './harness.js';
import { bytesFrom, concat, jsonFrom, mutationsOf, randomBytes, text, utf8 } from './mutate.js';

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/** Runs `f`, swallowing the allowed error class (the caller checks the rest of the input). */
function tolerate<T>(cls: new (...a: never[]) => Error, f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof cls) return undefined;
    throw e;
  }
}

// ------------------------------------------------------------------ shared valid samples

const relayStatic = staticKeysFromSecret(new Uint8Array(32).fill(7));
const responder = makeResponder(relayStatic);
const sampleInit = createInit(relayStatic.publicKey, 0x01020304);
const sampleRespond = respond(responder, sampleInit.init, 0x0a0b0c0d);
const sampleSession = new HopSession('initiator', sampleRespond.keys, 0);

/** X25519 points of small order (RFC 7748 §6 / libsodium blocklist) and non-canonical ones. */
const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
].map((h) => new Uint8Array(Buffer.from(h, 'hex')));

const RESUME_KEY = new Uint8Array(32).fill(9);
const SAMPLE_CLAIM = { ipv4: '198.19.0.2', expiresS: 2_000_000_000, nonce: new Uint8Array(8).fill(3) };
const sampleToken = sealResumeToken(RESUME_KEY, SAMPLE_CLAIM);

const controls: Control[] = [
  { ctype: Ctrl.EXTEND, endpoint: { host: '198.18.0.9', port: 5000 }, init: sampleInit.init },
  { ctype: Ctrl.EXTENDED, resp: sampleRespond.resp },
  { ctype: Ctrl.EXIT_OPEN },
  { ctype: Ctrl.EXIT_OPENED, ipv4: '198.19.0.2', prefixLen: 16, dns: '198.18.0.53' },
  { ctype: Ctrl.EXIT_OPENED, ipv4: '198.19.0.3', prefixLen: 32, dns: undefined },
  { ctype: Ctrl.EXIT_REFUSED, reason: 1 },
  { ctype: Ctrl.REKEY, init: sampleInit.init },
  { ctype: Ctrl.REKEYED, resp: sampleRespond.resp },
  { ctype: Ctrl.TRUNCATE },
  { ctype: Ctrl.EXTEND_FAILED, reason: 3 },
  { ctype: Ctrl.EXIT_RESUME, token: sealResumeToken(RESUME_KEY, SAMPLE_CLAIM) },
  { ctype: Ctrl.RESUME_TOKEN, ttlS: 600, token: sealResumeToken(RESUME_KEY, SAMPLE_CLAIM) },
];
export const controlSeeds: Uint8Array[] = controls.map(encodeControl);

const r1 = signed({ seq: 1, cumulativeAmount: 1000n, cumulativeBytes: 1000n });
const paymentControls: PaymentControl[] = [
  { ctype: PaymentCtrl.CHANNEL_BIND, chainId: CHAIN_ID, channelId: CHANNEL, payer: payer.address },
  { ctype: PaymentCtrl.CHANNEL_BOUND, pricePerGiB: GiB, creditWindowBytes: 4n * MiB, lossAllowancePpm: 20_000, bestSeq: 3, bestBytes: 99n, bestAmount: 100n, servedBytes: 5000n },
  { ctype: PaymentCtrl.CHANNEL_REFUSED, reason: 'not_open' },
  { ctype: PaymentCtrl.RECEIPT, ...r1 },
  { ctype: PaymentCtrl.RECEIPT_ACK, outcome: 'accepted', bestSeq: 1, bestAmount: 1000n, servedForward: 10n, servedBackward: 20n },
  { ctype: PaymentCtrl.PAYMENT_REQUIRED, servedForward: 1n << 40n, servedBackward: 7n, paidAmount: 0n, dueAmount: (1n << 100n) + 5n },
];
export const paymentSeeds: Uint8Array[] = paymentControls.map(encodePaymentControl);

export const ipSeeds: Uint8Array[] = [
  udpPacket('198.19.0.2', '198.18.200.10', 53, 'ping'),
  (() => {
    const p = udpPacket('198.19.0.2', '198.18.200.10', 443, 'x'.repeat(40));
    p[9] = 6; // TCP
    return p;
  })(),
  (() => {
    const p = udpPacket('198.19.0.2', '198.18.200.10', 80);
    p[0] = 0x46; // IHL 6 (options)
    p[6] = 0x20; // more fragments
    return p;
  })(),
  (() => {
    const p = udpPacket('198.19.0.2', '8.8.8.8', 0);
    p[9] = 1; // ICMP
    return p;
  })(),
];

export function dataSample(kind: number, body: Uint8Array): Buffer {
  return sealOne(sampleSession, 0x0a0b0c0d, kind, body, 0)!;
}

// ------------------------------------------------------------------ targets

export function protocolTargets(): FuzzTarget[] {
  const out: FuzzTarget[] = [];

  const messageSeeds: Uint8Array[] = [
    sampleInit.init,
    sampleRespond.resp,
    encodeDestroy(0x0a0b0c0d),
    dataSample(Kind.IP, ipSeeds[0]!),
    dataSample(Kind.PADDING, new Uint8Array(0)),
    ...controlSeeds.map((c) => concat(Uint8Array.of(Kind.CONTROL), c)),
    ...controlSeeds,
    concat(Uint8Array.of(Kind.FORWARD), dataSample(Kind.PADDING, new Uint8Array(4))),
    concat(Uint8Array.of(Kind.IP), ipSeeds[1]!),
    Uint8Array.of(Kind.PADDING),
  ];
  out.push({
    name: 'protocol.messages',
    parser: 'protocol/messages.ts decodeInit/decodeResp/decodeDestroy/decodeDataHeader/decodePlaintext/decodeControl',
    arbitrary: bytesFrom(messageSeeds, 160),
    allowedErrors: [MalformedPacketError],
    run(b) {
      const p = Buffer.from(b);
      const init = tolerate(MalformedPacketError, () => decodeInit(p));
      if (init && !equalBytes(encodeInit(init), p)) throw new FuzzFinding('INIT does not re-encode to its input');
      const resp = tolerate(MalformedPacketError, () => decodeResp(p));
      if (resp && !equalBytes(encodeResp(resp), p)) throw new FuzzFinding('RESP does not re-encode to its input');
      const d = tolerate(MalformedPacketError, () => decodeDestroy(p));
      if (d && !equalBytes(encodeDestroy(d.receiverIdx), p)) throw new FuzzFinding('DESTROY does not re-encode to its input');
      const framing = dataFramingError(p);
      if (framing === null) {
        const h = tolerate(MalformedPacketError, () => decodeDataHeader(p));
        if (h && (h.counter !== dataCounter(p) || h.epoch !== dataEpoch(p) || h.receiverIdx !== dataReceiverIdx(p))) throw new FuzzFinding('DATA header fields disagree');
      } else if (tolerate(MalformedPacketError, () => decodeDataHeader(p)) !== undefined) {
        throw new FuzzFinding(`decodeDataHeader accepted a packet dataFramingError calls ${framing}`);
      }
      tolerate(MalformedPacketError, () => decodePlaintext(p));
      const c = tolerate(MalformedPacketError, () => decodeControl(p));
      if (c) {
        const again = encodeControl(c);
        if (!equalBytes(again, p)) throw new FuzzFinding(`control ${c.ctype} does not re-encode to its input`);
      }
    },
  });

  // Responder side of the handshake: what a relay does with an INIT from anyone.
  const initSeeds: Uint8Array[] = [sampleInit.init, ...LOW_ORDER_POINTS.map((X) => encodeInit({ senderIdx: 5, nodeIdHash: responder.idHash, X }))];
  out.push({
    name: 'protocol.handshake.respond',
    parser: 'protocol/handshake.ts respond',
    arbitrary: fc.oneof({ weight: 1, arbitrary: randomBytes(64) }, { weight: 6, arbitrary: mutationsOf(initSeeds) }),
    allowedErrors: [HandshakeError],
    run(b) {
      const r = respond(responder, b, 9);
      if (r.resp.length !== 76 || r.keys.forward.length !== 32 || r.keys.backward.length !== 32) throw new FuzzFinding('respond returned malformed output');
    },
  });

  // Initiator side: what a client does with the RESP (or EXTENDED body) it gets back.
  const respSeeds: Uint8Array[] = [sampleRespond.resp, ...LOW_ORDER_POINTS.map((Y) => encodeResp({ senderIdx: 1, receiverIdx: 0x01020304, Y, auth: new Uint8Array(32) }))];
  out.push({
    name: 'protocol.handshake.finish',
    parser: 'protocol/handshake.ts finish',
    arbitrary: fc.oneof({ weight: 1, arbitrary: randomBytes(96) }, { weight: 6, arbitrary: mutationsOf(respSeeds) }),
    allowedErrors: [HandshakeError],
    run(b) {
      const r = finish(sampleInit.state, b, 0x01020304);
      if (!equalBytes(r.keys.forward, sampleRespond.keys.forward)) throw new FuzzFinding('finish accepted a RESP that yields other keys');
    },
  });

  // What an exit does with a resumption token from a client (EXIT_RESUME body).
  out.push({
    name: 'protocol.resume.open',
    parser: 'protocol/resume.ts openResumeToken',
    arbitrary: fc.oneof({ weight: 1, arbitrary: randomBytes(RESUME_TOKEN_LEN + 8) }, { weight: 6, arbitrary: mutationsOf([sampleToken]) }),
    allowedErrors: [],
    run(b) {
      const r = openResumeToken(RESUME_KEY, b, 1_000_000_000);
      if (typeof r === 'string') return;
      if (!equalBytes(b, sampleToken)) throw new FuzzFinding('openResumeToken accepted a token the exit never sealed');
      if (r.ipv4 !== SAMPLE_CLAIM.ipv4 || r.expiresS !== SAMPLE_CLAIM.expiresS) throw new FuzzFinding('openResumeToken returned other fields than sealed');
    },
  });

  out.push({
    name: 'protocol.payment.decode',
    parser: 'protocol/payment.ts decodePaymentControl',
    arbitrary: bytesFrom(paymentSeeds, 200),
    allowedErrors: [MalformedPaymentError],
    run(b) {
      const c = decodePaymentControl(b);
      if (!equalBytes(encodePaymentControl(c), b)) throw new FuzzFinding(`payment control ${c.ctype} does not re-encode to its input`);
    },
  });

  // The relay's receipt path: decode a RECEIPT from the wire, meter it, answer with an ACK.
  const channel: ChannelInfo = { id: CHANNEL, payer: payer.address, relay: relayKey.address, deposit: 100n * MiB };
  const receiptSeeds = [1, 2, 3, 50, 2 ** 53 - 1].flatMap((seq) =>
    [0n, 999n, 100n * MiB, 100n * MiB + 1n, (1n << 128n) - 1n].map((amt) => encodePaymentControl({ ctype: PaymentCtrl.RECEIPT, ...signed({ seq, cumulativeAmount: amt, cumulativeBytes: amt & ((1n << 64n) - 1n) }) })),
  );
  let meter: CircuitMeter | undefined;
  let meterRuns = 0;
  out.push({
    name: 'relay.meter.onReceipt',
    parser: 'protocol/payment.ts decodePaymentControl → relay/payments/meter.ts CircuitMeter.onReceipt/ack/bound',
    arbitrary: fc.oneof({ weight: 1, arbitrary: randomBytes(200) }, { weight: 8, arbitrary: mutationsOf(receiptSeeds, 3) }),
    allowedErrors: [MalformedPaymentError],
    run(b) {
      if (meter === undefined || meterRuns++ % 500 === 0) meter = new CircuitMeter({ chainId: CHAIN_ID, relay: relayKey.address, pricePerGiB: GiB, lossAllowancePpm: 20_000 }, channel, new ReceiptBook());
      const c = decodePaymentControl(b);
      meter.admit('forward', b.length);
      if (c.ctype !== PaymentCtrl.RECEIPT) return;
      const before = meter.account.best?.receipt.cumulativeAmount ?? 0n;
      const outcome = meter.onReceipt(c.receipt, c.signature, channel);
      if (!RECEIPT_OUTCOMES.includes(outcome)) throw new FuzzFinding(`onReceipt returned ${String(outcome)}`);
      const after = meter.account.best?.receipt.cumulativeAmount ?? 0n;
      if (after < before) throw new FuzzFinding('the best receipt amount went down');
      if (meter.account.paid > channel.deposit) throw new FuzzFinding('paid exceeds the deposit');
      // What the relay sends back must encode.
      encodePaymentControl({ ctype: PaymentCtrl.RECEIPT_ACK, ...meter.ack(outcome) });
      encodePaymentControl({ ctype: PaymentCtrl.CHANNEL_BOUND, ...meter.bound() });
    },
  });

  const k = newKey();
  const descriptors: Descriptor[] = [
    signDescriptor(descriptorBody(k.address), k.sign),
    signDescriptor(descriptorBody(k.address, { exitPolicy: [], family: ['00'.repeat(32), 'ff'.repeat(32)], endpoints: { udp: '198.18.0.1:1' } }), k.sign),
    signDescriptor(descriptorBody(k.address, { region: 'US', pricePerGiB: 0n, bandwidthBps: 1 }), k.sign),
  ];
  const descriptorTexts = descriptors.map((d) => text(encodeDescriptor(d)));
  out.push({
    name: 'protocol.descriptor.decode',
    parser: 'protocol/descriptor.ts decodeDescriptor',
    arbitrary: jsonFrom(descriptorTexts),
    allowedErrors: [MalformedDescriptorError],
    run(b) {
      const d = decodeDescriptor(b);
      if (!equalBytes(encodeDescriptor(d), b)) throw new FuzzFinding('a decoded descriptor does not re-encode to its input');
      const v = verifyDescriptor(d, T0);
      if (typeof v.ok !== 'boolean') throw new FuzzFinding('verifyDescriptor returned no verdict');
    },
  });

  const policy = parseExitPolicy(['reject 10.0.0.0/8:*', 'accept 198.18.0.0/15:53', 'accept *:443-444', 'reject *:*']);
  const addrTexts = ['198.18.0.1', '0.0.0.0', '255.255.255.255', '10.0.0.0/8', '198.18.0.0/15', '1.2.3.4/32', '::ffff:1.2.3.4', '01.2.3.4', '1.2.3.4/0'].map(utf8);
  out.push({
    name: 'protocol.ipv4',
    parser: 'protocol/ipv4.ts isIpv4Packet/ipv4Src/Dst/Proto/DstPort, parseIpv4, parseCidr4 (exit TUN path with ExitPolicy.allows)',
    arbitrary: fc.oneof({ weight: 3, arbitrary: bytesFrom(ipSeeds, 80) }, { weight: 1, arbitrary: mutationsOf(addrTexts) }),
    allowedErrors: [AddressError],
    run(b) {
      if (isIpv4Packet(b)) {
        const port = ipv4DstPort(b);
        if (!Number.isInteger(port) || port < -1 || port > 65535) throw new FuzzFinding(`ipv4DstPort returned ${port}`);
        const dst = ipv4Dst(b);
        const src = ipv4Src(b);
        if (dst < 0 || dst > 0xffffffff || src < 0 || src > 0xffffffff) throw new FuzzFinding('address out of uint32 range');
        if (typeof policy.allows(dst, ipv4Proto(b), port) !== 'boolean') throw new FuzzFinding('policy.allows returned a non-boolean');
      }
      const s = text(b);
      const t = tryParseIpv4(s);
      if (!Number.isInteger(t) || t < -1 || t > 0xffffffff) throw new FuzzFinding(`tryParseIpv4 returned ${t}`);
      tolerate(AddressError, () => parseIpv4(s));
      const c = parseCidr4(s);
      if (c.bits < 0 || c.bits > 32 || (c.base & ~c.mask) !== 0) throw new FuzzFinding('parseCidr4 returned an inconsistent CIDR');
    },
  });

  const policySeeds = [
    ['reject 10.0.0.0/8:*', 'accept 198.18.0.0/15:53', 'accept *:443-444', 'reject *:*'].join('\n'),
    DEFAULT_REJECTED_NETS.map((n) => `reject ${n}:*`).join('\r\n') + '\naccept *:*  # the rest',
    'accept 1.2.3.4:0-65535\n\n   # comment only\nreject *',
  ].map(utf8);
  out.push({
    name: 'relay.exit-policy.parse',
    parser: 'relay/exit-policy.ts parseExitPolicy',
    arbitrary: bytesFrom(policySeeds, 120),
    allowedErrors: [ExitPolicyError],
    run(b) {
      const p = parseExitPolicy(text(b));
      const again = parseExitPolicy(p.toLines());
      if (again.toLines().join('\n') !== p.toLines().join('\n')) throw new FuzzFinding('toLines does not parse back to the same policy');
      for (const ip of [0, 0x0a000001, 0xc6120001, 0xffffffff]) for (const port of [-1, 0, 53, 443, 65535]) p.allows(ip, 17, port);
    },
  });

  return out;
}
