import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_CLOCK_SKEW_MS,
  DescriptorSignError,
  MAX_DESCRIPTOR_BYTES,
  MAX_EXIT_RULES,
  MAX_FAMILY,
  MalformedDescriptorError,
  decodeDescriptor,
  descriptorId,
  descriptorSigningBytes,
  encodeDescriptor,
  signDescriptor,
  verifyDescriptor,
  type Descriptor,
} from '../../../protocol/descriptor.js';
import { PEER_ID, T0, body, newKey } from './fixtures.js';

const key = newKey();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

test('sign → encode → decode round trip; verify accepts; id is stable', () => {
  const d = signDescriptor(body(key.address, { family: ['00'.repeat(32), 'ff'.repeat(32)] }), key.sign);
  assert.match(d.signature, /^[0-9a-f]{128}$/);
  const bytes = encodeDescriptor(d);
  const back = decodeDescriptor(bytes);
  assert.deepEqual(back, d);
  assert.equal(typeof back.pricePerGiB, 'bigint');
  assert.deepEqual(decodeDescriptor(text(bytes)), d);
  assert.deepEqual(verifyDescriptor(back, T0 + 1000, { chainId: 'topvpn-devnet' }), { ok: true });
  assert.equal(descriptorId(back), descriptorId(d));
  assert.match(descriptorId(d), /^[0-9a-f]{64}$/);
  // Wire form: sorted keys, price as a decimal string, no whitespace.
  const s = text(bytes);
  assert.ok(s.startsWith('{"bandwidthBps":100000000,"chainId":"topvpn-devnet","endpoints":{"udp":"198.18.0.11:51820","ws":"wss://relay.example:443/ws"}'), s);
  assert.ok(s.includes('"pricePerGiB":"2500000"'));
  assert.ok(!/\s/.test(s.replace(/accept |reject /g, '')));
});

test('the optional ws endpoint may be absent', () => {
  const d = signDescriptor(body(key.address, { endpoints: { udp: '198.18.0.12:4000' } }), key.sign);
  const back = decodeDescriptor(encodeDescriptor(d));
  assert.deepEqual(back.endpoints, { udp: '198.18.0.12:4000' });
  assert.ok(verifyDescriptor(back, T0).ok);
});

test('signing bytes carry the domain tag and chain id; changing the chain id changes them', () => {
  const b = body(key.address);
  const m = text(descriptorSigningBytes(b));
  assert.ok(m.startsWith('topvpn-descriptor-v1\u0000topvpn-devnet\u0000{'), m.slice(0, 40));
  const other = text(descriptorSigningBytes({ ...b, chainId: 'topvpn-mainnet' }));
  assert.notEqual(m, other);
  // A signature for one chain does not verify for another.
  const d = signDescriptor(b, key.sign);
  assert.deepEqual(verifyDescriptor({ ...d, chainId: 'topvpn-mainnet' }, T0).ok, false);
});

test('verify: expiry, future publication beyond the skew, wrong chain, bad signature', () => {
  const d = signDescriptor(body(key.address), key.sign);
  const reason = (v: ReturnType<typeof verifyDescriptor>): string => (v.ok ? 'ok' : v.reason);
  assert.equal(reason(verifyDescriptor(d, d.expiresAt - 1)), 'ok');
  assert.equal(reason(verifyDescriptor(d, d.expiresAt)), 'expired');
  assert.equal(reason(verifyDescriptor(d, T0 - DEFAULT_MAX_CLOCK_SKEW_MS)), 'ok');
  assert.equal(reason(verifyDescriptor(d, T0 - DEFAULT_MAX_CLOCK_SKEW_MS - 1)), 'from-future');
  assert.equal(reason(verifyDescriptor(d, T0 - 10_000, { maxClockSkewMs: 5_000 })), 'from-future');
  assert.equal(reason(verifyDescriptor(d, T0, { chainId: 'topvpn-mainnet' })), 'wrong-chain');
  assert.equal(reason(verifyDescriptor({ ...d, pricePerGiB: 1n }, T0)), 'bad-signature');
  assert.equal(reason(verifyDescriptor({ ...d, endpoints: { udp: '198.18.0.66:51820' } }, T0)), 'bad-signature');
  const flipped = (d.signature[0] === '0' ? '1' : '0') + d.signature.slice(1);
  assert.equal(reason(verifyDescriptor({ ...d, signature: flipped }, T0)), 'bad-signature');
  // Signed by another key than nodeAddress.
  const other = newKey();
  const forged: Descriptor = { ...d, signature: Buffer.from(other.sign(descriptorSigningBytes(d))).toString('hex') };
  assert.equal(reason(verifyDescriptor(forged, T0)), 'bad-signature');
  assert.equal(reason(verifyDescriptor({ ...d, region: 'ZZ' }, T0)), 'malformed');
});

