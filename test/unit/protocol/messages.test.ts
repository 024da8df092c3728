import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Ctrl, Kind } from '../../../protocol/constants.js';
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
  writeDataHeader,
  type Control,
} from '../../../protocol/messages.js';

const b = (n: number, v = 7): Uint8Array => new Uint8Array(n).fill(v);

test('HANDSHAKE_INIT / RESP / DESTROY round-trip with the documented layout', () => {
  const init = encodeInit({ senderIdx: 0xdeadbeef, nodeIdHash: b(8, 1), X: b(32, 2) });
  assert.equal(init.length, 48);
  assert.equal(init.toString('hex', 0, 8), '01000000efbeadde');
  const di = decodeInit(init);
  assert.equal(di.senderIdx, 0xdeadbeef);
  assert.deepEqual([...di.X], [...b(32, 2)]);
  const resp = encodeResp({ senderIdx: 1, receiverIdx: 2, Y: b(32, 3), auth: b(32, 4) });
  assert.equal(resp.length, 76);
  assert.equal(resp.toString('hex', 0, 12), '020000000100000002000000');
  const dr = decodeResp(resp);
  assert.equal(dr.senderIdx, 1);
  assert.equal(dr.receiverIdx, 2);
  assert.deepEqual([...dr.auth], [...b(32, 4)]);
  const d = encodeDestroy(0x01020304);
  assert.equal(d.toString('hex'), '0500000004030201');
  assert.equal(decodeDestroy(d).receiverIdx, 0x01020304);
});

test('DATA header layout and accessors', () => {
  const p = Buffer.alloc(33);
  writeDataHeader(p, 0, 257, 0xa1b2c3d4, 2 ** 40 + 5);
  assert.equal(p.toString('hex', 0, 16), '04010000d4c3b2a10500000000010000');
  assert.equal(dataFramingError(p), null);
  assert.equal(dataEpoch(p), 1);
  assert.equal(dataReceiverIdx(p), 0xa1b2c3d4);
  assert.equal(dataCounter(p), 2 ** 40 + 5);
  assert.deepEqual(decodeDataHeader(p), { epoch: 1, receiverIdx: 0xa1b2c3d4, counter: 2 ** 40 + 5 });
  assert.equal(dataFramingError(p.subarray(0, 32)), 'bad_length');
  const q = Buffer.from(p);
  q[2] = 1;
  assert.equal(dataFramingError(q), 'reserved_nonzero');
  const r = Buffer.from(p);
  r.writeUInt32LE(0x200000, 12);
  assert.equal(dataFramingError(r), 'counter_range');
});

test('control messages round-trip', () => {
  const init = encodeInit({ senderIdx: 0, nodeIdHash: b(8), X: b(32) });
  const resp = encodeResp({ senderIdx: 1, receiverIdx: 2, Y: b(32), auth: b(32) });
  const cases: Control[] = [
    { ctype: Ctrl.EXTEND, endpoint: { host: '198.18.0.7', port: 51820 }, init },
    { ctype: Ctrl.EXTENDED, resp },
    { ctype: Ctrl.EXIT_OPEN },
    { ctype: Ctrl.EXIT_OPENED, ipv4: '198.19.0.2', prefixLen: 16, dns: '198.18.0.53' },
    { ctype: Ctrl.EXIT_OPENED, ipv4: '198.19.0.3', prefixLen: 16, dns: undefined },
    { ctype: Ctrl.EXIT_REFUSED, reason: 2 },
    { ctype: Ctrl.REKEY, init },
    { ctype: Ctrl.REKEYED, resp },
    { ctype: Ctrl.TRUNCATE },
    { ctype: Ctrl.EXTEND_FAILED, reason: 3 },
  ];
  for (const c of cases) {
    const enc = encodeControl(c);
    const dec = decodeControl(enc);
    assert.equal(dec.ctype, c.ctype);
    assert.equal(encodeControl(dec).toString('hex'), enc.toString('hex'));
  }
  const ext = decodeControl(encodeControl(cases[0]!));
  assert.ok(ext.ctype === Ctrl.EXTEND);
  assert.deepEqual(ext.endpoint, { host: '198.18.0.7', port: 51820 });
});

test('plaintext kinds decode; bad kinds and short bodies are MalformedPacketError', () => {
  assert.equal(decodePlaintext(Buffer.of(Kind.PADDING)).kind, Kind.PADDING);
  const ip = decodePlaintext(Buffer.of(Kind.IP, 0x45, 0));
  assert.ok(ip.kind === Kind.IP && ip.packet.length === 2);
  const bad: Array<[Uint8Array, string]> = [
    [Buffer.of(), 'empty'],
    [Buffer.of(9), 'unknown_kind'],
    [Buffer.of(Kind.FORWARD, 4, 0, 0), 'bad_length'],
    [Buffer.of(Kind.IP), 'bad_length'],
    [Buffer.of(Kind.CONTROL, 99), 'unknown_control'],
    [Buffer.of(Kind.CONTROL, Ctrl.EXIT_OPEN, 1), 'bad_length'],
    [Buffer.of(Kind.CONTROL, Ctrl.EXIT_OPENED, 1, 2, 3, 4, 33, 0, 0, 0, 0), 'bad_field'],
  ];
  for (const [p, reason] of bad) {
    assert.throws(() => decodePlaintext(p), (e: unknown) => e instanceof MalformedPacketError && e.reason === reason, `${Buffer.from(p).toString('hex')}`);
  }
  assert.throws(() => decodeInit(Buffer.alloc(47)), MalformedPacketError);
  const nz = encodeInit({ senderIdx: 0, nodeIdHash: b(8), X: b(32) });
  nz[1] = 1;
  assert.throws(() => decodeInit(nz), (e: unknown) => e instanceof MalformedPacketError && e.reason === 'reserved_nonzero');
  assert.throws(() => decodeResp(Buffer.alloc(76)), MalformedPacketError);
});

test('decoders on random bytes: only MalformedPacketError, never anything else', () => {
  const decoders = [decodeInit, decodeResp, decodeDestroy, decodeDataHeader, decodePlaintext, decodeControl];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(...decoders), (bytes, dec) => {
      try {
        dec(bytes);
      } catch (e) {
        assert.ok(e instanceof MalformedPacketError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});
