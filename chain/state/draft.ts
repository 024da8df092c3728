import type { Account, Channel, ChainState, Outbox } from './types.js';

/**
 * Copy-on-write drafts: structural sharing between a state and the state a block makes of it.
 *
 * `beginDraft(s)` returns a new state whose maps are shallow copies of `s`'s (pointer copies,
 * no entry is cloned): the entries (accounts, channels, outboxes) are shared with `s` until a
 * rule writes one, and every write goes through `touchAccount` / `touchChannel` /
 * `touchOutbox` (ledger.ts), which copy the entry into the draft the first time it is
 * written. So `s` is never changed, and the entries that differ between `s` and the draft are
 * exactly the ones written (the incremental state root relies on this, see commitment.ts).
 * Maps without per-entry copy-on-write (the beacon's nodes, votes, unlocking, and any field
 * not listed in COW_MAPS) are deep-copied: they are small and beacon-only.
 *
 * Contract for callers: a state returned by applyBlock/applyTx is a value. Never mutate it
 * (it shares entries with its parent); make a draft or a deep copy instead.
 */
export const COW_MAPS = ['accounts', 'channels', 'outbox', 'inbox', 'slashedEvidence'] as const;
type CowMap = (typeof COW_MAPS)[number];

/** Entries this draft owns (may write in place). States that are not drafts are written in place. */
const owned = new WeakMap<ChainState, WeakSet<object>>();

export function beginDraft(s: ChainState): ChainState {
  const d = {} as Record<string, unknown>;
  const src = s as unknown as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    const v = src[k];
    if ((COW_MAPS as readonly string[]).includes(k)) d[k] = { ...(v as Record<string, unknown>) };
    else d[k] = typeof v === 'object' && v !== null ? structuredClone(v) : v;
  }
  const draft = d as unknown as ChainState;
  owned.set(draft, new WeakSet());
  return draft;
}

/** Ends a draft: it becomes a plain state (later writes to it would go in place). */
export function endDraft(s: ChainState): void {
  owned.delete(s);
}

/** Whether `s` is a copy-on-write draft (made by beginDraft). */
export function isDraft(s: ChainState): boolean {
  return owned.has(s);
}

/**
 * The entry `key` of `state[map]`, made writable: in a draft, an entry still shared with the
 * parent is replaced by `copy(entry)` first. Undefined if absent.
 */
function writable<T extends object>(state: ChainState, map: CowMap, key: string, copy: (t: T) => T): T | undefined {
  const m = state[map] as unknown as Record<string, T>;
  const cur = m[key];
  if (cur === undefined) return undefined;
  const own = owned.get(state);
  if (!own || own.has(cur)) return cur;
  const c = copy(cur);
  m[key] = c;
  own.add(c);
  return c;
}

/** Inserts a new entry the draft owns. */
function insert<T extends object>(state: ChainState, map: CowMap, key: string, value: T): T {
  (state[map] as unknown as Record<string, T>)[key] = value;
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
