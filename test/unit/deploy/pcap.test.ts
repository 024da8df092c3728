import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEthernetIpv4, findEmbeddedIpv4, internetChecksum, ipv4Packets, PcapError, readPcap } from '../../../deploy/pcap.js';

function ipv4Header(src: number[], dst: number[], protocol: number, payloadLen: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payloadLen, 2);
  h[8] = 64;
  h[9] = protocol;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return h;
}

function udpFrame(src: number[], dst: number[], sport: number, dport: number, payload: Buffer): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  return Buffer.concat([eth, ipv4Header(src, dst, 17, 8 + payload.length), udp, payload]);
}

function pcapFile(frames: Buffer[], bigEndian = false): Buffer {
  const hdr = Buffer.alloc(24);
  const w32 = (b: Buffer, v: number, o: number) => (bigEndian ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  w32(hdr, 0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  w32(hdr, 262144, 16);
  w32(hdr, 1, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    w32(r, 1700000000 + i, 0);
    w32(r, 500000, 4);
    w32(r, f.length, 8);
    w32(r, f.length, 12);
    return Buffer.concat([r, f]);
  });
  return Buffer.concat([hdr, ...recs]);
}

test('internet checksum matches the RFC 1071 example header', () => {
  const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
  assert.equal(internetChecksum(h), 0xb861);
  h.writeUInt16BE(0xb861, 10);
  assert.equal(internetChecksum(h), 0);
});

test('readPcap + decode: records, addresses, UDP ports and payload (both byte orders)', () => {
  const f1 = udpFrame([198, 18, 0, 10], [198, 18, 0, 11], 40000, 51820, Buffer.from('hello'));
  const f2 = udpFrame([198, 18, 0, 11], [198, 18, 0, 10], 51820, 40000, Buffer.from('world!'));
  for (const be of [false, true]) {
    const recs = readPcap(pcapFile([f1, f2], be));
    assert.equal(recs.length, 2);
    assert.equal(recs[0]?.time, 1700000000.5);
    const pkts = ipv4Packets(pcapFile([f1, f2], be));
    assert.equal(pkts[0]?.src, '198.18.0.10');
    assert.equal(pkts[0]?.dst, '198.18.0.11');
    assert.equal(pkts[0]?.udp?.dstPort, 51820);
    assert.equal(pkts[1]?.udp?.payload.toString(), 'world!');
  }
  // A truncated last record (capture killed mid-write) is dropped, not an error.
  const full = pcapFile([f1, f2]);
  assert.equal(readPcap(full.subarray(0, full.length - 3)).length, 1);
  assert.throws(() => readPcap(Buffer.alloc(24)), PcapError);
  assert.throws(() => readPcap(Buffer.alloc(10)), PcapError);
});

test('non-IPv4 frames are skipped', () => {
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  assert.equal(decodeEthernetIpv4(arp), undefined);
  const f = udpFrame([1, 2, 3, 4], [5, 6, 7, 8], 1, 2, Buffer.alloc(0));
  assert.equal(ipv4Packets(pcapFile([arp, f])).length, 1);
});

test('findEmbeddedIpv4 finds a clear inner header naming an address, and nothing in random bytes', () => {
  const inner = Buffer.concat([ipv4Header([198, 19, 0, 2], [198, 18, 0, 100], 6, 40), Buffer.alloc(40, 7)]);
  const payload = Buffer.concat([Buffer.from([4, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9, 9, 2]), inner]);
  assert.deepEqual(findEmbeddedIpv4(payload, '198.18.0.100'), [17]);
  assert.deepEqual(findEmbeddedIpv4(payload, '198.19.0.2'), [17], 'source address also matches');
  assert.deepEqual(findEmbeddedIpv4(payload, '10.0.0.1'), []);
  // Corrupt the checksum: no longer a valid header.
  const bad = Buffer.from(payload);
  bad[17 + 10] = (bad[17 + 10] as number) ^ 0xff;
  assert.deepEqual(findEmbeddedIpv4(bad, '198.18.0.100'), []);
  // Random bytes (as ciphertext looks) with the address planted: no valid header around it.
  const rnd = Buffer.alloc(4096);
  for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
  Buffer.from([198, 18, 0, 100]).copy(rnd, 100);
  assert.deepEqual(findEmbeddedIpv4(rnd, '198.18.0.100'), []);
});
