import type { Account, Channel, ChainState, Outbox } from './types.js';
import { StateMap } from './state-map.js';

/**
 * Copy-on-write drafts: structural sharing between a state and the state a block makes of it.
 *
 * `beginDraft(s)` returns a new state that shares every entry (account, channel, outbox) with
 * `s` until a rule writes one:
 *  - the large maps (STATE_MAPS: accounts, channels) are StateMaps (state-map.ts): the draft's
 *    map is begun from `s`'s in O(1) entries (StateMap.diff later finds what it changed);
 *  - the small maps (COW_MAPS: outbox, inbox, slashedEvidence; keyed by chain or by evidence)
 *    are shallow copies of `s`'s;
 *  - every write to an entry goes through `touchAccount` / `touchChannel` / `touchOutbox`
 *    (ledger.ts), which copy the entry into the draft the first time it is written.
 * So `s` is never changed, and the entries that differ between `s` and the draft are exactly
 * the ones written (the incremental state root relies on this, see commitment.ts). The
 * beacon's nodes, votes and unlocking, and any other object field, are deep-copied: they are
 * beacon-only.
 *
 * Contract for callers: a state returned by applyBlock/applyTx is a value. Never mutate it
 * (it shares entries with its parent; its StateMaps are frozen and throw on writes); make a
 * draft or a deep copy (cloneState) instead.
 */
export const STATE_MAPS = ['accounts', 'channels'] as const;
export const COW_MAPS = ['outbox', 'inbox', 'slashedEvidence'] as const;
type EntryMap = 'accounts' | 'channels' | 'outbox';

/** Entries this draft owns (may write in place). A state that is not a draft is written in place, except its StateMaps, which are frozen. */
const owned = new WeakMap<ChainState, WeakSet<object>>();

export function beginDraft(s: ChainState): ChainState {
  const d = {} as Record<string, unknown>;
  const src = s as unknown as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    const v = src[k];
    if (v instanceof StateMap) d[k] = v.beginWrite();
    else if ((COW_MAPS as readonly string[]).includes(k)) d[k] = { ...(v as Record<string, unknown>) };
    else d[k] = typeof v === 'object' && v !== null ? structuredClone(v) : v;
  }
  const draft = d as unknown as ChainState;
  owned.set(draft, new WeakSet());
  return draft;
}

/** Ends a draft: it becomes a plain state, its StateMaps frozen (later writes to its small maps would go in place). */
export function endDraft(s: ChainState): void {
  for (const k of STATE_MAPS) s[k].endWrite();
  owned.delete(s);
}

/** Whether `s` is a copy-on-write draft (made by beginDraft). */
export function isDraft(s: ChainState): boolean {
  return owned.has(s);
}

function read<T>(state: ChainState, map: EntryMap, key: string): T | undefined {
  const m = state[map];
  return (m instanceof StateMap ? m.get(key) : (m as Record<string, unknown>)[key]) as T | undefined;
}

function write<T>(state: ChainState, map: EntryMap, key: string, value: T): void {
  const m = state[map];
  if (m instanceof StateMap) (m as StateMap<T>).set(key, value);
  else (m as Record<string, unknown>)[key] = value;
}

/**
 * The entry `key` of `state[map]`, made writable: in a draft, an entry still shared with the
 * parent is replaced by `copy(entry)` first. Undefined if absent.
 */
function writable<T extends object>(state: ChainState, map: EntryMap, key: string, copy: (t: T) => T): T | undefined {
  const cur = read<T>(state, map, key);
  if (cur === undefined) return undefined;
  const own = owned.get(state);
  if (!own || own.has(cur)) return cur;
  const c = copy(cur);
  write(state, map, key, c);
  own.add(c);
  return c;
}

/** Inserts a new entry the draft owns. */
function insert<T extends object>(state: ChainState, map: EntryMap, key: string, value: T): T {
  write(state, map, key, value);
  owned.get(state)?.add(value);
  return value;
}

export function writableAccount(state: ChainState, address: string): Account | undefined {
  return writable<Account>(state, 'accounts', address, (a) => ({ balance: a.balance, nonce: a.nonce, resource: { ...a.resource } }));
}

export function insertAccount(state: ChainState, address: string, a: Account): Account {
  return insert(state, 'accounts', address, a);
}

export function writableChannel(state: ChainState, id: string): Channel | undefined {
  return writable<Channel>(state, 'channels', id, (c) => ({ ...c }));
}

export function insertChannel(state: ChainState, id: string, c: Channel): Channel {
  return insert(state, 'channels', id, c);
}

export function writableOutbox(state: ChainState, dest: string): Outbox | undefined {
  return writable<Outbox>(state, 'outbox', dest, (b) => ({ nextId: b.nextId, confirmedUpTo: b.confirmedUpTo, pending: [...b.pending] }));
}

export function insertOutbox(state: ChainState, dest: string, b: Outbox): Outbox {
  return insert(state, 'outbox', dest, b);
}
