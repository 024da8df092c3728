import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyBlock,
  cloneState,
  decodeJson,
  encodeJson,
  genesis,
  homeChain,
  sha256,
  signTx,
  stateRoot,
  stateRootFull,
  type ChainName,
  type ChainState,
  type ChainStateJson,
  stateFromJson,
  type KeyPair,
  type SignedTx,
} from '../../../chain/state/index.js';
import { buildTrie, trieRootHex, updateTrie, type MapTrie } from '../../../chain/state/commitment.js';
import { key, P, TOP } from './helpers.js';

// ---------------------------------------------------------------- the tree alone

const vh = (n: number): Buffer => Buffer.from(sha256(`value-${n}`));

test('map tree: any sequence of incremental updates equals a build from scratch of the final map', () => {
  const op = fc.record({ key: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 1, maxLength: 6 }), fc.constantFrom('a', 'b', 'shard-0', 'beacon')), value: fc.option(fc.nat({ max: 50 }), { nil: null }) });
  fc.assert(
    fc.property(fc.array(fc.array(op, { maxLength: 20 }), { maxLength: 12 }), (batches) => {
      const model = new Map<string, number>();
      let t: MapTrie = buildTrie([]);
      const roots: string[] = [];
      for (const batch of batches) {
        const changes = new Map<string, Buffer | null>();
        for (const o of batch) {
          if (o.value === null) model.delete(o.key);
          else model.set(o.key, o.value);
          changes.set(o.key, o.value === null ? null : vh(o.value));
        }
        const before = trieRootHex(t);
        const next = updateTrie(t, changes);
        assert.equal(trieRootHex(t), before, 'updateTrie changed its input tree');
        t = next;
        const full = buildTrie([...model].map(([k, v]): [string, Buffer] => [k, vh(v)]));
        assert.equal(trieRootHex(t), trieRootHex(full));
        assert.equal(t.size, model.size);
        roots.push(trieRootHex(t));
      }
      // Insertion order does not matter.
      const reversed = buildTrie([...model].reverse().map(([k, v]): [string, Buffer] => [k, vh(v)]));
      assert.equal(trieRootHex(reversed), trieRootHex(t));
    }),
    { numRuns: 150 },
  );
});

test('map tree: changing, adding or removing one entry changes the root', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 2, maxLength: 8 }), { minLength: 1, maxLength: 40 }), fc.nat(), (keys, pick) => {
      const entries = keys.map((k, i): [string, Buffer] => [k, vh(i)]);
      const t = buildTrie(entries);
      const k = keys[pick % keys.length]!;
      assert.notEqual(trieRootHex(updateTrie(t, new Map([[k, vh(-1)]]))), trieRootHex(t));
      assert.notEqual(trieRootHex(updateTrie(t, new Map([[k, null]]))), trieRootHex(t));
      assert.notEqual(trieRootHex(updateTrie(t, new Map([[`${k}x`, vh(0)]]))), trieRootHex(t));
      // Same value under a different key is a different tree.
      assert.notEqual(trieRootHex(buildTrie([[`${k}y`, vh(0)]])), trieRootHex(buildTrie([[`${k}z`, vh(0)]])));
    }),
    { numRuns: 100 },
  );
});

// ----------------------------------------------------------- whole states

const people: KeyPair[] = Array.from({ length: 12 }, (_, i) => key(`commitment-${i}`));

function world(): Map<ChainName, ChainState> {
  const g = genesis(P, people.slice(0, 9).map((k) => ({ address: k.address, amount: 1_000n * TOP })));
  return new Map([g.beacon, ...g.shards].map((s) => [s.chain, s]));
}

interface Step {
  /** transfers: (from, to, amount, fee) — some are invalid on purpose (bad nonce, too big). */
  txs: Array<{ from: number; to: number; amount: bigint; nonceSkew: number }>;
  fork: boolean;
  deliver: boolean;
}

