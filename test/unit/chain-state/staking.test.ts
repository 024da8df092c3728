import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signConsensusVote, voteKey, type ConsensusVote, type TxOp } from '../../../chain/state/index.js';
import { key, keyOn, nodeSpec, P, World, TOP } from './helpers.js';

const op = keyOn('shard-0');
const op2 = keyOn('shard-1');
const voter = keyOn('shard-1', P, 1);

function registerOp(who = op, role: 'relay' | 'validator' | 'auditor' = 'relay', deposit = P.minDeposit.relay): TxOp {
  const s = nodeSpec(who, role, deposit);
  return { type: 'register', role, deposit, consensusKey: s.consensusKey, onionKey: s.onionKey, endpoints: s.endpoints, pricePerGiB: s.pricePerGiB, region: s.region };
}

function world(): World {
  return new World(P, [
    { who: op, amount: 2_000_000n * TOP },
    { who: op2, amount: 2_000_000n * TOP },
    { who: voter, amount: 10_000n * TOP },
  ]);
}

test('register: deposit moves to the beacon by receipt and creates the node', () => {
  const w = world();
  const r = w.run(w.tx(op, registerOp()));
  assert.equal(r.status, 'ok');
  assert.equal(w.balance(op), 2_000_000n * TOP - P.minDeposit.relay - P.minFee);
  assert.equal(w.get('beacon').nodes[op.address], undefined);
  w.settle();
  const n = w.get('beacon').nodes[op.address]!;
  assert.equal(n.status, 'active');
  assert.equal(n.deposit, P.minDeposit.relay);
  assert.equal(n.role, 'relay');
});

test('register rejections: below role minimum, relay without onion key, bad consensus key', () => {
  const w = world();
  const low = w.run(w.tx(op, registerOp(op, 'validator', P.minDeposit.validator - 1n)));
  assert.equal(low.status, 'failed');
  assert.equal(low.error!.rule, 'register');
  assert.match(low.error!.message, /< validator minimum 500000000000/);
  const noOnion = w.run(w.tx(op, { ...(registerOp() as Extract<TxOp, { type: 'register' }>), onionKey: null }));
  assert.match(noOnion.error!.message, /relay needs an x25519 onion key/);
  const badKey = w.run(w.tx(op, { ...(registerOp() as Extract<TxOp, { type: 'register' }>), consensusKey: 'abc' }));
  assert.match(badKey.error!.message, /consensus key must be 32-byte hex/);
  const poor = w.run(w.tx(voter, registerOp(voter)));
  assert.match(poor.error!.message, /deposit of 200000000000: balance/);
  assert.equal(Object.keys(w.get('shard-0').outbox).length, 0);
});

test('a second registration is refused on the beacon and its deposit refunded', () => {
  const w = world();
  w.run(w.tx(op, registerOp()));
  w.settle();
  const before = w.balance(op);
  w.run(w.tx(op, registerOp()));
  const b = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.equal(b.results[0]!.status, 'failed');
  assert.match(b.results[0]!.error!.message, /already registered/);
  w.settle();
  assert.equal(w.balance(op), before - P.minFee);
  assert.equal(w.get('beacon').nodes[op.address]!.deposit, P.minDeposit.relay);
});

test('update-node changes endpoints/price; role and consensus key are immutable', () => {
  const w = world();
  w.run(w.tx(op, registerOp()));
  w.settle();
  assert.equal(w.run(w.tx(op, { type: 'update-node', changes: { endpoints: ['198.18.0.9:1'], pricePerGiB: 5n } })).status, 'ok');
  w.settle();
  assert.deepEqual(w.get('beacon').nodes[op.address]!.endpoints, ['198.18.0.9:1']);
  assert.equal(w.get('beacon').nodes[op.address]!.pricePerGiB, 5n);
  const bad = w.run(w.tx(op, { type: 'update-node', changes: { role: 'validator' } as never }));
  assert.equal(bad.status, 'failed');
  assert.match(bad.error!.message, /field role cannot be updated/);
  const none = w.run(w.tx(op2, { type: 'update-node', changes: { region: 'us' } }));
  assert.equal(none.status, 'ok'); // shard cannot know; the beacon refuses
  const b = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.match(b.results[0]!.error!.message, /no node registered/);
});

