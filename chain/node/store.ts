/**
 * Key-value persistence seam. Values are any wire-encodable value, stored packed (wire.ts
 * packValue: bytes raw, not hex; values written as wire JSON text by older nodes still read).
 * `batch` is atomic: after a crash either every op of a batch is visible or none is.
 * Key layout used by the node (per chain c, heights zero-padded to 12 digits):
 *   blk/<c>/<h>  committed block record {block, qc, audit?}
 *   st/<c>       the state snapshot {height, state, records}: the state without its accounts
 *                and channels, which are the sm/ records (state-snapshot.ts)
 *   cs/<c>       consensus safety state (last voted view etc., and the certified uncommitted
 *                blocks its highest QC stands on: SafetyState.certified)
 *   tx/<hash>    {chain, height, index}: where the tx took effect (its result is in the block
 *                record's `results`; entries written by older nodes also carry `result`)
 *   sm/<c>/<field>/<key>  one entry of the state's accounts or channels as of the snapshot in
 *                st/<c>
 */
import { ClassicLevel } from 'classic-level';
import { packValue, unpackValue } from './wire.js';

export type BatchOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };

/**
 * A value already in its stored form (wire JSON text or packValue bytes), written as is: for
 * small records written many times per block, built without packValue's walk (tx index entries).
 * The store keeps the bytes: the caller does not modify them after the put.
 */
export class EncodedValue {
  constructor(readonly bytes: Uint8Array) {}
}

function encodeValue(v: unknown): Uint8Array {
  return v instanceof EncodedValue ? v.bytes : packValue(v);
}

export interface KvStore {
  open(): Promise<void>;
  close(): Promise<void>;
  get<T = unknown>(key: string): Promise<T | undefined>;
  batch(ops: BatchOp[]): Promise<void>;
  /** Every [key, value] whose key starts with `prefix`, in key order (UTF-8 byte order). */
  entries<T = unknown>(prefix: string): AsyncIterable<[string, T]>;
}

export function heightKey(prefix: string, chain: string, height: number): string {
  return `${prefix}/${chain}/${String(height).padStart(12, '0')}`;
}

export class LevelStore implements KvStore {
  private readonly db: ClassicLevel<string, Uint8Array>;
  constructor(readonly location: string) {
    this.db = new ClassicLevel<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' });
  }
  async open(): Promise<void> {
    await this.db.open();
  }
  async close(): Promise<void> {
    await this.db.close();
  }
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const v = await this.db.get(key);
    return v === undefined ? undefined : unpackValue<T>(v);
  }
  /**
   * One chained batch (each op handed to LevelDB's WriteBatch as it comes, written atomically
   * by `write`): for a block's few hundred ops it measured ≈ 1.2 µs per op less main-thread time
   * than the array form, which copies every op into a new object first.
   */
  async batch(ops: BatchOp[]): Promise<void> {
    const b = this.db.batch();
    try {
      for (const o of ops) {
        if (o.type === 'put') b.put(o.key, encodeValue(o.value));
        else b.del(o.key);
      }
    } catch (e) {
      await b.close();
      throw e;
    }
    await b.write();
  }
  async *entries<T = unknown>(prefix: string): AsyncIterable<[string, T]> {
    // Every key starting with prefix sorts at or after it and before prefix with its last
    // character incremented (the node's prefixes end in '/').
    const last = prefix.charCodeAt(prefix.length - 1);
    if (!(last < 0x7f)) throw new RangeError('entries: the prefix must end in an ASCII character');
    const end = prefix.slice(0, -1) + String.fromCharCode(last + 1);
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: end })) yield [k, unpackValue<T>(v)];
  }
}

/** In-memory store for unit tests; values are stored encoded so callers never share objects. */
export class MemoryStore implements KvStore {
  readonly data = new Map<string, Uint8Array>();
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async get<T = unknown>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : unpackValue<T>(v);
  }
  async batch(ops: BatchOp[]): Promise<void> {
    for (const o of ops) {
      if (o.type === 'put') this.data.set(o.key, encodeValue(o.value));
      else this.data.delete(o.key);
    }
  }
  async *entries<T = unknown>(prefix: string): AsyncIterable<[string, T]> {
    const keys = [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const k of keys) {
      const v = this.data.get(k);
      if (v !== undefined) yield [k, unpackValue<T>(v)];
    }
  }
}
