/**
 * Store layout of one chain's committed blocks (classic-level via store.ts):
 * - `blk/<chain>/<height>`: the BlockRecord, written atomically with its tx index entries
 *   (`tx/<hash>`, tx-index.ts), the host's extra records (the beacon's election `ep/<k>`), every
 *   `snapshotEvery` blocks the state snapshot (`st/<chain>` and the records of the entries
 *   changed since the last one, state-snapshot.ts), and for chains without auditors the final
 *   height (`fin/<chain>`);
 * - on load, the snapshot is read and the blocks stored after it are replayed (each must
 *   replay to its stored state root); extra records lost with a crash are rebuilt.
 */
import type { Block } from '../consensus/types.js';
import { applyBlock } from '../state/apply.js';
import type { BlockResult, ChainState } from '../state/types.js';
import { decodePayload, type BlockRecord, type PayloadV1 } from './payload.js';
import { heightKey, type BatchOp } from './store.js';
import { hashOf, type RuntimeHost } from './runtime-types.js';
import { indexedTx, txIndexKey, txLocationValue } from './tx-index.js';
import { loadSnapshot, snapshotOps, type StoredMaps } from './state-snapshot.js';
import type { ChainRuntime } from './chain-runtime.js';

export class StoreReplayError extends Error {
  override name = 'StoreReplayError';
}

/**
 * Committed state after the snapshot and the stored blocks above it, the tip's record, and the
 * maps the snapshot's records hold (undefined: none yet). `onState` sees the state after the
 * snapshot and after each replayed block (before the host's extra records of that block are
 * rebuilt).
 */
export async function replayStored(
  host: RuntimeHost,
  rt: ChainRuntime,
  chain: string,
  initial: ChainState,
  onState: (s: ChainState) => void,
): Promise<{ state: ChainState; tip?: BlockRecord; stored: StoredMaps | undefined }> {
  const snap = await loadSnapshot(host.store, chain);
  let state = snap ? snap.state : initial;
  onState(state);
  for (let h = state.height + 1; ; h++) {
    const rec = await host.store.get<BlockRecord>(heightKey('blk', chain, h));
    if (!rec) break;
    const payload = decodePayload(rec.block.payload);
    const res = applyBlock(state, payload.body, host.params);
    if (res.stateRoot !== payload.stateRoot) throw new StoreReplayError(`${chain}: stored block ${h} does not replay to its state root`);
    state = res.state;
    onState(state);
    // Records written with the block (elections) are rebuilt if the write was lost.
    const extra = host.commitOps?.(rt, rec.block, res.state) ?? [];
    if (extra.length > 0) await host.store.batch(extra);
  }
  const h = state.height;
  const stored = snap?.stored;
  if (h === 0) return { state, stored };
  const tip = await host.store.get<BlockRecord>(heightKey('blk', chain, h));
  if (!tip) throw new StoreReplayError(`${chain}: block ${h} missing from store`);
  return { state, tip, stored };
}

export interface CommitWrite {
  block: Block;
  rec: BlockRecord;
  payload: PayloadV1;
  result: BlockResult;
  /** Also store the state snapshot: `stored` = the maps the records hold now. */
  snapshot: false | { readonly stored: StoredMaps | undefined };
  /** The block's height has no auditors: it is final on commit. */
  finalOnCommit: boolean;
}

/** The atomic batch that commits a block (see the file comment). */
export async function commitBatch(host: RuntimeHost, rt: ChainRuntime, chain: string, w: CommitWrite): Promise<BatchOp[]> {
  const { block, payload, result } = w;
  const ops: BatchOp[] = [{ type: 'put', key: heightKey('blk', chain, block.height), value: w.rec }];
  for (let i = 0; i < payload.body.txs.length; i++) {
    const stx = payload.body.txs[i]!;
    const r = result.results[payload.body.confirms.length + payload.body.receipts.length + i];
    const hash = hashOf(stx);
    // A tx re-included after it was applied (e.g. a nonce-free claim gossiped again) is
    // `invalid` there and changes nothing: the index keeps pointing at where it took effect.
    if (r?.status === 'invalid') {
      const prev = await indexedTx(host.store, hash);
      if (prev && prev.loc.height < block.height && prev.result?.status !== 'invalid') continue;
    }
    ops.push({ type: 'put', key: txIndexKey(hash), value: txLocationValue(chain, block.height, i) });
  }
  if (w.snapshot) ops.push(...snapshotOps(chain, result.state, w.snapshot.stored));
  if (w.finalOnCommit) ops.push({ type: 'put', key: `fin/${chain}`, value: { height: block.height } });
  ops.push(...(host.commitOps?.(rt, block, result.state) ?? []));
  return ops;
}
