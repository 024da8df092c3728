/**
 * The tx index: `tx/<hash>` → where the tx took effect, {chain, height, index} (its position
 * among the block's txs). Written with every committed block, one entry per tx, by every node,
 * so it holds the location only: the tx's result is read from the block record's `results`
 * when asked for. Entries written by older nodes also carry `result`; readers take it from there.
 */
import type { ItemResult } from '../state/types.js';
import type { BlockRecord } from './payload.js';
import { EncodedValue, heightKey, type KvStore } from './store.js';

export interface TxLocation {
  readonly chain: string;
  readonly height: number;
  /** Position among the block's txs. */
  readonly index: number;
  /** Present only in entries written by older nodes. */
  readonly result?: ItemResult;
}

export function txIndexKey(hash: string): string {
  return `tx/${hash}`;
}

/**
 * The stored form of a location: wire JSON text (what unpackValue reads), built directly.
 * A block writes hundreds of these; packValue's generic walk measured ≈ 4× slower on them.
 */
export function txLocationValue(chain: string, height: number, index: number): EncodedValue {
  return new EncodedValue(Buffer.from(`{"chain":${JSON.stringify(chain)},"height":${height},"index":${index}}`, 'utf8'));
}

/** The location and result of tx `hash`, or undefined if it is not indexed (or its block is gone). */
export async function indexedTx(store: KvStore, hash: string): Promise<{ loc: TxLocation; result: ItemResult | undefined } | undefined> {
  const loc = await store.get<TxLocation>(txIndexKey(hash));
  if (!loc) return undefined;
  if (loc.result) return { loc, result: loc.result };
  const rec = await store.get<BlockRecord>(heightKey('blk', loc.chain, loc.height));
  // A block's results are its confirms', its receipts', then its txs' in order: one per item.
  const result = rec?.results.filter((r) => r.kind === 'tx')[loc.index];
  return { loc, result: result?.id === hash ? result : undefined };
}