test('unregister: deposit returns only after the unbonding delay', () => {
  const w = world();
  w.run(w.tx(op, registerOp()));
  w.settle();
  const before = w.balance(op);
  w.run(w.tx(op, { type: 'unregister' }));
  w.block('beacon', { receipts: w.inbound('beacon') });
  const n = w.get('beacon').nodes[op.address]!;
  assert.equal(n.status, 'unbonding');
  const release = n.releaseHeight!;
  assert.equal(release, w.get('beacon').height + P.unbondingBlocks);
  while (w.get('beacon').height < release - 1) w.block('beacon');
  w.settle(1);
  assert.equal(w.balance(op), before - P.minFee); // not yet
  w.block('beacon');
  assert.equal(w.get('beacon').nodes[op.address], undefined);
  w.settle();
  assert.equal(w.balance(op), before - P.minFee + P.minDeposit.relay);
  // unregistering twice / without a node is refused on the beacon
  w.run(w.tx(op, { type: 'unregister' }));
  const b = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.match(b.results[0]!.error!.message, /no node registered/);
});

test('vote locks tokens on the beacon; unvote releases them after the delay; vote for a missing node is refunded', () => {
  const w = world();
  w.run(w.tx(op, registerOp()));
  w.settle();
  w.run(w.tx(voter, { type: 'vote', node: op.address, amount: 1000n * TOP }));
  w.settle();
  assert.equal(w.get('beacon').votes[voteKey(voter.address, op.address)]!.amount, 1000n * TOP);
  const afterVote = w.balance(voter);
  w.run(w.tx(voter, { type: 'unvote', node: op.address, amount: 2000n * TOP }));
  const tooMuch = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.match(tooMuch.results[0]!.error!.message, /< 2000000000/);
  w.run(w.tx(voter, { type: 'unvote', node: op.address, amount: 400n * TOP }));
  w.block('beacon', { receipts: w.inbound('beacon') });
  assert.equal(w.get('beacon').votes[voteKey(voter.address, op.address)]!.amount, 600n * TOP);
  assert.equal(w.get('beacon').unlocking.length, 1);
  w.settle(1);
  assert.equal(w.balance(voter), afterVote - 2n * P.minFee);
  w.advance('beacon', P.voteUnlockBlocks);
  w.settle();
  assert.equal(w.balance(voter), afterVote - 2n * P.minFee + 400n * TOP);
  // vote for a node that does not exist: refunded
  const bal = w.balance(voter);
  w.run(w.tx(voter, { type: 'vote', node: key('nobody').address, amount: 5n * TOP }));
  const b = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.equal(b.results[0]!.status, 'failed');
  w.settle();
  assert.equal(w.balance(voter), bal - P.minFee);
  const zero = w.run(w.tx(voter, { type: 'vote', node: op.address, amount: 0n }));
  assert.match(zero.error!.message, /positive/);
});

function evidence(signerSeedOwner = op, h = 10, v = 2, chain = 'shard-0') {
  const ck = key(`consensus-${signerSeedOwner.address}`);
  const base: ConsensusVote = { chainId: P.chainId, chain, height: h, view: v, blockHash: 'aa'.repeat(32) };
  return {
    a: signConsensusVote(base, ck.seed, ck.address),
    b: signConsensusVote({ ...base, blockHash: 'bb'.repeat(32) }, ck.seed, ck.address),
  };
}

test('slash: double-sign evidence burns 5% of the deposit and jails the node, once per offence', () => {
  const w = world();
  w.run(w.tx(op, registerOp(op, 'validator', P.minDeposit.validator)));
  w.settle();
  const e = evidence();
  assert.equal(w.run(w.tx(voter, { type: 'slash', evidence: e })).status, 'ok');
  w.settle();
  const n = w.get('beacon').nodes[op.address]!;
  const cut = (P.minDeposit.validator * P.slashBps) / 10_000n;
  assert.equal(cut, 25_000n * TOP);
  assert.equal(n.deposit, P.minDeposit.validator - cut);
  assert.equal(n.status, 'jailed');
  assert.equal(w.get('beacon').burned, cut);
  // same offence again: refused, nothing burned
  w.run(w.tx(voter, { type: 'slash', evidence: e }));
  const b = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.match(b.results[0]!.error!.message, /already slashed/);
  assert.equal(w.get('beacon').burned, cut);
  // a jailed node cannot receive votes
  w.run(w.tx(voter, { type: 'vote', node: op.address, amount: 1n }));
  const v = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.match(v.results[0]!.error!.message, /not an active node/);
});

