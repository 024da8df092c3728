import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyBlock, checkSupply, signTx, stateRoot, verifyTxSignature, type SignedTx, type Tx } from '../../../chain/state/index.js';
import { keyOn, nodeSpec, P, World, TOP } from './helpers.js';

const a = keyOn('shard-0');
const b = keyOn('shard-1');

/** A value of any plausible wrong type for a field. */
const junk = fc.oneof(
  fc.bigInt({ min: -5n, max: 10n ** 15n }),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 70 }),
  fc.constant(null),
  fc.constant(a.address),
  fc.constant(b.address),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 10 }),
  fc.constant(undefined),
);
const TYPES = ['transfer', 'register', 'update-node', 'unregister', 'vote', 'unvote', 'channel-open', 'channel-claim', 'channel-close', 'channel-finalize', 'slash', 'resource-deposit', 'resource-withdraw', 'bogus'];
const FIELDS = ['to', 'amount', 'deposit', 'role', 'consensusKey', 'onionKey', 'endpoints', 'pricePerGiB', 'region', 'changes', 'node', 'relay', 'channelId', 'receipt', 'receiptSignature', 'evidence'];

test('malformed txs never throw out of applyBlock and never break supply', () => {
  const w = new World(P, [{ who: a, amount: 1000n * TOP }], [nodeSpec(b, 'relay', P.minDeposit.relay)]);
  w.run(w.tx(a, { type: 'channel-open', relay: b.address, deposit: 5n * TOP }));
  fc.assert(
    fc.property(fc.constantFrom(...TYPES), fc.dictionary(fc.constantFrom(...FIELDS), junk), fc.oneof(fc.constant(10n), junk), (type, fields, fee) => {
      const s = w.get('shard-0');
      const nonce = s.accounts.get(a.address)!.nonce;
      // Built untyped on purpose: the point is input that violates the types.
      const tx = { chainId: P.chainId, chain: 'shard-0', from: a.address, nonce, fee, op: { ...fields, type } } as unknown as Tx;
      let stx: SignedTx;
      try {
        stx = signTx(tx, a.seed);
      } catch {
        return; // not encodable: it cannot be signed, so it never reaches a block
      }
      const res = applyBlock(s, { chain: 'shard-0', height: s.height + 1, txs: [stx], receipts: [], confirms: [] }, P);
      const st = res.results[0]!.status;
      assert.ok(['ok', 'failed', 'invalid'].includes(st));
      if (st === 'invalid') assert.equal(stateRoot({ ...res.state, height: s.height }), stateRoot(s));
      const others = w.all().filter((x) => x.chain !== 'shard-0');
      const rep = checkSupply([res.state, ...others], w.supply);
      assert.ok(rep.ok, rep.message);
    }),
    { numRuns: 400, seed: 7 },
  );
});

test('malformed envelopes: bad sender, non-integer nonce, unencodable fee', () => {
  const w = new World(P, [{ who: a, amount: 1000n * TOP }]);
  const good = w.tx(a, { type: 'transfer', to: b.address, amount: 1n });
  const s = w.get('shard-0');
  const run = (stx: SignedTx) => applyBlock(s, { chain: 'shard-0', height: 1, txs: [stx], receipts: [], confirms: [] }, P).results[0]!;
  assert.match(run({ ...good, tx: { ...good.tx, from: 'nothex' } }).error!.message, /sender is not a 32-byte hex address/);
  assert.match(run({ ...good, tx: { ...good.tx, nonce: 0.5 } }).error!.message, /cannot be encoded|nonce must be/);
  assert.equal(verifyTxSignature({ ...good, tx: { ...good.tx, nonce: 0.5 } }), false);
  assert.equal(verifyTxSignature({ ...good, signature: 'zz' }), false);
  assert.equal(run({ ...good, tx: { ...good.tx, fee: -1n } }).status, 'invalid');
});

test('malformed slash evidence is a named rejection, not a crash', () => {
  const w = new World(P, [{ who: a, amount: 1000n * TOP }]);
  const bad = [{}, { a: null, b: null }, { a: { vote: { chainId: P.chainId, chain: 'x', height: '1' }, signer: a.address, signature: '' }, b: { vote: { chainId: P.chainId, chain: 'x', height: '1' }, signer: a.address, signature: '' } }];
  for (const ev of bad) {
    const r = w.run(w.tx(a, { type: 'slash', evidence: ev as never }));
    assert.equal(r.status, 'failed');
    assert.equal(r.error!.rule, 'slash');
    assert.match(r.error!.message, /invalid evidence/);
  }
});
