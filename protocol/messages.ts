/**
 * Encoders and decoders of every data-plane message (protocol/README.md). All integers are
 * little-endian. Decoders validate lengths and fields, throw `MalformedPacketError(reason)`
 * and never read out of bounds. Decoded byte fields are views into the input (no copies).
 */
import {
  Ctrl,

  DATA_MIN_LEN,
  DESTROY_LEN,
  EXIT_OPENED_BODY_LEN,
  EXTEND_BODY_LEN,
  HANDSHAKE_INIT_LEN,
  HANDSHAKE_RESP_LEN,
  Kind,
  MsgType,
  NODE_ID_HASH_LEN,
} from './constants.js';
import { MAX_COUNTER } from './limits.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';
import { RESUME_TOKEN_MAX } from './resume.js';

export type MalformedReason =
  | 'empty'
  | 'unknown_type'
  | 'bad_length'
  | 'reserved_nonzero'
  | 'counter_range'
  | 'unknown_kind'
  | 'unknown_control'
  | 'bad_field';

export class MalformedPacketError extends Error {
  override readonly name = 'MalformedPacketError';
  constructor(readonly reason: MalformedReason, detail?: string) {
    super(detail ? `malformed packet: ${reason}: ${detail}` : `malformed packet: ${reason}`);
  }
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface HandshakeInit {
  senderIdx: number;
  nodeIdHash: Uint8Array;
  X: Uint8Array;
}

export interface HandshakeResp {
  senderIdx: number;
  receiverIdx: number;
  Y: Uint8Array;
  auth: Uint8Array;
}

export interface DataHeader {
  epoch: number;
  receiverIdx: number;
  counter: number;
}

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length !== n) throw new MalformedPacketError('bad_length', `${what}: ${b.length} != ${n}`);
}

function reservedZero(b: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) if (b[i] !== 0) throw new MalformedPacketError('reserved_nonzero');
}

function buf(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** First byte of a packet, or -1 for an empty one. */
export function packetType(p: Uint8Array): number {
  return p.length === 0 ? -1 : p[0]!;
}

// ---------- HANDSHAKE_INIT ----------
export function encodeInit(m: HandshakeInit): Buffer {
  if (m.nodeIdHash.length !== NODE_ID_HASH_LEN || m.X.length !== 32) throw new MalformedPacketError('bad_field', 'init fields');
  const out = Buffer.alloc(HANDSHAKE_INIT_LEN);
  out[0] = MsgType.HANDSHAKE_INIT;
  out.writeUInt32LE(m.senderIdx >>> 0, 4);
  out.set(m.nodeIdHash, 8);
  out.set(m.X, 16);
  return out;
}

export function decodeInit(p: Uint8Array): HandshakeInit {
  need(p, HANDSHAKE_INIT_LEN, 'HANDSHAKE_INIT');
  if (p[0] !== MsgType.HANDSHAKE_INIT) throw new MalformedPacketError('unknown_type');
  reservedZero(p, 1, 4);
  const b = buf(p);
  return { senderIdx: b.readUInt32LE(4), nodeIdHash: b.subarray(8, 16), X: b.subarray(16, 48) };
}

/** Rewrites sender_idx of an encoded INIT in place (a relay does this when extending). */
export function setInitSenderIdx(init: Buffer, senderIdx: number): void {
  init.writeUInt32LE(senderIdx >>> 0, 4);
}

// ---------- HANDSHAKE_RESP ----------
export function encodeResp(m: HandshakeResp): Buffer {
  if (m.Y.length !== 32 || m.auth.length !== 32) throw new MalformedPacketError('bad_field', 'resp fields');
  const out = Buffer.alloc(HANDSHAKE_RESP_LEN);
  out[0] = MsgType.HANDSHAKE_RESP;
  out.writeUInt32LE(m.senderIdx >>> 0, 4);
  out.writeUInt32LE(m.receiverIdx >>> 0, 8);
  out.set(m.Y, 12);
  out.set(m.auth, 44);
  return out;
}

export function decodeResp(p: Uint8Array): HandshakeResp {
  need(p, HANDSHAKE_RESP_LEN, 'HANDSHAKE_RESP');
  if (p[0] !== MsgType.HANDSHAKE_RESP) throw new MalformedPacketError('unknown_type');
  reservedZero(p, 1, 4);
  const b = buf(p);
  return { senderIdx: b.readUInt32LE(4), receiverIdx: b.readUInt32LE(8), Y: b.subarray(12, 44), auth: b.subarray(44, 76) };
}

// ---------- DATA ----------
/** Writes the 16-byte DATA header at `off`. */
export function writeDataHeader(out: Buffer, off: number, epoch: number, receiverIdx: number, counter: number): void {
  out[off] = MsgType.DATA;
  out[off + 1] = epoch & 0xff;
  out[off + 2] = 0;
  out[off + 3] = 0;
  out.writeUInt32LE(receiverIdx >>> 0, off + 4);
  out.writeUInt32LE(counter >>> 0, off + 8);
  out.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), off + 12);
}