test('signDescriptor refuses a signer that is not the node key, and invalid bodies', () => {
  const other = newKey();
  assert.throws(() => signDescriptor(body(key.address), other.sign), DescriptorSignError);
  assert.throws(() => signDescriptor(body(key.address), () => new Uint8Array(10)), DescriptorSignError);
  assert.throws(() => signDescriptor(body(key.address, { region: 'de' }), key.sign), MalformedDescriptorError);
});

/** Wire object of a freshly signed descriptor, for field-level mutation. */
function wire(): Record<string, unknown> {
  return JSON.parse(text(encodeDescriptor(signDescriptor(body(key.address), key.sign)))) as Record<string, unknown>;
}

/** Canonical JSON text of a wire object (so the failure is about the field, not key order). */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

test('strict field validation: each bad field is MalformedDescriptorError with a reason naming it', () => {
  const cases: Array<[string, (w: Record<string, unknown>) => void, RegExp]> = [
    ['version 2', (w) => (w.version = 2), /version/],
    ['chainId empty', (w) => (w.chainId = ''), /chainId/],
    ['chainId upper', (w) => (w.chainId = 'TOP'), /chainId/],
    ['nodeAddress short', (w) => (w.nodeAddress = 'ab'), /nodeAddress/],
    ['nodeAddress upper', (w) => (w.nodeAddress = (w.nodeAddress as string).toUpperCase()), /nodeAddress/],
    ['peerId with 0', (w) => (w.peerId = '0' + PEER_ID.slice(1)), /peerId/],
    ['peerId short', (w) => (w.peerId = 'Qm123'), /peerId/],
    ['onionKey zero', (w) => (w.onionKey = '00'.repeat(32)), /onionKey/],
    ['onionKey 31 B', (w) => (w.onionKey = 'ab'.repeat(31)), /onionKey/],
    ['udp hostname', (w) => (w.endpoints = { udp: 'relay.example:51820' }), /endpoints\.udp/],
    ['udp port 0', (w) => (w.endpoints = { udp: '1.2.3.4:0' }), /endpoints\.udp/],
    ['udp port 65536', (w) => (w.endpoints = { udp: '1.2.3.4:65536' }), /endpoints\.udp/],
    ['udp octet 256', (w) => (w.endpoints = { udp: '1.2.3.256:1' }), /endpoints\.udp/],
    ['udp leading zero', (w) => (w.endpoints = { udp: '1.2.3.04:1' }), /endpoints\.udp/],
    ['udp missing', (w) => (w.endpoints = {}), /endpoints\.udp/],
    ['ws http', (w) => (w.endpoints = { udp: '1.2.3.4:1', ws: 'http://x/' }), /endpoints\.ws/],
    ['ws creds', (w) => (w.endpoints = { udp: '1.2.3.4:1', ws: 'ws://u:p@x/' }), /endpoints\.ws/],
    ['ws null', (w) => (w.endpoints = { udp: '1.2.3.4:1', ws: null }), /endpoints\.ws/],
    ['endpoints extra', (w) => (w.endpoints = { udp: '1.2.3.4:1', tcp: 'x' }), /endpoints: unknown/],
    ['price number', (w) => (w.pricePerGiB = 5), /pricePerGiB/],
    ['price negative', (w) => (w.pricePerGiB = '-5'), /pricePerGiB/],
    ['price leading zero', (w) => (w.pricePerGiB = '05'), /pricePerGiB/],
    ['price 10^30', (w) => (w.pricePerGiB = '1' + '0'.repeat(30)), /pricePerGiB/],
    ['region lower', (w) => (w.region = 'de'), /region/],
    ['region unassigned', (w) => (w.region = 'ZZ'), /region/],
    ['region alpha-3', (w) => (w.region = 'DEU'), /region/],
    ['bandwidth 0', (w) => (w.bandwidthBps = 0), /bandwidthBps/],
    ['bandwidth fraction', (w) => (w.bandwidthBps = 1.5), /bandwidthBps/],
    ['bandwidth huge', (w) => (w.bandwidthBps = 1e14), /bandwidthBps/],
    ['policy not array', (w) => (w.exitPolicy = 'accept *:*'), /exitPolicy/],
    ['policy bad rule', (w) => (w.exitPolicy = ['allow *:*']), /exitPolicy\[0\]/],
    ['policy /32', (w) => (w.exitPolicy = ['accept 1.2.3.4/32:*']), /exitPolicy\[0\]/],
    ['policy host bits', (w) => (w.exitPolicy = ['accept 10.0.0.1/8:*']), /exitPolicy\[0\]/],
    ['policy too long', (w) => (w.exitPolicy = Array.from({ length: MAX_EXIT_RULES + 1 }, () => 'reject *:25')), /exitPolicy/],
    ['operator', (w) => (w.operator = 'x'), /operator/],
    ['family unsorted', (w) => (w.family = ['ff'.repeat(32), '00'.repeat(32)]), /family/],
    ['family duplicate', (w) => (w.family = ['aa'.repeat(32), 'aa'.repeat(32)]), /family/],
    ['family self', (w) => (w.family = [w.nodeAddress]), /family/],
    ['family too long', (w) => (w.family = Array.from({ length: MAX_FAMILY + 1 }, (_, i) => i.toString(16).padStart(64, '0'))), /family/],
    ['publishedAt negative', (w) => (w.publishedAt = -1), /publishedAt/],
    ['publishedAt string', (w) => (w.publishedAt = String(T0)), /publishedAt/],
    ['expires before published', (w) => (w.expiresAt = T0), /expiresAt/],
    ['lifetime > 24 h', (w) => (w.expiresAt = T0 + 25 * 3600_000), /lifetime/],
    ['signature short', (w) => (w.signature = 'ab'), /signature/],
    ['missing field', (w) => delete w.region, /missing "region"/],
    ['unknown field', (w) => (w.extra = 1), /unknown field/],
    ['__proto__ field', (w) => Object.defineProperty(w, '__proto__', { value: 1, enumerable: true }), /unknown field/],
  ];
  for (const [name, mutate, re] of cases) {
    const w = wire();
    mutate(w);
    let err: unknown;
    try {
      decodeDescriptor(canon(w));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof MalformedDescriptorError, `${name}: expected MalformedDescriptorError, got ${String(err)}`);
    assert.match(err.reason, re, name);
  }
});

