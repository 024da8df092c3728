/**
 * StateMap: the persistent string-keyed map that holds a chain's accounts and channels, so a
 * block costs O(entries it writes), not O(entries the chain holds).
 *
 * Shape: BUCKETS (4096) buckets chosen by `bucketOf(key)` (FNV-1a, the state commitment's
 * bucketing, commitment.ts), each an ordinary Map. A map made from another by `beginWrite`
 * shares every bucket with it and copies a bucket (O(its entries) ≈ size / 4096) the first time
 * it writes to it; beginning one copies the 4096-slot bucket array. Reads are one FNV hash of the
 * key plus a Map lookup.
 *
 * Lifecycle: a map is either *writable* (made by `beginWrite`, until `endWrite`) or *frozen*
 * (every other). `set`/`delete` on a frozen map throw StateMapFrozenError: a state is a value
 * (draft.ts), and writes go through a draft. What changed between two versions is
 * `StateMap.diff`, which skips the buckets they share: the incremental state root
 * (commitment.ts) and the stored snapshot (chain/node/state-snapshot.ts) both use it.
 *
 * Equality: `buckets` and `size` are the only enumerable fields, and the bucket of a key does
 * not depend on history, so node:assert's deepStrictEqual compares two maps by content.
 * Iteration order is unspecified (bucket order, then insertion order within a bucket): callers
 * that need an order sort. Bucketing by FNV-1a is not collision resistant: keys ground into one
 * bucket make writes to that bucket copy more, never change what the map holds.
 */
export const BUCKETS = 4096;

export class StateMapFrozenError extends Error {
  override name = 'StateMapFrozenError';
}

/** Bucket of a key: the top 12 bits of its FNV-1a 32-bit hash (over UTF-16 code units). */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 20) & (BUCKETS - 1);
}

export class StateMap<V> implements ReadonlyMap<string, V> {
  /** BUCKETS slots; a bucket is shared between maps until one of them writes to it. */
  readonly buckets: Array<Map<string, V> | undefined>;
  size: number;
  /** While writable: the buckets this map copied (it may write them in place). A private field, not a property: equality sees buckets and size only. */
  #owned: Set<number> | undefined;

  private constructor(buckets: Array<Map<string, V> | undefined>, size: number) {
    this.buckets = buckets;
    this.size = size;
  }

  static empty<V>(): StateMap<V> {
    return new StateMap<V>(new Array<Map<string, V> | undefined>(BUCKETS).fill(undefined), 0);
  }

  /** A frozen map of the entries (later entries win; undefined values are skipped, as canonical JSON skips them). */
  static fromEntries<V>(entries: Iterable<readonly [string, V | undefined]>): StateMap<V> {
    const m = StateMap.empty<V>().beginWrite();
    for (const [k, v] of entries) if (v !== undefined) m.set(k, v);
    m.endWrite();
    return m;
  }

  /** A frozen map of a plain object's own members (a state read from JSON). */
  static fromRecord<V>(r: Readonly<Record<string, V | undefined>>): StateMap<V> {
    return StateMap.fromEntries(Object.entries(r));
  }

  /** A map that shares every entry with `from` (StateMap), or holds a plain object's members. */
  static of<V>(from: StateMap<V> | Readonly<Record<string, V | undefined>> | undefined): StateMap<V> {
    if (from instanceof StateMap) return from;
    return from === undefined ? StateMap.empty<V>() : StateMap.fromRecord(from);
  }

  get(key: string): V | undefined {
    return this.buckets[bucketOf(key)]?.get(key);
  }

  has(key: string): boolean {
    return this.buckets[bucketOf(key)]?.has(key) ?? false;
  }

  /** A writable map holding what this one holds (this one is unchanged by its writes). */
  beginWrite(): StateMap<V> {
    const m = new StateMap<V>([...this.buckets], this.size);
    m.#owned = new Set();
    return m;
  }

  /** Freezes a writable map. */
  endWrite(): void {
    this.#owned = undefined;
  }

  get writable(): boolean {
    return this.#owned !== undefined;
  }

  set(key: string, value: V): this {
    const b = this.ownBucket(key, true)!;
    const had = b.has(key);
    b.set(key, value);
    if (!had) this.size++;
    return this;
  }

  delete(key: string): boolean {
    const b = this.ownBucket(key, false);
    if (!b?.delete(key)) return false;
    this.size--;
    if (b.size === 0) {
      // An empty bucket is no bucket, so equal contents mean equal buckets.
      const i = bucketOf(key);
      this.buckets[i] = undefined;
      this.#owned!.delete(i);
    }
    return true;
  }

  /** The key's bucket, copied first if still shared; created if missing and `create`. */
  private ownBucket(key: string, create: boolean): Map<string, V> | undefined {
    const owned = this.#owned;
    if (owned === undefined) throw new StateMapFrozenError('this state map is frozen: write through a draft (draft.ts)');
    const i = bucketOf(key);
    let b = this.buckets[i];
    if (owned.has(i)) return b;
    if (b === undefined && !create) return undefined;
    b = new Map(b);
    this.buckets[i] = b;
    owned.add(i);
    return b;
  }

  *entries(): MapIterator<[string, V]> {
    for (const b of this.buckets) if (b !== undefined) yield* b.entries();
  }

  *keys(): MapIterator<string> {
    for (const b of this.buckets) if (b !== undefined) yield* b.keys();
  }

  *values(): MapIterator<V> {
    for (const b of this.buckets) if (b !== undefined) yield* b.values();
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(f: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) f(v, k, this);
  }

  /** A plain object with the entries, in iteration order (JSON.stringify prints this; canonicalJson sorts its keys). */
  toJSON(): Record<string, V> {
    const out: Record<string, V> = {};
    for (const [k, v] of this.entries()) out[k] = v;
    return out;
  }

  /**
   * What changed from `base` to `next`: [key, value] for every entry added or replaced (a
   * different object), [key, undefined] for every entry removed. Buckets the two maps share are
   * skipped, so for versions of one another it costs O(BUCKETS + entries of the buckets either
   * wrote), whatever the number of versions between them.
   */
  static *diff<V>(base: StateMap<V>, next: StateMap<V>): Generator<[string, V | undefined]> {
    for (let i = 0; i < BUCKETS; i++) {
      const a = base.buckets[i];
      const b = next.buckets[i];
      if (a === b) continue;
      if (b !== undefined) for (const [k, v] of b) if (a?.get(k) !== v) yield [k, v];
      if (a !== undefined) for (const k of a.keys()) if (!b?.has(k)) yield [k, undefined];
    }
  }

  /** A deep copy (entries cloned with structuredClone), frozen. */
  clone(): StateMap<V> {
    return new StateMap<V>(
      this.buckets.map((b) => (b === undefined ? undefined : structuredClone(b))),
      this.size,
    );
  }
}
