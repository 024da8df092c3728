import { canonicalJson, sha256Buffer, sha256Concat, sha256Hex } from './encoding.js';
import { BUCKETS, bucketOf, StateMap } from './state-map.js';
import type { ChainState, CrossReceipt, Outbox } from './types.js';

/**
 * The state root, updated per block in O(touched entries) hashing.
 *
 * Each map field of the state (TRIE_MAPS) is committed by a fixed-shape 16-ary Merkle tree of
 * depth 3 over 4096 buckets; a key lives in bucket `bucketOf(key)` = `fnv1a32(key) >>> 20`
 * (state-map.ts; a StateMap keeps its entries in the same buckets), a bucket holds its
 * leaves sorted by key:
 *   valueHash = SHA-256(canonical JSON of the entry); for an outbox only {confirmedUpTo,
 *               nextId}: its pending receipts are the leaves of one more tree, 'outbox.pending',
 *               keyed `${destination}#${id}` with value receiptHash (so a block hashes only the
 *               receipts it emits or confirms, not the whole pending queue)
 *   leaf      = u32be(len key) ‖ key ‖ valueHash
 *   bucket    = SHA-256(0x02 ‖ leaf ‖ leaf ‖ …)                 (no leaves: 32 zero bytes)
 *   inner     = SHA-256(0x01 ‖ child_0 ‖ … ‖ child_15)          (all children empty: zero)
 * The state root is SHA-256 of the canonical JSON of {type: 'topvpn/state/v2', fields}, where
 * fields holds every top-level field of the state: a map field as the hex root of its tree,
 * any other field (scalars, the beacon's unlocking list) as its value; plus 'outbox.pending'.
 *
 * The tree shape depends only on the set of (key, value) pairs, so a root updated
 * incrementally equals the root recomputed from scratch (test/unit/chain-state/commitment.test.ts).
 * Trees are persistent (a new block's tree shares unchanged buckets with its parent's).
 * Bucketing by FNV-1a is not collision resistant: keys ground into one bucket only make that
 * bucket slower to rehash, never change the root's meaning (leaves carry the full key).
 */
export const TRIE_MAPS = ['accounts', 'channels', 'outbox', 'inbox', 'nodes', 'votes', 'slashedEvidence'] as const;

const ZERO = Buffer.alloc(32);
const TAG_INNER = Buffer.from([1]);
const TAG_BUCKET = Buffer.from([2]);

interface Leaf {
  readonly key: string;
  /** leafBytes(key, valueHash) */
  readonly bytes: Buffer;
}
interface Bucket {
  /** Sorted by key (JS string order, as canonical JSON sorts keys). */
  readonly leaves: readonly Leaf[];
  readonly hash: Buffer;
}

/** Persistent Merkle tree of one map (never mutated after it is made). */
export interface MapTrie {
  readonly buckets: readonly (Bucket | undefined)[];
  /** 256 inner hashes (level 2), 16 (level 1), then the root. */
  readonly mid: readonly Buffer[];
  readonly top: readonly Buffer[];
  readonly root: Buffer;
  readonly size: number;
}

export interface StateCommitment {
  readonly tries: Readonly<Record<string, MapTrie>>;
  readonly root: string;
}

/** A leaf's bytes inside its bucket: u32be(len key) ‖ key ‖ valueHash. */
function leafBytes(key: string, valueHash: Buffer): Buffer {
  const klen = Buffer.byteLength(key, 'utf8');
  const b = Buffer.allocUnsafe(4 + klen + valueHash.length);
  b.writeUInt32BE(klen, 0);
  b.write(key, 4, 'utf8');
  valueHash.copy(b, 4 + klen);
  return b;
}

function innerHash(children: readonly Buffer[]): Buffer {
  for (const c of children) if (c !== ZERO) return sha256Concat([TAG_INNER, ...children]);
  return ZERO;
}

function makeBucket(leaves: Leaf[]): Bucket | undefined {
  if (leaves.length === 0) return undefined;
  leaves.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { leaves, hash: sha256Concat([TAG_BUCKET, ...leaves.map((l) => l.bytes)]) };
}

const bucketHash = (b: Bucket | undefined): Buffer => (b ? b.hash : ZERO);

/** Recomputes the inner levels above the given dirty buckets (all when `dirty` is undefined). */
function rebuild(buckets: readonly (Bucket | undefined)[], size: number, prev?: MapTrie, dirty?: ReadonlySet<number>): MapTrie {
  const mid = prev ? [...prev.mid] : new Array<Buffer>(256);
  const top = prev ? [...prev.top] : new Array<Buffer>(16);
  const midDirty = new Set<number>();
  if (dirty) for (const b of dirty) midDirty.add(b >>> 4);
  for (let m = 0; m < 256; m++) {
    if (dirty && !midDirty.has(m)) continue;
    const ch: Buffer[] = [];
    for (let i = 0; i < 16; i++) ch.push(bucketHash(buckets[m * 16 + i]));
    mid[m] = innerHash(ch);
  }
  const topDirty = new Set<number>([...midDirty].map((m) => m >>> 4));
  for (let t = 0; t < 16; t++) {
    if (dirty && !topDirty.has(t)) continue;
    top[t] = innerHash(mid.slice(t * 16, t * 16 + 16));
  }
  return { buckets, mid, top, root: innerHash(top), size };
}

