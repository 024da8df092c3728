import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReceiptSource, STORED_RECORDS_KEPT, STORE_READ_AHEAD, type ReceiptSourceContext } from '../../../chain/node/receipt-source.js';
import { encodePayload, type BlockRecord } from '../../../chain/node/payload.js';
import { genesisBlock } from '../../../chain/consensus/certificate.js';
import { sha256Hex } from '../../../chain/consensus/encoding.js';
import { merkleRoot } from '../../../chain/state/merkle.js';
import { receiptHash } from '../../../chain/state/receipts.js';
import { emptyState } from '../../../chain/state/genesis.js';
import { makeParams, type ChainState, type CrossReceipt } from '../../../chain/state/index.js';

const ZERO = '00'.repeat(32);

function receipt(id: number, sourceHeight: number): CrossReceipt {
  return { source: 'shard-0', destination: 'shard-1', id, sourceHeight, amount: BigInt(id), payload: { kind: 'credit', to: 'ab'.repeat(32), memo: 'transfer' } };
}

/** A final block record at `height` sending `outgoing`, committed to by its payload's receiptsRoot. */
function record(height: number, outgoing: CrossReceipt[]): BlockRecord {
  const payload = encodePayload({ v: 1, stateRoot: ZERO, receiptsRoot: merkleRoot(outgoing.map(receiptHash)), body: { chain: 'shard-0', height, txs: [], receipts: [], confirms: [] }, refs: [] });
  const g = genesisBlock({ chainId: 't', chain: 'shard-0' }, 'g');
  const block = { ...g, height, view: height, payload, payloadHash: sha256Hex(payload), hash: sha256Hex(`block ${height}`) };
  return { block, qc: g.justify, outgoing, results: [], inbox: {}, committedAt: 0 };
}

/** Records at heights 1..n (receipt id h at height h), all final; memory holds `inMemory` only. */
function setup(inMemory: (h: number) => boolean, failReads = 0, n = 20): { src: ReceiptSource; reads: number[]; errors: number[] } {
  const recs = new Map<number, BlockRecord>();
  for (let h = 1; h <= n; h++) recs.set(h, record(h, [receipt(h, h)]));
  const state: ChainState = emptyState(makeParams({ shardCount: 2 }), 'shard-0');
  state.outbox['shard-1'] = { nextId: n + 1, confirmedUpTo: 0, pending: [...recs.values()].map((r) => r.outgoing[0]!) };
  const reads: number[] = [];
  const errors: number[] = [];
  let failures = failReads;
  const ctx: ReceiptSourceContext = {
    chain: 'shard-0',
    finalHeight: () => n,
    state: () => state,
    recent: (h) => (inMemory(h) ? recs.get(h) : undefined),
    stored: async (h) => {
      reads.push(h);
      if (failures-- > 0) throw new Error('disk on fire');
      return recs.get(h);
    },
    onReadError: (h) => errors.push(h),
  };
  return { src: new ReceiptSource(ctx), reads, errors };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('receipt source: final blocks not in memory are read from the store; the call that misses waits, a later one proceeds', async () => {
  const { src, reads } = setup((h) => h > 10);
  // Offering receipts 3.. to the destination stops at the first one whose block is not in
  // memory, and reads the blocks of the backlog not in memory (3..10).
  assert.deepEqual(src.finalFor('shard-1', 3, 5), []);
  const backlog = [3, 4, 5, 6, 7, 8, 9, 10];
  assert.deepEqual(reads, backlog);
  assert.deepEqual(src.finalFor('shard-1', 3, 5), [], 'one read per height at a time');
  assert.deepEqual(reads, backlog);
  await tick();
  const out = src.finalFor('shard-1', 3, 5);
  assert.deepEqual(out.map((x) => x.receipt.id), [3, 4, 5, 6, 7]);
  assert.deepEqual(src.finalFor('shard-1', 3, 18).map((x) => x.receipt.id), [...Array(18).keys()].map((k) => k + 3));
  assert.deepEqual(reads, backlog, 'held now');
  // The destination's check of the same references.
  for (const x of out) assert.equal(src.checkRef(x.receipt, x.ref), null);
  const ref = out[0]!.ref;
  assert.equal(src.checkRef(receipt(99, 3), ref), 'receipt ref: bad Merkle proof');
  assert.equal(src.checkRef(out[0]!.receipt, { ...ref, blockHash: ZERO }), 'receipt ref: block hash mismatch');
  // A destination checking a reference to a block it has not read yet: wait, then ok.
  const checker = setup(() => false).src;
  assert.equal(checker.checkRef(out[1]!.receipt, out[1]!.ref), 'wait');
  await tick();
  assert.equal(checker.checkRef(out[1]!.receipt, out[1]!.ref), null);
  // Blocks in memory are never read.
  const warm = setup(() => true);
  assert.equal(warm.src.finalFor('shard-1', 1, 20).length, 20);
  assert.deepEqual(warm.reads, []);
});

test('receipt source: a failed read is reported and tried again on the next miss; a backlog is read ahead, and at most STORED_RECORDS_KEPT records are kept', async () => {
  const { src, reads, errors } = setup(() => false, 1);
  assert.deepEqual(src.finalFor('shard-1', 1, 1), []);
  await tick();
  assert.deepEqual(errors, [1], 'height 1 failed, 2..20 were read');
  assert.deepEqual(src.finalFor('shard-1', 1, 1), [], 'read again');
  await tick();
  assert.equal(src.finalFor('shard-1', 1, 20).length, 20);
  assert.deepEqual(reads, [...[...Array(20).keys()].map((k) => k + 1), 1]);
  // A destination working through a backlog longer than the records kept: source blocks are
  // read STORE_READ_AHEAD at a time, and the oldest read are dropped again.
  const n = STORED_RECORDS_KEPT + 8;
  const long = setup(() => false, 0, n);
  let next = 1;
  let rounds = 0;
  for (; next <= n && rounds < n; rounds++) {
    next += long.src.finalFor('shard-1', next, n).length;
    await tick();
  }
  assert.equal(next, n + 1, 'every receipt offered, in order');
  assert.ok(rounds <= Math.ceil(n / STORE_READ_AHEAD) + 1, `${rounds} rounds`);
  assert.equal(new Set(long.reads).size, n, 'every height read once');
  assert.equal(long.reads.length, n);
  assert.deepEqual(long.src.finalFor('shard-1', 1, 1), [], 'height 1 was dropped');
  await tick();
  assert.equal(long.src.finalFor('shard-1', 1, 1).length, 1, 'and is read again');
});
