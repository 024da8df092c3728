/**
 * Synthetic IPv4 packets for the relay load benchmark (pure, no IO): UDP datagrams and TCP
 * SYN segments with valid IPv4 and L4 checksums, and the probe payload they carry.
 *
 * Probe payload (UDP, echoed back unchanged by bench/load/echo.ts):
 *   magic u32 "TVLD" | circuit u16 | reserved u16 | seq u32 | sentAt f64 (ms, sender's clock) | padding
 */
export const PROBE_MAGIC = 0x54564c44; // "TVLD"
export const PROBE_HEADER = 20;
export const IPV4_HEADER = 20;
export const UDP_HEADER = 8;
export const TCP_HEADER = 20;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

export class PacketError extends Error {
  override readonly name = 'PacketError';
}

export function ipv4ToU32(s: string): number {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new PacketError(`bad IPv4 "${s}"`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** One's-complement sum of 16-bit words (not folded, not inverted). */
function sum16(b: Buffer, start: number, end: number, acc = 0): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < end) s += b[i]! << 8;
  return s;
}

function fold(s: number): number {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + Math.floor(x / 0x10000);
  return x;
}

/** The IPv4 header checksum (over bytes 0..IHL*4 with the checksum field as is). */
export function ipv4HeaderChecksum(p: Buffer): number {
  const ihl = (p[0]! & 0x0f) * 4;
  return ~fold(sum16(p, 0, ihl)) & 0xffff;
}

/** TCP/UDP checksum over the pseudo-header and the L4 segment (checksum field as is). */
export function l4Checksum(p: Buffer): number {
  const ihl = (p[0]! & 0x0f) * 4;
  const len = p.length - ihl;
  let s = sum16(p, 12, 20); // src + dst
  s += p[9]! + len;
  s = sum16(p, ihl, p.length, s);
  const c = ~fold(s) & 0xffff;
  return c;
}

let ipId = 1;

function ipv4(src: number, dst: number, proto: number, l4Len: number): Buffer {
  const p = Buffer.alloc(IPV4_HEADER + l4Len);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p.writeUInt16BE(ipId++ & 0xffff, 4);
  p.writeUInt16BE(0x4000, 6); // DF
  p[8] = 64;
  p[9] = proto;
  p.writeUInt32BE(src, 12);
  p.writeUInt32BE(dst, 16);
  p.writeUInt16BE(ipv4HeaderChecksum(p), 10);
  return p;
}

export function udpPacket(src: number, dst: number, sport: number, dport: number, payload: Buffer): Buffer {
  const p = ipv4(src, dst, PROTO_UDP, UDP_HEADER + payload.length);
  p.writeUInt16BE(sport, 20);
  p.writeUInt16BE(dport, 22);
  p.writeUInt16BE(UDP_HEADER + payload.length, 24);
  payload.copy(p, 28);
  const c = l4Checksum(p);
  p.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  return p;
}

export function tcpPacket(src: number, dst: number, sport: number, dport: number, seq: number, ack: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const p = ipv4(src, dst, PROTO_TCP, TCP_HEADER + payload.length);
  p.writeUInt16BE(sport, 20);
  p.writeUInt16BE(dport, 22);
  p.writeUInt32BE(seq >>> 0, 24);
  p.writeUInt32BE(ack >>> 0, 28);
  p[32] = (TCP_HEADER / 4) << 4;
  p[33] = flags;
  p.writeUInt16BE(65535, 34);
  payload.copy(p, 40);
  p.writeUInt16BE(l4Checksum(p), 36);
  return p;
}

export function probePayload(circuit: number, seq: number, sentAt: number, size: number): Buffer {
  const b = Buffer.alloc(Math.max(PROBE_HEADER, size));
  b.writeUInt32BE(PROBE_MAGIC, 0);
  b.writeUInt16BE(circuit, 4);
  b.writeUInt32BE(seq >>> 0, 8);
  b.writeDoubleBE(sentAt, 12);
  return b;
}

export interface Probe {
  circuit: number;
  seq: number;
  sentAt: number;
}

export function parseProbe(payload: Buffer): Probe | undefined {
  if (payload.length < PROBE_HEADER || payload.readUInt32BE(0) !== PROBE_MAGIC) return undefined;
  return { circuit: payload.readUInt16BE(4), seq: payload.readUInt32BE(8), sentAt: payload.readDoubleBE(12) };
}

export type Parsed =
  | { proto: 'udp'; src: number; dst: number; sport: number; dport: number; payload: Buffer }
  | { proto: 'tcp'; src: number; dst: number; sport: number; dport: number; seq: number; ack: number; flags: number };

/** Parses an IPv4 UDP or TCP packet (checksums verified); undefined for anything else. */
export function parseIp(p: Buffer): Parsed | undefined {
  if (p.length < IPV4_HEADER || p[0]! >> 4 !== 4) return undefined;
  const ihl = (p[0]! & 0x0f) * 4;
  const len = p.readUInt16BE(2);
  if (ihl < IPV4_HEADER || len !== p.length || len < ihl) return undefined;
  if (fold(sum16(p, 0, ihl)) !== 0xffff) return undefined;
  const src = p.readUInt32BE(12);
  const dst = p.readUInt32BE(16);
  if (p[9] === PROTO_UDP && len >= ihl + UDP_HEADER) {
    if (p.readUInt16BE(ihl + 6) !== 0 && l4Checksum(p) !== 0) return undefined;
    return { proto: 'udp', src, dst, sport: p.readUInt16BE(ihl), dport: p.readUInt16BE(ihl + 2), payload: p.subarray(ihl + UDP_HEADER) };
  }
  if (p[9] === PROTO_TCP && len >= ihl + TCP_HEADER) {
    if (l4Checksum(p) !== 0) return undefined;
    return { proto: 'tcp', src, dst, sport: p.readUInt16BE(ihl), dport: p.readUInt16BE(ihl + 2), seq: p.readUInt32BE(ihl + 4), ack: p.readUInt32BE(ihl + 8), flags: p[ihl + 13]! };
  }
  return undefined;
}
