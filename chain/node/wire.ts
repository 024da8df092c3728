/**
 * Lossless JSON for the wire and the store: bigint -> {"$n":"<decimal>"},
 * Uint8Array -> {"$b":"<hex>"}; everything else is plain JSON. Round-trips any value built
 * from objects, arrays, strings, numbers, booleans, null, bigint and Uint8Array.
 * Not the canonical hashing encoding (that one lives in chain/state).
 */
export class WireDecodeError extends Error {
  override name = 'WireDecodeError';
}

export function wireEncode(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return { $n: v.toString() };
    if (v instanceof Uint8Array) return { $b: Buffer.from(v).toString('hex') };
    if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return { $b: Buffer.from((v as { data: number[] }).data).toString('hex') };
    }
    return v;
  });
}

export function wireDecode<T = unknown>(text: string): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new WireDecodeError(`bad wire JSON: ${(e as Error).message}`);
  }
  return restore(parsed, 0) as T;
}

/** Deepest nesting a wire value may have (ours stay far below; deeper input is hostile and would overflow the stack). */
export const MAX_WIRE_DEPTH = 128;

/** Replaces {"$n"} / {"$b"} wrappers in place (a walk is much faster than a JSON.parse reviver). */
function restore(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_WIRE_DEPTH) throw new WireDecodeError(`nested deeper than ${MAX_WIRE_DEPTH}`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = restore(x, depth + 1);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  let count = 0;
  for (const k in o) {
    count++;
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = restore(x, depth + 1);
  }
  if (count === 1) {
    if (typeof o.$n === 'string') {
      if (!/^-?[0-9]+$/.test(o.$n)) throw new WireDecodeError('bad bigint');
      return BigInt(o.$n);
    }
    if (typeof o.$b === 'string') return new Uint8Array(Buffer.from(o.$b, 'hex'));
  }
  return o;
}

/**
 * wireEncode as UTF-8 bytes, in a plain Uint8Array view (not a Buffer: JSON.stringify would
 * first expand a Buffer into an array of numbers through Buffer#toJSON when it is packed).
 */
export function wireToBytes(value: unknown): Uint8Array {
  const b = Buffer.from(wireEncode(value), 'utf8');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function wireFromBytes<T = unknown>(bytes: Uint8Array): T {
  return wireDecode<T>(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

/**
 * Binary envelope for the p2p wire and the store: byte 0x01, u32be length of the JSON part,
 * the JSON (as wireEncode, except every Uint8Array is {"$r":i}), then each referenced byte
 * string as u32be length + bytes, in order of i. Block payloads travel raw instead of as hex
 * inside JSON (half the size, no hex work). `unpackValue` also reads plain wire JSON text
 * (which never starts with 0x01), so older stores and peers still decode.
 */
export const PACK_VERSION = 0x01;

export function packValue(value: unknown): Uint8Array {
  const blobs: Uint8Array[] = [];
  const blob = (b: Uint8Array): { $r: number } => {
    blobs.push(b);
    return { $r: blobs.length - 1 };
  };
  const json = JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return { $n: v.toString() };
    if (v instanceof Uint8Array) return blob(v);
    if (v !== null && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return blob(Uint8Array.from((v as { data: number[] }).data));
    }
    return v;
  });
  const jsonLen = Buffer.byteLength(json, 'utf8');
  let total = 5 + jsonLen;
  for (const b of blobs) total += 4 + b.byteLength;
  const out = Buffer.allocUnsafe(total);
  out[0] = PACK_VERSION;
  out.writeUInt32BE(jsonLen, 1);
  out.write(json, 5, 'utf8');
  let at = 5 + jsonLen;
  for (const b of blobs) {
    out.writeUInt32BE(b.byteLength, at);
    out.set(b, at + 4);
    at += 4 + b.byteLength;
  }
  return out;
}

export function unpackValue<T = unknown>(bytes: Uint8Array): T {
  if (bytes.byteLength === 0 || bytes[0] !== PACK_VERSION) return wireFromBytes<T>(bytes);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < 5) throw new WireDecodeError('packed value: truncated header');
  const jsonLen = buf.readUInt32BE(1);
  if (5 + jsonLen > buf.byteLength) throw new WireDecodeError('packed value: JSON part runs past the end');
  const blobs: Uint8Array[] = [];
  for (let at = 5 + jsonLen; at < buf.byteLength; ) {
    if (at + 4 > buf.byteLength) throw new WireDecodeError('packed value: truncated blob length');
    const len = buf.readUInt32BE(at);
    if (at + 4 + len > buf.byteLength) throw new WireDecodeError('packed value: blob runs past the end');
    blobs.push(new Uint8Array(buf.subarray(at + 4, at + 4 + len))); // a copy: frames may be reused
    at += 4 + len;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.toString('utf8', 5, 5 + jsonLen));
  } catch (e) {
    throw new WireDecodeError(`bad wire JSON: ${(e as Error).message}`);
  }
  return restorePacked(parsed, 0, blobs) as T;
}

/** restore() plus {"$r":i} → the i-th byte string. */
function restorePacked(v: unknown, depth: number, blobs: readonly Uint8Array[]): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_WIRE_DEPTH) throw new WireDecodeError(`nested deeper than ${MAX_WIRE_DEPTH}`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = restorePacked(x, depth + 1, blobs);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  let count = 0;
  for (const k in o) {
    count++;
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = restorePacked(x, depth + 1, blobs);
  }
  if (count === 1) {
    if (typeof o.$r === 'number') {
      const b = blobs[o.$r];
      if (b === undefined) throw new WireDecodeError(`packed value: no blob ${o.$r}`);
      return b;
    }
    if (typeof o.$n === 'string') {
      if (!/^-?[0-9]+$/.test(o.$n)) throw new WireDecodeError('bad bigint');
      return BigInt(o.$n);
    }
    if (typeof o.$b === 'string') return new Uint8Array(Buffer.from(o.$b, 'hex'));
  }
  return o;
}
