/**
 * Exit resumption (protocol/resume.ts, relay/exit-resume.ts, client/circuit.ts): tokens,
 * the two control messages, and a client getting its inner address back on a new circuit
 * through another entry while the old circuit still holds it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../common/log.js';
import { Circuit, RESUME_FALLBACK_SENDS } from '../../../client/circuit.js';
import { Ctrl } from '../../../protocol/constants.js';
import { decodeControl, encodeControl, MalformedPacketError } from '../../../protocol/messages.js';
import { openResumeToken, RESUME_TOKEN_LEN, sealResumeToken } from '../../../protocol/resume.js';
import { AddressPool, type RelayCircuit } from '../../../relay/circuits.js';
import { ExitResumption } from '../../../relay/exit-resume.js';
import { advance, flush, reply, testbed, udpPacket, type Testbed } from '../relay/fake-net.js';

const KEY = new Uint8Array(32).fill(7);
const NONCE = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

test('a token opens to its claim; another key, a flipped bit, expiry or version are refused', () => {
  const t = sealResumeToken(KEY, { ipv4: '198.19.0.7', expiresS: 1_000, nonce: NONCE });
  assert.equal(t.length, RESUME_TOKEN_LEN);
  assert.deepEqual(openResumeToken(KEY, t, 1_000), { ipv4: '198.19.0.7', expiresS: 1_000, nonce: NONCE });
  assert.equal(openResumeToken(new Uint8Array(32).fill(8), t, 0), 'mac');
  for (const i of [1, 5, 9, 20, 32]) {
    const bad = Buffer.from(t);
    bad[i]! ^= 1;
    assert.equal(openResumeToken(KEY, bad, 0), 'mac', `byte ${i}`);
  }
  assert.equal(openResumeToken(KEY, t, 1_001), 'expired');
  const v2 = Buffer.from(t);
  v2[0] = 2;
  assert.equal(openResumeToken(KEY, v2, 0), 'version');
  assert.equal(openResumeToken(KEY, t.subarray(0, 32), 0), 'length');
});

test('EXIT_RESUME and RESUME_TOKEN round-trip; bad tokens and ttl are malformed', () => {
  const token = sealResumeToken(KEY, { ipv4: '198.19.0.7', expiresS: 1_000, nonce: NONCE });
  for (const c of [
    { ctype: Ctrl.EXIT_RESUME, token },
    { ctype: Ctrl.RESUME_TOKEN, ttlS: 600, token },
  ] as const) {
    const enc = encodeControl(c);
    assert.deepEqual(decodeControl(enc), c);
    assert.deepEqual(encodeControl(decodeControl(enc)), enc);
  }
  assert.equal(encodeControl({ ctype: Ctrl.EXIT_RESUME, token }).length, 1 + 33);
  assert.equal(encodeControl({ ctype: Ctrl.RESUME_TOKEN, ttlS: 600, token }).length, 1 + 4 + 33);
  for (const bad of [Buffer.of(Ctrl.EXIT_RESUME), Buffer.of(Ctrl.EXIT_RESUME, 0, 1), Buffer.concat([Buffer.of(Ctrl.EXIT_RESUME), Buffer.alloc(65, 1)]), Buffer.of(Ctrl.RESUME_TOKEN, 0, 0, 0, 0, 1), Buffer.of(Ctrl.RESUME_TOKEN, 1, 0, 0, 0)]) {
    assert.throws(() => decodeControl(bad), MalformedPacketError, bad.toString('hex'));
  }
});

test('ExitResumption: free address, transfer from the issuing circuit, refusal when someone else holds it', () => {
  const pool = new AddressPool('198.19.0.0/24');
  let now = 100;
  const r = new ExitResumption(pool, () => now, KEY, 60);
  const circ = (): RelayCircuit => ({ exitAddr: -1 }) as RelayCircuit;
  const a = circ();
  a.exitAddr = pool.alloc(a);
  const addrA = a.exitAddr;
  const t = r.issue(a);
  assert.equal(r.issue(a), t, 'the same token while the address stays');
  // A new circuit of the same client takes the address over from `a`.
  const b = circ();
  const got = r.redeem(t, b);
  assert.equal(got, addrA);
  assert.equal(a.exitAddr, -1, 'a lost the address');
  assert.equal(pool.owner(got), b);
  b.exitAddr = got;
  // The old token no longer matches b's (fresh) token: a third circuit presenting it is refused.
  r.issue(b);
  const c = circ();
  assert.equal(r.redeem(t, c), -1);
  assert.equal(r.stats().refused.in_use, 1);
  // Address freed (b gone): the old token works again until it expires.
  pool.free(b.exitAddr);
  assert.equal(r.redeem(t, c), got);
  now = 100 + 61;
  assert.equal(r.redeem(t, circ()), -1);
  assert.equal(r.stats().refused.expired, 1);
  assert.equal(r.stats().resumed, 2);
});

/** A circuit over relays `hops` (indices into the testbed), the last one the exit. */
function circuitVia(tb: Testbed, hops: number[], port: number, resume?: Buffer): Circuit {
  const me = { host: '198.18.1.1', port };
  const c = new Circuit(
    { clock: tb.clock, log: silentLogger(), send: tb.net.sender(me), options: resume ? { resume } : {} },
    hops.map((i) => ({ endpoint: tb.endpoints[i]!, staticPublic: tb.statics[i]! })),
  );
  tb.net.attach(me, (p, from) => c.onDatagram(p, from));
  return c;
}