/**
 * Hot-path check of a DATA packet's framing: returns null if well-formed, else the reason.
 * (No allocation, no throw.)
 */
export function dataFramingError(p: Buffer): MalformedReason | null {
  if (p.length < DATA_MIN_LEN) return 'bad_length';
  if (p[0] !== MsgType.DATA) return 'unknown_type';
  if (p[2] !== 0 || p[3] !== 0) return 'reserved_nonzero';
  if (p.readUInt32LE(12) > 0x1fffff) return 'counter_range'; // > 2^53 - 1
  return null;
}

/** Receiver index of a packet that passed `dataFramingError` (or any packet of >= 8 bytes). */
export function dataReceiverIdx(p: Buffer): number {
  return p.readUInt32LE(4);
}
export function dataEpoch(p: Buffer): number {
  return p[1]!;
}
export function dataCounter(p: Buffer): number {
  return p.readUInt32LE(8) + p.readUInt32LE(12) * 0x1_0000_0000;
}

export function decodeDataHeader(p: Uint8Array): DataHeader {
  const b = buf(p);
  const err = dataFramingError(b);
  if (err) throw new MalformedPacketError(err, 'DATA');
  const counter = dataCounter(b);
  if (counter > MAX_COUNTER) throw new MalformedPacketError('counter_range');
  return { epoch: dataEpoch(b), receiverIdx: dataReceiverIdx(b), counter };
}

// ---------- DESTROY ----------
export function encodeDestroy(receiverIdx: number): Buffer {
  const out = Buffer.alloc(DESTROY_LEN);
  out[0] = MsgType.DESTROY;
  out.writeUInt32LE(receiverIdx >>> 0, 4);
  return out;
}

export function decodeDestroy(p: Uint8Array): { receiverIdx: number } {
  need(p, DESTROY_LEN, 'DESTROY');
  if (p[0] !== MsgType.DESTROY) throw new MalformedPacketError('unknown_type');
  reservedZero(p, 1, 4);
  return { receiverIdx: buf(p).readUInt32LE(4) };
}

// ---------- DATA plaintext ----------
export type Plaintext =
  | { kind: typeof Kind.FORWARD; packet: Buffer }
  | { kind: typeof Kind.IP; packet: Buffer }
  | { kind: typeof Kind.CONTROL; control: Control }
  | { kind: typeof Kind.PADDING };

