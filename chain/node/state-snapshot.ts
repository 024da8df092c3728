/**
 * The state snapshot of one chain in the store, written in O(entries changed since the last
 * snapshot) rather than O(state):
 * - `st/<chain>`: {height, state, records: true}, the state without its StateMaps (accounts,
 *   channels): scalars, outboxes, inbox, and the beacon's registry;
 * - `sm/<chain>/<field>/<key>`: one record per entry of those StateMaps, as of the same height.
 *   A snapshot writes only the entries that differ from the previous snapshot's maps
 *   (StateMap.diff: buckets the two versions share are skipped), deleting removed ones.
 * Both go in one atomic batch (with the block that triggers them), so the records and `st/` always
 * describe the same height. A snapshot from before the records (its state holds the maps) is
 * still read; the next snapshot then writes every entry.
 */
import { stateFromJson, type ChainStateJson } from '../state/codec.js';
import { StateMap } from '../state/state-map.js';
import type { Account, ChainState, Channel } from '../state/types.js';
import type { BatchOp, KvStore } from './store.js';

/** The StateMap fields of a state, which the snapshot stores as records. */
export const RECORD_FIELDS = ['accounts', 'channels'] as const;
type RecordField = (typeof RECORD_FIELDS)[number];

/** The maps the store's records hold (those of the last snapshot written or read). */
export interface StoredMaps {
  readonly accounts: StateMap<Account>;
  readonly channels: StateMap<Channel>;
}

/** What `st/<chain>` holds. */
interface StoredSnapshot {
  height: number;
  /** Without accounts/channels when `records`; with them (older nodes) otherwise. */
  state: ChainStateJson | Omit<ChainStateJson, RecordField>;
  records?: true;
}

export function snapshotKey(chain: string): string {
  return `st/${chain}`;
}

function recordPrefix(chain: string, field: RecordField): string {
  return `sm/${chain}/${field}/`;
}

/** The maps of a state, as the records will hold them once its snapshot is written. */
export function mapsOf(state: ChainState): StoredMaps {
  return { accounts: state.accounts, channels: state.channels };
}

/**
 * The ops that store `state`'s snapshot, given the maps the records hold now (undefined: no
 * records yet, every entry is written).
 */
export function snapshotOps(chain: string, state: ChainState, stored: StoredMaps | undefined): BatchOp[] {
  const { accounts, channels, ...rest } = state;
  const ops: BatchOp[] = [];
  const now: StoredMaps = { accounts, channels };
  for (const field of RECORD_FIELDS) {
    const before: StateMap<unknown> = stored?.[field] ?? StateMap.empty();
    const prefix = recordPrefix(chain, field);
    for (const [key, value] of StateMap.diff(before, now[field] as StateMap<unknown>)) {
      ops.push(value === undefined ? { type: 'del', key: prefix + key } : { type: 'put', key: prefix + key, value });
    }
  }
  const snap: StoredSnapshot = { height: state.height, state: rest, records: true };
  ops.push({ type: 'put', key: snapshotKey(chain), value: snap });
  return ops;
}

/** The stored snapshot's state and the maps its records hold, or undefined if there is none. */
export async function loadSnapshot(store: KvStore, chain: string): Promise<{ state: ChainState; stored: StoredMaps | undefined } | undefined> {
  const snap = await store.get<StoredSnapshot>(snapshotKey(chain));
  if (!snap) return undefined;
  if (!snap.records) return { state: stateFromJson(snap.state as ChainStateJson), stored: undefined };
  const read = async <V>(field: RecordField): Promise<StateMap<V>> => {
    const prefix = recordPrefix(chain, field);
    const entries: Array<[string, V]> = [];
    for await (const [k, v] of store.entries<V>(prefix)) entries.push([k.slice(prefix.length), v]);
    return StateMap.fromEntries(entries);
  };
  const stored: StoredMaps = { accounts: await read<Account>('accounts'), channels: await read<Channel>('channels') };
  return { state: { ...(snap.state as Omit<ChainState, RecordField>), ...stored }, stored };
}