test('slash evidence validation', () => {
  const w = world();
  const e = evidence();
  const cases: [string, typeof e, RegExp][] = [
    ['same block', { a: e.a, b: e.a }, /same block/],
    ['different heights', { a: e.a, b: evidence(op, 11).b }, /different heights/],
    ['different views', { a: e.a, b: evidence(op, 10, 3).b }, /different views/],
    ['different chains', { a: e.a, b: evidence(op, 10, 2, 'shard-1').b }, /different chains/],
    ['different signers', { a: e.a, b: evidence(op2).b }, /different keys/],
    ['forged signature', { a: e.a, b: { ...e.b, signature: e.a.signature } }, /second vote signature invalid/],
    ['foreign chain id', { a: { ...e.a, vote: { ...e.a.vote, chainId: 'x' } }, b: e.b }, /foreign chain id/],
  ];
  for (const [name, ev, re] of cases) {
    const r = w.run(w.tx(voter, { type: 'slash', evidence: ev }));
    assert.equal(r.status, 'failed', name);
    assert.match(r.error!.message, re, name);
  }
  // valid evidence against a key no node uses: refused on the beacon
  w.run(w.tx(voter, { type: 'slash', evidence: evidence(op2) }));
  const b = w.block('beacon', { receipts: w.inbound('beacon') });
  assert.match(b.results[0]!.error!.message, /no node with consensus key/);
});

test('an unbonding node is still slashed (no escape by unregistering)', () => {
  const w = world();
  w.run(w.tx(op, registerOp(op, 'validator', P.minDeposit.validator)));
  w.settle();
  w.run(w.tx(op, { type: 'unregister' }));
  w.settle();
  w.run(w.tx(voter, { type: 'slash', evidence: evidence() }));
  w.settle();
  const n = w.get('beacon').nodes[op.address]!;
  assert.equal(n.status, 'unbonding');
  assert.equal(n.slashed, 25_000n * TOP);
  w.advance('beacon', P.unbondingBlocks);
  w.settle();
  assert.equal(w.get('beacon').nodes[op.address], undefined);
});

test('epoch rewards: validators/auditors/voters split from the reserve, paid by receipt', () => {
  const a = keyOn('shard-0', P, 3);
  const v1 = nodeSpec(op, 'validator', 600_000n * TOP);
  const v2 = nodeSpec(op2, 'validator', 1_200_000n * TOP);
  const au = nodeSpec(a, 'auditor', 1_000_000n * TOP);
  const w = new World(P, [{ who: voter, amount: 1000n * TOP }], [v1, v2, au], 1_000_000n * TOP);
  w.run(w.tx(voter, { type: 'vote', node: op.address, amount: 100n * TOP }));
  w.block('beacon', { receipts: w.inbound('beacon') });
  while (w.get('beacon').height % P.epochBlocks !== 0) w.block('beacon');
  const R = P.rewardPerEpoch;
  const beacon = w.get('beacon');
  const vPart = (R * 6667n) / 10_000n;
  assert.equal(beacon.issued, vPart / 3n + (vPart * 2n) / 3n + (R * 1111n) / 10_000n + (R * 2222n) / 10_000n);
  assert.equal(beacon.reserve + beacon.issued, 1_000_000n * TOP);
  w.settle();
  assert.equal(w.balance(op), vPart / 3n);
  assert.equal(w.balance(op2), (vPart * 2n) / 3n);
  assert.equal(w.balance(a), (R * 1111n) / 10_000n);
  assert.equal(w.balance(voter), 900n * TOP - P.minFee + (R * 2222n) / 10_000n);
});
