/**
 * Minimal pcap reading (no IO): classic libpcap files with Ethernet frames, as tcpdump -w
 * writes them, split into IPv4/UDP/TCP. Enough to check what a link carried in the clear.
 */
export class PcapError extends Error {
  override readonly name = 'PcapError';
}

export interface PcapRecord {
  /** Capture time in seconds (fractional). */
  time: number;
  /** Captured bytes (may be shorter than the frame on the wire if a snaplen applied). */
  data: Buffer;
}

export interface Ipv4Packet {
  src: string;
  dst: string;
  protocol: number;
  /** The whole IPv4 packet (header included), as captured. */
  raw: Buffer;
  /** Transport-layer bytes (after the IPv4 header). */
  l4: Buffer;
  udp?: { srcPort: number; dstPort: number; payload: Buffer };
  tcp?: { srcPort: number; dstPort: number; payload: Buffer };
}

const LINKTYPE_ETHERNET = 1;

/** Parses a pcap file's bytes into records. */
export function readPcap(buf: Buffer): PcapRecord[] {
  if (buf.length < 24) throw new PcapError(`pcap too short (${buf.length} B)`);
  const magicLe = buf.readUInt32LE(0);
  let le: boolean;
  let nano: boolean;
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) {
    le = true;
    nano = magicLe === 0xa1b23c4d;
  } else {
    const magicBe = buf.readUInt32BE(0);
    if (magicBe !== 0xa1b2c3d4 && magicBe !== 0xa1b23c4d) throw new PcapError('not a pcap file (bad magic)');
    le = false;
    nano = magicBe === 0xa1b23c4d;
  }
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linktype = u32(20) & 0x0fffffff;
  if (linktype !== LINKTYPE_ETHERNET) throw new PcapError(`unsupported link type ${linktype}`);
  const out: PcapRecord[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = u32(off);
    const frac = u32(off + 4);
    const incl = u32(off + 8);
    off += 16;
    if (off + incl > buf.length) break; // truncated last record (capture killed mid-write)
    out.push({ time: sec + frac / (nano ? 1e9 : 1e6), data: buf.subarray(off, off + incl) });
    off += incl;
  }
  return out;
}

export function ipv4ToString(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** Decodes an Ethernet frame carrying IPv4 (one optional 802.1Q tag); undefined otherwise. */
export function decodeEthernetIpv4(frame: Buffer): Ipv4Packet | undefined {
  if (frame.length < 14) return undefined;
  let off = 12;
  let ethertype = frame.readUInt16BE(off);
  if (ethertype === 0x8100 && frame.length >= 18) {
    off += 4;
    ethertype = frame.readUInt16BE(off);
  }
  if (ethertype !== 0x0800) return undefined;
  return decodeIpv4(frame.subarray(off + 2));
}

/** Decodes a raw IPv4 packet; undefined if it is not one. */
export function decodeIpv4(raw: Buffer): Ipv4Packet | undefined {
  if (raw.length < 20 || raw[0] === undefined || raw[0] >> 4 !== 4) return undefined;
  const ihl = (raw[0] & 0x0f) * 4;
  if (ihl < 20 || raw.length < ihl) return undefined;
  const total = Math.min(raw.readUInt16BE(2), raw.length);
  const protocol = raw[9] as number;
  const l4 = raw.subarray(ihl, Math.max(ihl, total));
  const pkt: Ipv4Packet = { src: ipv4ToString(raw, 12), dst: ipv4ToString(raw, 16), protocol, raw: raw.subarray(0, total), l4 };
  if (protocol === 17 && l4.length >= 8) {
    pkt.udp = { srcPort: l4.readUInt16BE(0), dstPort: l4.readUInt16BE(2), payload: l4.subarray(8) };
  } else if (protocol === 6 && l4.length >= 20) {
    const doff = ((l4[12] as number) >> 4) * 4;
    pkt.tcp = { srcPort: l4.readUInt16BE(0), dstPort: l4.readUInt16BE(2), payload: l4.subarray(Math.min(doff, l4.length)) };
  }
  return pkt;
}

/** All IPv4 packets in a pcap file's bytes. */
export function ipv4Packets(pcapBytes: Buffer): Ipv4Packet[] {
  return readPcap(pcapBytes)
    .map((r) => decodeEthernetIpv4(r.data))
    .filter((p): p is Ipv4Packet => p !== undefined);
}

/** Internet checksum (RFC 1071) over `b`. */
export function internetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2 === 1) sum += (b[b.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Offsets in `payload` where a plausible IPv4 header starts: version 4, IHL 5, total length
 * ≥ 20, a valid header checksum, and (if given) the destination or source address `addr`.
 * Used to show that a tunnel carries no inner IP header in the clear.
 */
export function findEmbeddedIpv4(payload: Buffer, addr?: string): number[] {
  const hits: number[] = [];
  const want = addr?.split('.').map(Number);
  for (let i = 0; i + 20 <= payload.length; i++) {
    if (payload[i] !== 0x45) continue;
    const hdr = payload.subarray(i, i + 20);
    if (hdr.readUInt16BE(2) < 20) continue;
    if (internetChecksum(hdr) !== 0) continue;
    if (want) {
      const dstOk = want.every((v, k) => hdr[16 + k] === v);
      const srcOk = want.every((v, k) => hdr[12 + k] === v);
      if (!dstOk && !srcOk) continue;
    }
    hits.push(i);
  }
  return hits;
}
