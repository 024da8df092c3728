/**
 * Input generators for the fuzz targets (fast-check arbitraries). Every generator yields bytes:
 * random bytes, or a valid seed (built with the real encoders) put through a few mutations —
 * bit flips, byte sets, truncations, insertions, deletions, duplicated chunks, splices with
 * another seed and length-field edits (interesting values written as u8/u16/u32, LE or BE).
 * JSON seeds also get tree mutations (a value replaced by junk, a key dropped or added, deep
 * nesting) before serialisation.
 */
import fc from 'fast-check';

/** Values a length or count field is most likely to get wrong. */
const INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

type Op =
  | { k: 'flip'; pos: number; bit: number }
  | { k: 'set'; pos: number; v: number }
  | { k: 'trunc'; pos: number }
  | { k: 'ins'; pos: number; bytes: Uint8Array }
  | { k: 'del'; pos: number; n: number }
  | { k: 'dup'; pos: number; n: number }
  | { k: 'splice'; pos: number; other: number; from: number }
  | { k: 'len'; pos: number; width: 1 | 2 | 4; be: boolean; v: number; rel: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('set' as const), pos: fc.nat(), v: fc.oneof(fc.nat(255), fc.constantFrom(0, 0xff, 0x7f, 0x80)) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('trunc' as const), pos: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('ins' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('del' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('dup' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('splice' as const), pos: fc.nat(), other: fc.nat(), from: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('len' as const),
      pos: fc.nat(),
      width: fc.constantFrom(1 as const, 2 as const, 4 as const),
      be: fc.boolean(),
      v: fc.constantFrom(...INTERESTING),
      rel: fc.integer({ min: -2, max: 2 }),
    }),
  },
);

function writeInt(b: Uint8Array, pos: number, width: 1 | 2 | 4, be: boolean, v: number): void {
  for (let i = 0; i < width && pos + i < b.length; i++) {
    const shift = be ? 8 * (width - 1 - i) : 8 * i;
    b[pos + i] = Math.floor(v / 2 ** shift) & 0xff;
  }
}

function applyOp(b: Uint8Array, op: Op, seeds: readonly Uint8Array[]): Uint8Array {
  const n = b.length;
  const at = (p: number, extra = 0): number => (n + extra === 0 ? 0 : p % (n + extra));
  switch (op.k) {
    case 'flip': {
      if (n === 0) return b;
      const c = Uint8Array.from(b);
      c[at(op.pos)]! ^= 1 << op.bit;
      return c;
    }
    case 'set': {
      if (n === 0) return b;
      const c = Uint8Array.from(b);
      c[at(op.pos)] = op.v;
      return c;
    }
    case 'trunc':
      return b.subarray(0, at(op.pos, 1));
    case 'ins': {
      const p = at(op.pos, 1);
      return concat(b.subarray(0, p), op.bytes, b.subarray(p));
    }
    case 'del': {
      if (n === 0) return b;
      const p = at(op.pos);
      return concat(b.subarray(0, p), b.subarray(Math.min(n, p + op.n)));
    }
    case 'dup': {
      if (n === 0) return b;
      const p = at(op.pos);
      const chunk = b.subarray(p, Math.min(n, p + op.n));
      return concat(b.subarray(0, p), chunk, chunk, b.subarray(p + chunk.length));
    }
    case 'splice': {
      const o = seeds[op.other % seeds.length]!;
      const p = at(op.pos, 1);
      const from = o.length === 0 ? 0 : op.from % o.length;
      return concat(b.subarray(0, p), o.subarray(from));
    }
    case 'len': {
      if (n === 0) return b;
      const c = Uint8Array.from(b);
      const v = op.v === 0 && op.rel < 0 ? 0 : op.v + op.rel;
      writeInt(c, at(op.pos), op.width, op.be, v === -1 || v === -2 ? n + v + 2 : v);
      return c;
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A seed with 1..maxOps mutations applied (0 mutations in a tenth of the cases). */
export function mutationsOf(seeds: readonly Uint8Array[], maxOps = 4): fc.Arbitrary<Uint8Array> {
  if (seeds.length === 0) throw new Error('mutationsOf: no seeds');
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.oneof({ weight: 1, arbitrary: fc.constant([] as Op[]) }, { weight: 9, arbitrary: fc.array(opArb, { minLength: 1, maxLength: maxOps }) }))
    .map(([i, ops]) => {
      let b: Uint8Array = seeds[i]!;
      for (const op of ops) b = applyOp(b, op, seeds);
      return b === seeds[i] ? Uint8Array.from(b) : b;
    });
}

/** Random bytes, mostly short. */
export function randomBytes(maxLength = 256): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ maxLength });
}

/** Random bytes (1 part in 5) or mutated seeds (4 parts in 5). */
export function bytesFrom(seeds: readonly Uint8Array[], maxRandom = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof({ weight: 1, arbitrary: randomBytes(maxRandom) }, { weight: 4, arbitrary: mutationsOf(seeds) });
}

/** A tag byte (0..255) in front of `body`: lets one byte string carry a selector plus a payload. */
export function tagged(tag: fc.Arbitrary<number>, body: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(tag, body).map(([t, b]) => concat(Uint8Array.of(t & 0xff), b));
}

// ---------------------------------------------------------------- JSON

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

