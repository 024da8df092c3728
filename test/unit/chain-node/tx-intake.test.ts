/**
 * TxIntake on a node that forwards txs (not a validator of their chain): the (sender, nonce)
 * slots it forwarded count for pendingNonce and refuse a second tx, until the account's nonce
 * passes them or FORWARDED_NONCE_TTL_MS elapses; a validator reads its pool instead. Time is a
 * stepped fake clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mempool, MempoolFullError } from '../../../chain/node/mempool.js';
import type { RuntimeHost } from '../../../chain/node/runtime-types.js';
import { FORWARDED_NONCE_TTL_MS, TxIntake } from '../../../chain/node/tx-intake.js';
import { decodeTxList, encodeTxList } from '../../../chain/node/tx-codec.js';
import type { ChainState, SignedTx } from '../../../chain/state/types.js';
import { StateMap } from '../../../chain/state/state-map.js';

const SENDER = 'a'.repeat(64);

function stx(nonce: number, fee = 1n): SignedTx {
  return { tx: { chainId: 'c', chain: 'shard-0', from: SENDER, nonce, fee, op: { type: 'transfer', to: 'b'.repeat(64), amount: 1n } }, signature: '00' } as SignedTx;
}

function setup(validator: boolean): { intake: TxIntake; mempool: Mempool<SignedTx>; clock: { t: number }; committed: { nonce: number }; sent: SignedTx[][] } {
  const clock = { t: 1_000_000 };
  const committed = { nonce: 0 };
  const sent: SignedTx[][] = [];
  const mempool = new Mempool<SignedTx>();
  // TxIntake reads only net.multicast and chainId from its host on these paths.
  const host = { chainId: 'c', net: { multicast: (_to: readonly string[], m: { body: Uint8Array }) => sent.push(decodeTxList(m.body)) } } as unknown as RuntimeHost;
  const intake = new TxIntake(
    {
      chain: 'shard-0',
      host,
      mempool,
      state: () => ({ accounts: StateMap.fromRecord({ [SENDER]: { nonce: committed.nonce } }) }) as unknown as ChainState,
      isValidator: () => validator,
      validators: () => ['v1', 'v2'],
    },
    () => clock.t,
  );
  return { intake, mempool, clock, committed, sent };
}

const hashOf = (nonce: number, fee = 1n): string => `h${nonce}-${fee}`;

test('forwarding node: forwarded slots make a consecutive run; a gap ends it', () => {
  const { intake } = setup(false);
  assert.equal(intake.pendingRunEnd(SENDER, 0), -1);
  intake.admitLocal(stx(0), hashOf(0));
  intake.admitLocal(stx(1), hashOf(1));
  intake.admitLocal(stx(3), hashOf(3));
  assert.equal(intake.pendingRunEnd(SENDER, 0), 1, 'nonces 0 and 1 held, 2 missing');
  assert.equal(intake.pendingRunEnd('c'.repeat(64), 0), -1, 'other senders are unaffected');
});

test('forwarding node: the same tx again keeps its slot and is forwarded again; another tx in a held slot is MempoolFullError', async () => {
  const { intake, sent } = setup(false);
  intake.admitLocal(stx(0), hashOf(0));
  intake.admitLocal(stx(0), hashOf(0));
  assert.throws(() => intake.admitLocal(stx(0, 2n), hashOf(0, 2n)), (e: unknown) => e instanceof MempoolFullError && /nonce 0 from this sender is already pending/.test(e.message));
  await new Promise((r) => setTimeout(r, 30)); // the 10 ms gossip batch
  assert.deepEqual(sent.flat().map((t) => t.tx.nonce), [0, 0], 'the tx, twice (validators drop the copy by hash); never the conflicting one');
  assert.equal(intake.pendingRunEnd(SENDER, 0), 0);
});

test('forwarding node: a slot frees when the account nonce passes it or after FORWARDED_NONCE_TTL_MS', () => {
  const { intake, clock, committed } = setup(false);
  intake.admitLocal(stx(0), hashOf(0));
  intake.admitLocal(stx(1), hashOf(1));
  committed.nonce = 1; // nonce 0 committed
  assert.equal(intake.pendingRunEnd(SENDER, 1), 1, 'nonce 1 is still held');
  clock.t += FORWARDED_NONCE_TTL_MS - 1;
  assert.equal(intake.pendingRunEnd(SENDER, 1), 1, 'just inside the TTL');
  clock.t += 1;
  assert.equal(intake.pendingRunEnd(SENDER, 1), 0, 'expired: the run is empty again');
  // The expired slot takes a different tx (e.g. the validators dropped the first one).
  intake.admitLocal(stx(1, 5n), hashOf(1, 5n));
  assert.equal(intake.pendingRunEnd(SENDER, 1), 1);
});

test('forwarding node: at most the pool\'s per-sender limit of slots, like a validator', () => {
  const { intake, mempool } = setup(false);
  for (let n = 0; n < mempool.maxPerSender; n++) intake.admitLocal(stx(n), hashOf(n));
  assert.throws(() => intake.admitLocal(stx(mempool.maxPerSender), hashOf(mempool.maxPerSender)), (e: unknown) => e instanceof MempoolFullError && /sender has 1024 pending/.test(e.message));
  assert.equal(intake.pendingRunEnd(SENDER, 0), mempool.maxPerSender - 1);
});

test('validator: pendingRunEnd reads the pool, and a forwarded-slot map is never kept', () => {
  const { intake, mempool } = setup(true);
  intake.admitLocal(stx(0), hashOf(0));
  intake.admitLocal(stx(1), hashOf(1));
  assert.equal(mempool.size, 2);
  assert.equal(intake.pendingRunEnd(SENDER, 0), 1);
  mempool.remove(hashOf(0));
  assert.equal(intake.pendingRunEnd(SENDER, 0), -1, 'from the pool only');
  assert.throws(() => intake.admitLocal(stx(1, 2n), hashOf(1, 2n)), MempoolFullError);
});

test('validator: a gossiped tx list is pooled; a list that does not decode is dropped whole with a warning; an array (older peers) is still pooled', () => {
  const warnings: string[] = [];
  const mempool = new Mempool<SignedTx>();
  const host = { chainId: 'c', verifyTx: () => true, log: { warn: (_o: unknown, msg: string) => warnings.push(msg) } } as unknown as RuntimeHost;
  const intake = new TxIntake({ chain: 'shard-0', host, mempool, state: () => ({ accounts: StateMap.fromRecord({}) }) as unknown as ChainState, isValidator: () => true, validators: () => ['v1'] });
  intake.onGossip(encodeTxList([stx(0), stx(1)]));
  assert.equal(mempool.size, 2);
  const bad = encodeTxList([stx(2), stx(3)]);
  intake.onGossip(bad.subarray(0, bad.length - 1));
  assert.equal(mempool.size, 2, 'nothing of a truncated list is pooled');
  assert.deepEqual(warnings, ['gossiped tx list refused']);
  intake.onGossip([stx(2)]);
  assert.equal(mempool.size, 3);
});