/** Tree of a map from scratch. */
export function buildTrie(entries: Iterable<[string, Buffer]>): MapTrie {
  const groups = new Map<number, Leaf[]>();
  let size = 0;
  for (const [key, vh] of entries) {
    const b = bucketOf(key);
    let g = groups.get(b);
    if (!g) groups.set(b, (g = []));
    g.push({ key, bytes: leafBytes(key, vh) });
    size++;
  }
  const buckets = new Array<Bucket | undefined>(BUCKETS).fill(undefined);
  for (const [b, leaves] of groups) buckets[b] = makeBucket(leaves);
  return rebuild(buckets, size);
}

/** A new tree with `changes` applied (value hash = set, null = delete); `t` is unchanged. */
export function updateTrie(t: MapTrie, changes: ReadonlyMap<string, Buffer | null>): MapTrie {
  if (changes.size === 0) return t;
  const byBucket = new Map<number, Array<[string, Buffer | null]>>();
  for (const [k, v] of changes) {
    const b = bucketOf(k);
    let g = byBucket.get(b);
    if (!g) byBucket.set(b, (g = []));
    g.push([k, v]);
  }
  const buckets = [...t.buckets];
  let size = t.size;
  for (const [b, list] of byBucket) {
    const m = new Map<string, Leaf>();
    for (const l of buckets[b]?.leaves ?? []) m.set(l.key, l);
    for (const [k, v] of list) {
      const had = m.has(k);
      if (v === null) {
        if (had) {
          m.delete(k);
          size--;
        }
      } else {
        m.set(k, { key: k, bytes: leafBytes(k, v) });
        if (!had) size++;
      }
    }
    buckets[b] = makeBucket([...m.values()]);
  }
  return rebuild(buckets, size, t, new Set(byBucket.keys()));
}

/** Hex root of a map's tree (32 zero bytes for an empty map). */
export function trieRootHex(t: MapTrie): string {
  return t.root.toString('hex');
}

export type ReceiptHasher = (r: CrossReceipt) => string;

/** The tree holding every outbox's pending receipts, keyed `${destination}#${id}`. */
const PENDING = 'outbox.pending';

function valueHash(map: string, v: unknown): Buffer {
  // An outbox's pending receipts are leaves of the PENDING tree, not part of its value.
  const text = map === 'outbox' ? canonicalJson({ confirmedUpTo: (v as Outbox).confirmedUpTo, nextId: (v as Outbox).nextId }) : canonicalJson(v);
  return sha256Buffer(text);
}

function receiptLeafValue(r: CrossReceipt, receiptHash: ReceiptHasher): Buffer {
  return Buffer.from(receiptHash(r), 'hex');
}

function pendingEntries(outbox: Record<string, Outbox | undefined>, receiptHash: ReceiptHasher): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const dest of Object.keys(outbox)) for (const r of outbox[dest]?.pending ?? []) out.push([`${dest}#${r.id}`, receiptLeafValue(r, receiptHash)]);
  return out;
}

function increasing(list: readonly CrossReceipt[]): boolean {
  for (let i = 1; i < list.length; i++) if (!(list[i - 1]!.id < list[i]!.id)) return false;
  return true;
}

/** Changes to the PENDING tree between two versions of one outbox (receipts compared by identity). */
function pendingChanges(dest: string, before: Outbox | undefined, after: Outbox | undefined, receiptHash: ReceiptHasher, changes: Map<string, Buffer | null>): void {
  const a = before?.pending ?? [];
  const b = after?.pending ?? [];
  if (increasing(a) && increasing(b)) {
    // Both lists are in id order (always, for states made by applyBlock): one merge pass.
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      const x = a[i];
      const y = b[j];
      if (y === undefined || (x !== undefined && x.id < y.id)) {
        changes.set(`${dest}#${x!.id}`, null);
        i++;
      } else if (x === undefined || y.id < x.id) {
        changes.set(`${dest}#${y.id}`, receiptLeafValue(y, receiptHash));
        j++;
      } else {
        if (x !== y) changes.set(`${dest}#${y.id}`, receiptLeafValue(y, receiptHash));
        i++;
        j++;
      }
    }
    return;
  }
  const old = new Map<number, CrossReceipt>();
  for (const r of before?.pending ?? []) old.set(r.id, r);
  for (const r of after?.pending ?? []) {
    if (old.get(r.id) !== r) changes.set(`${dest}#${r.id}`, receiptLeafValue(r, receiptHash));
    old.delete(r.id);
  }
  for (const id of old.keys()) changes.set(`${dest}#${id}`, null);
}