const step: fc.Arbitrary<Step> = fc.record({
  txs: fc.array(fc.record({ from: fc.nat({ max: 11 }), to: fc.nat({ max: 11 }), amount: fc.bigInt({ min: 0n, max: 2_000n * TOP }), nonceSkew: fc.constantFrom(0, 0, 0, 0, 1, -1) }), { maxLength: 25 }),
  fork: fc.boolean(),
  deliver: fc.boolean(),
});

test('state root: incremental root equals a full recompute after random tx sequences, forks and receipt deliveries', () => {
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 10 }), (steps) => {
      const states = world();
      const nonces = new Map<string, number>();
      for (const st of steps) {
        for (const chain of ['shard-0', 'shard-1'] as ChainName[]) {
          const base = states.get(chain)!;
          const baseRoot = stateRootFull(base);
          const txs: SignedTx[] = [];
          for (const t of st.txs) {
            const from = people[t.from]!;
            if (homeChain(from.address, P.shardCount) !== chain) continue;
            const n = nonces.get(from.address) ?? 0;
            txs.push(signTx({ chainId: P.chainId, chain, from: from.address, nonce: Math.max(0, n + t.nonceSkew), fee: P.minFee, op: { type: 'transfer', to: people[t.to]!.address, amount: t.amount } }, from.seed));
            if (t.nonceSkew === 0) nonces.set(from.address, n + 1);
          }
          const receipts = st.deliver
            ? [...states.values()].flatMap((s) => (s.outbox[chain]?.pending ?? []).filter((r) => r.id > (base.inbox[s.chain] ?? 0)))
            : [];
          const res = applyBlock(base, { chain, height: base.height + 1, txs, receipts, confirms: [] }, P);
          assert.equal(res.stateRoot, stateRootFull(res.state));
          assert.equal(stateRoot(res.state), res.stateRoot);
          assert.equal(stateRootFull(base), baseRoot, 'parent state changed');
          if (st.fork) {
            // A sibling block on the same parent (e.g. a competing proposal) must not disturb the first.
            const other = applyBlock(base, { chain, height: base.height + 1, txs: txs.slice(0, Math.floor(txs.length / 2)), receipts: [], confirms: [] }, P);
            assert.equal(other.stateRoot, stateRootFull(other.state));
            assert.equal(stateRootFull(res.state), res.stateRoot, 'sibling block changed the first result');
          }
          // A state that lost its cache (decoded from storage) continues with the same roots.
          const copy = stateFromJson(decodeJson<ChainStateJson>(encodeJson(res.state)));
          assert.equal(stateRoot(copy), res.stateRoot);
          states.set(chain, res.state);
          // Nonces the chain did not accept are retried from the chain's view.
          for (const p of people) if (homeChain(p.address, P.shardCount) === chain) nonces.set(p.address, res.state.accounts.get(p.address)?.nonce ?? 0);
        }
      }
    }),
    { numRuns: 60 },
  );
});

test('state root: covers every field (a changed balance, nonce, inbox or scalar changes it)', () => {
  const s0 = world().get(homeChain(people[0]!.address, P.shardCount))!;
  const r0 = stateRootFull(s0);
  const variants: Array<(s: ChainState) => void> = [
    (s) => void (s.accounts.get(people[0]!.address)!.balance += 1n),
    (s) => void (s.accounts.get(people[0]!.address)!.nonce += 1),
    (s) => void (s.accounts.get(people[0]!.address)!.resource.locked += 1n),
    (s) => void (s.inbox.beacon = 1),
    (s) => void (s.burned += 1n),
    (s) => void (s.height += 1),
    (s) => void (s.outbox.beacon = { nextId: 1, confirmedUpTo: 0, pending: [] }),
  ];
  for (const [i, f] of variants.entries()) {
    const s = cloneState(s0);
    f(s);
    assert.notEqual(stateRootFull(s), r0, `variant ${i} left the root unchanged`);
  }
  assert.equal(stateRootFull(cloneState(s0)), r0);
});
