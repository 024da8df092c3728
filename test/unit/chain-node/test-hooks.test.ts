/** chain/node/test-hooks.ts: the env gate and what each Byzantine mode does to outgoing messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signVote } from '../../../chain/consensus/certificate.js';
import { createSigner } from '../../../chain/consensus/crypto.js';
import type { Message } from '../../../chain/consensus/types.js';
import { ByzantineHooks, byzantineFromEnv, TestHookRefusedError, type ByzantineOptions } from '../../../chain/node/test-hooks.js';
import type { PayloadV1 } from '../../../chain/node/payload.js';
import { checkVoteEvidence } from '../../../chain/state/vote-evidence.js';

const signer = createSigner(randomBytes(32));
const vote = (height: number): Message => ({ type: 'vote', vote: signVote(signer, { chainId: 'c', chain: 'shard-0', height, view: height, blockHash: 'ab'.repeat(32) }) });
function hooks(opts: ByzantineOptions, jailed = (): boolean => false): ByzantineHooks {
  return new ByzantineHooks(opts, { chain: 'shard-0', signer, isJailed: jailed, log: () => {} });
}

test('byzantineFromEnv: off without the variable; refused without TOPVPN_TEST_HOOKS=devnet; unknown modes refused', () => {
  assert.equal(byzantineFromEnv({}), undefined);
  assert.equal(byzantineFromEnv({ TOPVPN_TEST_HOOKS: 'devnet' }), undefined);
  assert.throws(() => byzantineFromEnv({ TOPVPN_TEST_BYZANTINE: 'equivocate' }), TestHookRefusedError);
  assert.throws(() => byzantineFromEnv({ TOPVPN_TEST_BYZANTINE: 'equivocate', TOPVPN_TEST_HOOKS: '1' }), TestHookRefusedError);
  assert.throws(() => byzantineFromEnv({ TOPVPN_TEST_BYZANTINE: 'double-spend', TOPVPN_TEST_HOOKS: 'devnet' }), TestHookRefusedError);
  assert.deepEqual(byzantineFromEnv({ TOPVPN_TEST_BYZANTINE: 'withhold,invalid-proposal', TOPVPN_TEST_HOOKS: 'devnet' }), { modes: ['withhold', 'invalid-proposal'] });
});

test('equivocate: the 5th vote is doubled into valid slashing evidence, then every 40th, never once jailed', () => {
  let jailed = false;
  const h = hooks({ modes: ['equivocate'] }, () => jailed);
  const doubled: number[] = [];
  for (let i = 1; i <= 90; i++) {
    const out = h.broadcast(vote(i));
    if (out.length === 2) {
      doubled.push(i);
      const [a, b] = out as [Extract<Message, { type: 'vote' }>, Extract<Message, { type: 'vote' }>];
      assert.equal(checkVoteEvidence({ a: a.vote, b: b.vote }, 'c'), signer.publicKey);
    } else assert.equal(out.length, 1);
    if (i === 50) jailed = true;
  }
  assert.deepEqual(doubled, [5, 45]);
  // non-votes pass untouched
  const to: Message = { type: 'blockRequest', hash: 'cd'.repeat(32) };
  assert.deepEqual(h.broadcast(to), [to]);
});

test('equivocateOn (unit-test form): once, on that chain only', () => {
  const h = hooks({ equivocateOn: 'shard-0' });
  assert.equal(h.broadcast(vote(1)).length, 2);
  assert.equal(h.broadcast(vote(2)).length, 1);
  const other = new ByzantineHooks({ equivocateOn: 'shard-1' }, { chain: 'shard-0', signer, isJailed: () => false, log: () => {} });
  assert.equal(other.broadcast(vote(1)).length, 1);
});

test('withhold drops votes and audit shares; invalid-proposal changes the state root; no mode changes nothing', () => {
  const w = hooks({ modes: ['withhold'] });
  assert.deepEqual(w.broadcast(vote(1)), []);
  assert.equal(w.withholdAudit(), true);
  const p: PayloadV1 = { v: 1, stateRoot: '11'.repeat(32), receiptsRoot: '22'.repeat(32), body: { chain: 'shard-0', height: 3, txs: [], receipts: [], confirms: [] }, refs: [] };
  const bad = hooks({ modes: ['invalid-proposal'] }).payload(p);
  assert.notEqual(bad.stateRoot, p.stateRoot);
  assert.deepEqual({ ...bad, stateRoot: p.stateRoot }, p);
  const none = hooks({});
  assert.equal(none.payload(p), p);
  assert.equal(none.withholdAudit(), false);
  assert.equal(none.broadcast(vote(5)).length, 1);
});
