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

export function wireToBytes(value: unknown): Uint8Array {
  return Buffer.from(wireEncode(value), 'utf8');
}

export function wireFromBytes<T = unknown>(bytes: Uint8Array): T {
  return wireDecode<T>(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}