/** Decodes a layer's plaintext `kind(1) | body` (body is a view). */
export function decodePlaintext(pt: Uint8Array): Plaintext {
  if (pt.length === 0) throw new MalformedPacketError('empty');
  const b = buf(pt);
  const body = b.subarray(1);
  switch (b[0]) {
    case Kind.FORWARD:
      if (body.length < DATA_MIN_LEN) throw new MalformedPacketError('bad_length', 'FORWARD body');
      return { kind: Kind.FORWARD, packet: body };
    case Kind.IP:
      if (body.length === 0) throw new MalformedPacketError('bad_length', 'IP body');
      return { kind: Kind.IP, packet: body };
    case Kind.CONTROL:
      return { kind: Kind.CONTROL, control: decodeControl(body) };
    case Kind.PADDING:
      return { kind: Kind.PADDING };
    default:
      throw new MalformedPacketError('unknown_kind');
  }
}

// ---------- Control messages ----------
export type Control =
  | { ctype: typeof Ctrl.EXTEND; endpoint: Endpoint; init: Buffer }
  | { ctype: typeof Ctrl.EXTENDED; resp: Buffer }
  | { ctype: typeof Ctrl.EXIT_OPEN }
  | { ctype: typeof Ctrl.EXIT_OPENED; ipv4: string; prefixLen: number; dns: string | undefined }
  | { ctype: typeof Ctrl.EXIT_REFUSED; reason: number }
  | { ctype: typeof Ctrl.REKEY; init: Buffer }
  | { ctype: typeof Ctrl.REKEYED; resp: Buffer }
  | { ctype: typeof Ctrl.TRUNCATE }
  | { ctype: typeof Ctrl.EXTEND_FAILED; reason: number }
  | { ctype: typeof Ctrl.EXIT_RESUME; token: Buffer }
  | { ctype: typeof Ctrl.RESUME_TOKEN; ttlS: number; token: Buffer };

/** A resumption token field: version byte (non-zero) first, 1..RESUME_TOKEN_MAX bytes (protocol/resume.ts). */
function checkToken(t: Uint8Array, what: string): void {
  if (t.length < 1 || t.length > RESUME_TOKEN_MAX || t[0] === 0) throw new MalformedPacketError('bad_field', `${what} token`);
}

/** Encodes a control message `ctype(1) | body` (without the CONTROL kind byte). */
export function encodeControl(c: Control): Buffer {
  switch (c.ctype) {
    case Ctrl.EXTEND: {
      if (c.init.length !== HANDSHAKE_INIT_LEN) throw new MalformedPacketError('bad_field', 'EXTEND init');
      if (!Number.isInteger(c.endpoint.port) || c.endpoint.port < 1 || c.endpoint.port > 65535) throw new MalformedPacketError('bad_field', 'EXTEND port');
      const out = Buffer.alloc(1 + EXTEND_BODY_LEN);
      out[0] = Ctrl.EXTEND;
      out.writeUInt32BE(parseIpv4(c.endpoint.host), 1);
      out.writeUInt16LE(c.endpoint.port, 5);
      out.set(c.init, 7);
      return out;
    }
    case Ctrl.EXTENDED:
    case Ctrl.REKEYED:
      if (c.resp.length !== HANDSHAKE_RESP_LEN) throw new MalformedPacketError('bad_field', 'resp');
      return Buffer.concat([Buffer.of(c.ctype), c.resp]);
    case Ctrl.REKEY:
      if (c.init.length !== HANDSHAKE_INIT_LEN) throw new MalformedPacketError('bad_field', 'REKEY init');
      return Buffer.concat([Buffer.of(c.ctype), c.init]);
    case Ctrl.EXIT_OPEN:
    case Ctrl.TRUNCATE:
      return Buffer.of(c.ctype);
    case Ctrl.EXIT_OPENED: {
      if (!Number.isInteger(c.prefixLen) || c.prefixLen < 0 || c.prefixLen > 32) throw new MalformedPacketError('bad_field', 'prefix');
      const out = Buffer.alloc(1 + EXIT_OPENED_BODY_LEN);
      out[0] = Ctrl.EXIT_OPENED;
      out.writeUInt32BE(parseIpv4(c.ipv4), 1);
      out[5] = c.prefixLen;
      out.writeUInt32BE(c.dns === undefined ? 0 : parseIpv4(c.dns), 6);
      return out;
    }
    case Ctrl.EXIT_REFUSED:
    case Ctrl.EXTEND_FAILED:
      return Buffer.of(c.ctype, c.reason & 0xff);
    case Ctrl.EXIT_RESUME:
      checkToken(c.token, 'EXIT_RESUME');
      return Buffer.concat([Buffer.of(c.ctype), c.token]);
    case Ctrl.RESUME_TOKEN: {
      checkToken(c.token, 'RESUME_TOKEN');
      if (!Number.isInteger(c.ttlS) || c.ttlS < 1 || c.ttlS > 0xffffffff) throw new MalformedPacketError('bad_field', 'RESUME_TOKEN ttl');
      const out = Buffer.alloc(5 + c.token.length);
      out[0] = c.ctype;
      out.writeUInt32LE(c.ttlS, 1);
      out.set(c.token, 5);
      return out;
    }
  }
}

