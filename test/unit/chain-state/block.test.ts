import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyBlock,
  confirmsFor,
  pendingReceiptsFor,
  receiptProof,
  verifyReceiptProof,
  BlockRejectedError,
  decodeJson,
  encodeJson,
  merkleProof,
  receiptHash,
  stateRoot,
  stateRootFull,
  verifyMerkleProof,
  type ChainStateJson,
  stateFromJson,
} from '../../../chain/state/index.js';
import { keyOn, P, World, TOP } from './helpers.js';
import { packValue, unpackValue } from '../../../chain/node/wire.js';

const a = keyOn('shard-0');
const far = [keyOn('shard-1'), keyOn('shard-1', P, 1), keyOn('shard-1', P, 2)];

test('applyBlock refuses a block for another chain or height', () => {
  const w = new World(P, [{ who: a, amount: 10n * TOP }]);
  const s = w.get('shard-0');
  assert.throws(() => applyBlock(s, { chain: 'shard-1', height: 1, txs: [], receipts: [], confirms: [] }, P), BlockRejectedError);
  assert.throws(() => applyBlock(s, { chain: 'shard-0', height: 2, txs: [], receipts: [], confirms: [] }, P), BlockRejectedError);
  assert.throws(() => applyBlock(s, { chain: 'shard-0', height: 1, txs: [], receipts: [], confirms: [] }, { ...P, chainId: 'x' }), BlockRejectedError);
});

test('applyBlock is pure: the input state is unchanged and the result is deterministic', () => {
  const w = new World(P, [{ who: a, amount: 10n * TOP }]);
  const s = w.get('shard-0');
  const root0 = stateRoot(s);
  const body = { chain: 'shard-0' as const, height: 1, txs: [w.tx(a, { type: 'transfer', to: far[0]!.address, amount: 5n })], receipts: [], confirms: [] };
  const r1 = applyBlock(s, body, P);
  const r2 = applyBlock(s, body, P);
  assert.equal(stateRoot(s), root0);
  assert.equal(r1.stateRoot, r2.stateRoot);
  assert.equal(r1.receiptsRoot, r2.receiptsRoot);
  assert.notEqual(r1.stateRoot, root0);
});

test('receiptsRoot commits to the outgoing receipts with verifiable proofs', () => {
  const w = new World(P, [{ who: a, amount: 10n * TOP }]);
  const txs = far.map((k, i) => w.tx(a, { type: 'transfer', to: k.address, amount: BigInt(i + 1) }, { nonce: i }));
  const res = w.block('shard-0', { txs });
  assert.deepEqual(res.results.map((r) => r.status), ['ok', 'ok', 'ok']);
  assert.deepEqual(res.outgoingReceipts.map((r) => r.id), [1, 2, 3]);
  const leaves = res.outgoingReceipts.map(receiptHash);
  leaves.forEach((leaf, i) => assert.ok(verifyMerkleProof(res.receiptsRoot, leaf, merkleProof(leaves, i))));
  res.outgoingReceipts.forEach((r, i) => assert.ok(verifyReceiptProof(res.receiptsRoot, r, receiptProof(res.outgoingReceipts, i))));
  assert.deepEqual(pendingReceiptsFor(w.get('shard-0'), 'shard-1', 1).map((r) => r.id), [2, 3]);
  assert.deepEqual(confirmsFor(w.get('shard-0'), () => 2), [{ from: 'shard-1', appliedUpTo: 2 }]);
  assert.deepEqual(confirmsFor(w.get('shard-0'), () => 4), []);
  const tampered = { ...res.outgoingReceipts[1]!, amount: 99n };
  assert.ok(!verifyReceiptProof(res.receiptsRoot, tampered, receiptProof(res.outgoingReceipts, 1)));
  assert.ok(!verifyMerkleProof(res.receiptsRoot, receiptHash(tampered), merkleProof(leaves, 1)));
});

test('state codec round-trips to the same state root', () => {
  const w = new World(P, [{ who: a, amount: 10n * TOP }]);
  w.run(w.tx(a, { type: 'channel-open', relay: far[0]!.address, deposit: 3n * TOP }));
  w.run(w.tx(a, { type: 'transfer', to: far[1]!.address, amount: 1n }));
  for (const s of w.all()) {
    const back = stateFromJson(decodeJson<ChainStateJson>(encodeJson(s)));
    assert.deepEqual(back, s);
    assert.equal(stateRoot(back), stateRoot(s));
    // As a node stores its snapshot (store.ts packs values with packValue).
    const stored = stateFromJson(unpackValue<{ height: number; state: ChainStateJson }>(packValue({ height: s.height, state: s })).state);
    assert.deepEqual(stored, s);
    assert.equal(stateRootFull(stored), stateRoot(s));
  }
});

test('results are in order confirms, receipts, txs; one bad tx does not stop the block', () => {
  const w = new World(P, [{ who: a, amount: 10n * TOP }]);
  const good = w.tx(a, { type: 'transfer', to: far[0]!.address, amount: 1n }, { nonce: 0 });
  const badNonce = w.tx(a, { type: 'transfer', to: far[0]!.address, amount: 1n }, { nonce: 7 });
  const failing = w.tx(a, { type: 'transfer', to: far[0]!.address, amount: 100n * TOP }, { nonce: 1 });
  const after = w.tx(a, { type: 'transfer', to: far[0]!.address, amount: 2n }, { nonce: 2 });
  const res = w.block('shard-0', { txs: [good, badNonce, failing, after], confirms: [{ from: 'shard-1', appliedUpTo: 0 }] });
  assert.deepEqual(res.results.map((r) => `${r.kind}:${r.status}`), ['confirm:ok', 'tx:ok', 'tx:invalid', 'tx:failed', 'tx:ok']);
  assert.equal(w.get('shard-0').accounts.get(a.address)!.nonce, 3);
  assert.equal(res.outgoingReceipts.length, 2);
});