test('non-canonical encodings and oversize inputs are rejected', () => {
  const good = text(encodeDescriptor(signDescriptor(body(key.address), key.sign)));
  const w = JSON.parse(good) as Record<string, unknown>;
  const bad = [
    JSON.stringify(w, null, 1), // whitespace
    JSON.stringify({ signature: w.signature, ...w }), // key order
    ` ${good}`,
    `${good}\n`,
    good.replace('"region":"DE"', '"region":"\\u0044E"'), // escaped but equal value
    good.replace(`"publishedAt":${T0}`, `"publishedAt":${T0 / 1e12}e12`), // exponent form
    `\ufeff${good}`,
    'x'.repeat(MAX_DESCRIPTOR_BYTES + 1),
  ];
  for (const s of bad) {
    assert.throws(() => decodeDescriptor(s), MalformedDescriptorError, s.slice(0, 40));
    assert.throws(() => decodeDescriptor(new TextEncoder().encode(s)), MalformedDescriptorError, s.slice(0, 40));
  }
  assert.throws(() => decodeDescriptor(new Uint8Array([0xff, 0xfe, 0x7b])), MalformedDescriptorError);
  assert.throws(() => decodeDescriptor(null as unknown as string), MalformedDescriptorError);
});

test('the largest legal descriptor fits the 8 KiB cap', () => {
  const family = Array.from({ length: MAX_FAMILY }, (_, i) => (i + 1).toString(16).padStart(64, '0'));
  const exitPolicy = Array.from({ length: MAX_EXIT_RULES }, (_, i) => `reject 255.255.${i}.0/24:65000-65535`);
  const ws = `wss://${'a'.repeat(256 - 'wss://'.length - 1)}/`;
  const d = signDescriptor(
    body(key.address, { family, exitPolicy, endpoints: { udp: '255.255.255.255:65535', ws }, pricePerGiB: 10n ** 30n - 1n, peerId: 'z'.repeat(128), chainId: 'a'.repeat(64) }),
    key.sign,
  );
  const bytes = encodeDescriptor(d);
  assert.ok(bytes.length <= MAX_DESCRIPTOR_BYTES, `${bytes.length} bytes`);
  assert.deepEqual(decodeDescriptor(bytes), d);
});