test('a new circuit through another entry gets the same address back; replies reach it', async () => {
  const tb = testbed();
  const a = circuitVia(tb, [0, 2], 41000);
  const pa = a.build();
  await flush();
  const upA = await pa;
  await flush();
  const tok = a.resumeToken;
  assert.ok(tok, 'the exit sent a resumption token after EXIT_OPENED');
  assert.equal(a.stats().drops.unexpected + a.stats().drops.malformed, 0);
  // Relay 0 dies (silently): the client builds through relay 1 and presents the token.
  tb.net.taps.push((f) => f.to.host !== tb.endpoints[0]!.host && f.from.host !== tb.endpoints[0]!.host);
  const b = circuitVia(tb, [1, 2], 41001, tok.token);
  const pb = b.build();
  await flush();
  const upB = await pb;
  assert.equal(upB.ipv4, upA.ipv4, 'same inner address');
  assert.equal(tb.relays[2]!.resumeStats()?.resumed, 1);
  const got: Buffer[] = [];
  b.onIp((ps) => got.push(...ps));
  b.sendIp([udpPacket(upB.ipv4, '198.18.200.1', 7)]);
  await flush();
  const out = tb.exitWrites[2]!.splice(0);
  assert.equal(out.length, 1, 'the exit accepts the resumed source address');
  tb.relays[2]!.onTunPackets([reply(out[0]!)]);
  await flush();
  assert.equal(got.length, 1, 'replies to the address go to the new circuit');
  const infos = tb.relays[2]!.circuits();
  assert.equal(infos.filter((i) => i.exitAddress === upA.ipv4).length, 1, 'only the new circuit holds the address');
  a.close();
  b.close();
});

test('an exit that drops EXIT_RESUME: the client falls back to EXIT_OPEN and gets a fresh address', async () => {
  const tb = testbed();
  const a = circuitVia(tb, [2], 41000);
  const pa = a.build();
  await flush();
  await pa;
  await flush();
  const tok = a.resumeToken!;
  // The exit "forgets" resumption: every EXIT_RESUME-sized control (1 layer, 1+33 B body) is lost.
  tb.net.taps.push((f) => !(f.to.host === tb.endpoints[2]!.host && f.packet.length === 16 + 1 + 34 + 16));
  const b = circuitVia(tb, [2], 41001, tok.token);
  const pb = b.build();
  await advance(tb.clock, (RESUME_FALLBACK_SENDS + 1) * 1000);
  const upB = await pb;
  assert.match(upB.ipv4, /^198\.19\./);
  assert.equal(tb.relays[2]!.resumeStats()?.resumed, 0);
  a.close();
  b.close();
});

test('a forged token yields a fresh address, never someone else\'s', async () => {
  const tb = testbed();
  const a = circuitVia(tb, [2], 41000);
  const pa = a.build();
  await flush();
  const upA = await pa;
  await flush();
  const forged = Buffer.from(a.resumeToken!.token);
  forged[30]! ^= 0xff;
  const b = circuitVia(tb, [2], 41001, forged);
  const pb = b.build();
  await flush();
  const upB = await pb;
  assert.notEqual(upB.ipv4, upA.ipv4);
  assert.equal(tb.relays[2]!.resumeStats()?.refused.mac, 1);
  assert.equal(tb.relays[2]!.circuits().find((i) => i.exitAddress === upA.ipv4)?.prevIdx !== undefined, true, 'a keeps its address');
  a.close();
  b.close();
});