/** Decodes `ctype(1) | body`. IPv4 fields on the wire are in network order (big-endian). */
export function decodeControl(p: Uint8Array): Control {
  if (p.length === 0) throw new MalformedPacketError('empty', 'control');
  const b = buf(p);
  const body = b.subarray(1);
  const ctype = b[0]!;
  switch (ctype) {
    case Ctrl.EXTEND: {
      need(body, EXTEND_BODY_LEN, 'EXTEND');
      const port = body.readUInt16LE(4);
      if (port === 0) throw new MalformedPacketError('bad_field', 'EXTEND port 0');
      const init = body.subarray(6);
      if (init[0] !== MsgType.HANDSHAKE_INIT) throw new MalformedPacketError('bad_field', 'EXTEND init type');
      return { ctype, endpoint: { host: formatIpv4(body.readUInt32BE(0)), port }, init };
    }
    case Ctrl.EXTENDED:
    case Ctrl.REKEYED:
      need(body, HANDSHAKE_RESP_LEN, 'RESP');
      if (body[0] !== MsgType.HANDSHAKE_RESP) throw new MalformedPacketError('bad_field', 'resp type');
      return { ctype, resp: body };
    case Ctrl.REKEY:
      need(body, HANDSHAKE_INIT_LEN, 'REKEY');
      if (body[0] !== MsgType.HANDSHAKE_INIT) throw new MalformedPacketError('bad_field', 'REKEY init type');
      return { ctype, init: body };
    case Ctrl.EXIT_OPEN:
    case Ctrl.TRUNCATE:
      need(body, 0, 'empty control');
      return { ctype };
    case Ctrl.EXIT_OPENED: {
      need(body, EXIT_OPENED_BODY_LEN, 'EXIT_OPENED');
      const prefixLen = body[4]!;
      if (prefixLen > 32) throw new MalformedPacketError('bad_field', 'prefix');
      const dns = body.readUInt32BE(5);
      return { ctype, ipv4: formatIpv4(body.readUInt32BE(0)), prefixLen, dns: dns === 0 ? undefined : formatIpv4(dns) };
    }
    case Ctrl.EXIT_REFUSED:
    case Ctrl.EXTEND_FAILED:
      need(body, 1, 'reason');
      return { ctype, reason: body[0]! };
    case Ctrl.EXIT_RESUME:
      checkToken(body, 'EXIT_RESUME');
      return { ctype, token: body };
    case Ctrl.RESUME_TOKEN: {
      if (body.length < 5) throw new MalformedPacketError('bad_length', 'RESUME_TOKEN');
      const ttlS = body.readUInt32LE(0);
      if (ttlS === 0) throw new MalformedPacketError('bad_field', 'RESUME_TOKEN ttl');
      const token = body.subarray(4);
      checkToken(token, 'RESUME_TOKEN');
      return { ctype, ttlS, token };
    }
    default:
      throw new MalformedPacketError('unknown_control');
  }
}