function definedEntries(map: string, m: Record<string, unknown> | StateMap<unknown>): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  if (m instanceof StateMap) for (const [key, v] of m.entries()) out.push([key, valueHash(map, v)]);
  else for (const key of Object.keys(m)) if (m[key] !== undefined) out.push([key, valueHash(map, m[key])]);
  return out;
}

/** Changes between two versions of a StateMap field (StateMap.diff: the buckets they share are skipped). */
function stateMapChanges(map: string, base: StateMap<unknown>, next: StateMap<unknown>): Map<string, Buffer | null> {
  const changes = new Map<string, Buffer | null>();
  for (const [key, v] of StateMap.diff(base, next)) changes.set(key, v === undefined ? null : valueHash(map, v));
  return changes;
}

function isTrieMap(k: string): boolean {
  return (TRIE_MAPS as readonly string[]).includes(k);
}

function rootOf(s: ChainState, tries: Record<string, MapTrie>): string {
  const src = s as unknown as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(src)) fields[k] = isTrieMap(k) ? trieRootHex(tries[k]!) : src[k];
  if (tries[PENDING]) fields[PENDING] = trieRootHex(tries[PENDING]);
  return sha256Hex(canonicalJson({ type: 'topvpn/state/v2', fields }));
}

/** Commitment of a state from scratch (hashes every entry). */
export function fullCommitment(s: ChainState, receiptHash: ReceiptHasher): StateCommitment {
  const src = s as unknown as Record<string, unknown>;
  const tries: Record<string, MapTrie> = {};
  for (const k of Object.keys(src)) {
    if (!isTrieMap(k)) continue;
    const m = (src[k] ?? {}) as Record<string, unknown> | StateMap<unknown>;
    tries[k] = buildTrie(definedEntries(k, m));
    if (k === 'outbox') tries[PENDING] = buildTrie(pendingEntries(m as Record<string, Outbox>, receiptHash));
  }
  return { tries, root: rootOf(s, tries) };
}

/**
 * Commitment of `next` from the commitment of `base`, where `next` was made from `base` by a
 * copy-on-write draft (draft.ts): an entry of `next` that is the same object (or the same
 * primitive) as `base`'s under the same key is unchanged and is not rehashed. For the
 * StateMap fields only the buckets the draft wrote are looked at (StateMap.diff), not every entry.
 */
export function nextCommitment(base: ChainState, baseC: StateCommitment, next: ChainState, receiptHash: ReceiptHasher): StateCommitment {
  const b = base as unknown as Record<string, unknown>;
  const n = next as unknown as Record<string, unknown>;
  const tries: Record<string, MapTrie> = {};
  for (const k of Object.keys(n)) {
    if (!isTrieMap(k)) continue;
    const prev = baseC.tries[k];
    if (n[k] instanceof StateMap) {
      tries[k] = prev && b[k] instanceof StateMap ? updateTrie(prev, stateMapChanges(k, b[k], n[k])) : buildTrie(definedEntries(k, n[k]));
      continue;
    }
    const nm = (n[k] ?? {}) as Record<string, unknown>;
    const bm = (b[k] ?? {}) as Record<string, unknown>;
    const prevPending = baseC.tries[PENDING];
    if (!prev || (k === 'outbox' && !prevPending)) {
      tries[k] = buildTrie(definedEntries(k, nm));
      if (k === 'outbox') tries[PENDING] = buildTrie(pendingEntries(nm as Record<string, Outbox>, receiptHash));
      continue;
    }
    if (nm === bm) {
      tries[k] = prev;
      if (k === 'outbox') tries[PENDING] = prevPending!;
      continue;
    }
    const pending = new Map<string, Buffer | null>();
    const changes = new Map<string, Buffer | null>();
    const at = (m: Record<string, unknown>, key: string): unknown => (Object.hasOwn(m, key) ? m[key] : undefined);
    let present = 0;
    let added = 0;
    for (const key of Object.keys(nm)) {
      const v = nm[key];
      if (v === undefined) continue; // canonical JSON omits undefined members
      present++;
      const old = at(bm, key);
      if (old === undefined) added++;
      if (v !== old) {
        changes.set(key, valueHash(k, v));
        if (k === 'outbox') pendingChanges(key, old as Outbox | undefined, v as Outbox, receiptHash, pending);
      }
    }
    if (present !== prev.size + added) {
      for (const key of Object.keys(bm)) {
        if (bm[key] === undefined || at(nm, key) !== undefined) continue;
        changes.set(key, null);
        if (k === 'outbox') pendingChanges(key, bm[key] as Outbox, undefined, receiptHash, pending);
      }
    }
    if (k === 'outbox') tries[PENDING] = updateTrie(prevPending!, pending);
    tries[k] = updateTrie(prev, changes);
  }
  return { tries, root: rootOf(next, tries) };
}
