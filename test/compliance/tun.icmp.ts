/**
 * Minimal IPv4/ICMP echo packets for the TUN tests: build requests and replies with valid
 * checksums, and recognise them. Test support only; not a packet library.
 */

export interface EchoInfo {
  type: number; // 8 request, 0 reply
  src: string;
  dst: string;
  id: number;
  seq: number;
  payload: Buffer;
}

/** RFC 1071 Internet checksum over `buf`. */
export function inetChecksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2 === 1) sum += (buf[buf.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipBytes(addr: string): Buffer {
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`bad IPv4 address ${addr}`);
  return Buffer.from(parts);
}

function ipString(buf: Buffer, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** An IPv4 packet carrying an ICMP echo (type 8 request or 0 reply). */
export function buildEcho(e: EchoInfo): Buffer {
  const icmp = Buffer.alloc(8 + e.payload.length);
  icmp[0] = e.type;
  icmp.writeUInt16BE(e.id, 4);
  icmp.writeUInt16BE(e.seq, 6);
  e.payload.copy(icmp, 8);
  icmp.writeUInt16BE(inetChecksum(icmp), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip.writeUInt16BE(0x4000, 6); // DF
  ip[8] = 64;
  ip[9] = 1; // ICMP
  ipBytes(e.src).copy(ip, 12);
  ipBytes(e.dst).copy(ip, 16);
  ip.writeUInt16BE(inetChecksum(ip), 10);
  return Buffer.concat([ip, icmp]);
}

/** The echo inside `pkt`, or undefined when it is not a well-formed IPv4 ICMP echo. */
export function parseEcho(pkt: Buffer): EchoInfo | undefined {
  if (pkt.length < 28 || (pkt[0] as number) >> 4 !== 4) return undefined;
  const ihl = ((pkt[0] as number) & 0x0f) * 4;
  if (pkt[9] !== 1 || pkt.length < ihl + 8 || pkt.readUInt16BE(2) !== pkt.length) return undefined;
  if (inetChecksum(pkt.subarray(0, ihl)) !== 0) return undefined;
  const icmp = pkt.subarray(ihl);
  if (inetChecksum(icmp) !== 0) return undefined;
  const type = icmp[0] as number;
  if (type !== 8 && type !== 0) return undefined;
  return { type, src: ipString(pkt, 12), dst: ipString(pkt, 16), id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6), payload: Buffer.from(icmp.subarray(8)) };
}

/** The reply a host would send to `request` (addresses swapped, same id, seq, payload). */
export function echoReplyTo(request: EchoInfo): Buffer {
  return buildEcho({ type: 0, src: request.dst, dst: request.src, id: request.id, seq: request.seq, payload: request.payload });
}