/** Values that break naive field checks. */
const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    null,
    true,
    -1,
    0,
    1.5,
    2 ** 53,
    -(2 ** 63),
    1e308,
    '',
    '-1',
    '1e3',
    '00',
    '0x10',
    'ff'.repeat(32),
    'FF'.repeat(32),
    '00'.repeat(64),
    '1'.repeat(40),
    '__proto__',
    'constructor',
    'toString',
    [],
    {},
    [null],
    { $n: '1' },
    { $b: 'zz' },
    { $n: '1e9' },
    '198.18.0.1:0',
    '256.0.0.1:1',
    '\u0000',
    '\ud800',
  ),
  fc.string({ maxLength: 40 }),
  fc.integer(),
);

type Path = number[];

function replaceAt(v: unknown, path: Path, repl: (old: unknown) => unknown): unknown {
  if (path.length === 0 || v === null || typeof v !== 'object') return repl(v);
  const keys = Object.keys(v as object);
  if (keys.length === 0) return repl(v);
  const k = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...(v as unknown[])] : { ...(v as Record<string, unknown>) };
  (copy as Record<string, unknown>)[k] = replaceAt((v as Record<string, unknown>)[k], path.slice(1), repl);
  return copy;
}

type TreeOp = { k: 'replace'; path: Path; v: unknown } | { k: 'drop'; path: Path } | { k: 'add'; path: Path; key: string; v: unknown } | { k: 'nest'; path: Path; depth: number };

const keyArb = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'extra', 'type', 'v', 'id', '$n', '$b'), fc.string({ maxLength: 8 }));
/**
 * Deep nesting (thousands of levels, enough to overflow a recursive walker or JSON.stringify)
 * is in about 1 tree op in 60: such an input costs ~100x an ordinary one to parse, and the bug
 * class it finds shows up within a few hundred of them.
 */
const treeOpArb: fc.Arbitrary<TreeOp> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ k: fc.constant('replace' as const), path: fc.array(fc.nat(40), { maxLength: 7 }), v: junkValue }) },
  { weight: 12, arbitrary: fc.record({ k: fc.constant('drop' as const), path: fc.array(fc.nat(40), { minLength: 1, maxLength: 7 }) }) },
  { weight: 12, arbitrary: fc.record({ k: fc.constant('add' as const), path: fc.array(fc.nat(40), { maxLength: 6 }), key: keyArb, v: junkValue }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('nest' as const), path: fc.array(fc.nat(40), { maxLength: 6 }), depth: fc.constantFrom(1, 2, 50) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('nest' as const), path: fc.array(fc.nat(40), { maxLength: 6 }), depth: fc.constantFrom(3000, 10000, 20000) }) },
);

/** Deep nesting is spliced into the text after serialisation (JSON.stringify itself would overflow). */
const NEST_MARK = '\u0001nest:';
function nest(depth: number): string {
  return `${NEST_MARK}${depth}`;
}
function expandNesting(s: string): string {
  if (!s.includes('\\u0001nest:')) return s;
  return s.replace(/"\\u0001nest:(\d+)"/g, (_m, d: string) => {
    const n = Number(d);
    const open: string[] = [];
    const close: string[] = [];
    for (let i = 0; i < n; i++) {
      open.push(i % 2 === 0 ? '[' : '{"a":');
      close.push(i % 2 === 0 ? ']' : '}');
    }
    return `${open.join('')}0${close.reverse().join('')}`;
  });
}

function applyTreeOp(v: unknown, op: TreeOp): unknown {
  switch (op.k) {
    case 'replace':
      return replaceAt(v, op.path, () => op.v);
    case 'drop': {
      const parent = op.path.slice(0, -1);
      const last = op.path[op.path.length - 1]!;
      return replaceAt(v, parent, (o) => {
        if (o === null || typeof o !== 'object') return o;
        if (Array.isArray(o)) return o.filter((_, i) => o.length === 0 || i !== last % o.length);
        const keys = Object.keys(o);
        if (keys.length === 0) return o;
        const copy = { ...(o as Record<string, unknown>) };
        delete copy[keys[last % keys.length]!];
        return copy;
      });
    }
    case 'add':
      return replaceAt(v, op.path, (o) => {
        if (o === null || typeof o !== 'object') return o;
        if (Array.isArray(o)) return [...o, op.v];
        const copy: Record<string, unknown> = { ...(o as Record<string, unknown>) };
        Object.defineProperty(copy, op.key, { value: op.v, enumerable: true, writable: true, configurable: true });
        return copy;
      });
    case 'nest':
      return replaceAt(v, op.path, () => nest(op.depth));
  }
}

/** Serialises like JSON.stringify but writes bigints as numbers (a seed may hold bigints). */
function stringify(v: unknown): string {
  const s = expandNesting(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x)));
  if (!s.includes('{"$bigint":')) return s;
  return s.replace(/\{"\$bigint":"(-?\d+)"\}/g, '$1');
}

/**
 * Text inputs from JSON seeds (given as JSON text): tree mutations, then maybe byte mutations
 * of the text, or random text / bytes.
 */
export function jsonFrom(seedTexts: readonly string[]): fc.Arbitrary<Uint8Array> {
  const parsed = seedTexts.map((t) => JSON.parse(t) as unknown);
  const seedBytes = seedTexts.map(utf8);
  const tree = fc.tuple(fc.nat(parsed.length - 1), fc.array(treeOpArb, { minLength: 1, maxLength: 3 })).map(([i, ops]) => {
    let v = parsed[i];
    for (const op of ops) v = applyTreeOp(v, op);
    return utf8(stringify(v));
  });
  return fc.oneof(
    { weight: 6, arbitrary: tree },
    { weight: 3, arbitrary: mutationsOf(seedBytes, 3) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v) ?? 'null')) },
    { weight: 1, arbitrary: randomBytes(128) },
  );
}

/** Decodes bytes as UTF-8 text the way a file or HTTP body would be read (invalid → U+FFFD). */
export function text(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}
