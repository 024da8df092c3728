import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../../../chain/state/encoding.js';
import { TX_TAG, txHash, txSigningBytes, txSigningJson } from '../../../chain/state/tx.js';
import { sha256Hex } from '../../../chain/state/encoding.js';
import type { Tx } from '../../../chain/state/types.js';

/** The generic encoding the transfer fast path must reproduce byte for byte. */
const generic = (tx: unknown): string => canonicalJson({ type: TX_TAG, tx });

/** Any string, quotes, backslashes, control and non-BMP characters included. */
const anyString = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('shard-0', 'topvpn-devnet', '"\\\n\u0000', 'é😀'));
const anyBigint = fc.oneof(fc.bigInt(), fc.constantFrom(0n, -1n, 10n ** 30n));
const anyNonce = fc.oneof(fc.integer(), fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER));

/** A transfer with its keys inserted in a random order (wire decoders keep the sender's order). */
const transfer = fc
  .record({ chainId: anyString, chain: anyString, from: anyString, nonce: anyNonce, fee: anyBigint, to: anyString, amount: anyBigint, order: fc.shuffledSubarray([0, 1, 2, 3, 4, 5], { minLength: 6 }), opOrder: fc.shuffledSubarray([0, 1, 2], { minLength: 3 }) })
  .map((r) => {
    const opEntries: [string, unknown][] = [['type', 'transfer'], ['to', r.to], ['amount', r.amount]];
    const op = Object.fromEntries(r.opOrder.map((i) => opEntries[i]!));
    const entries: [string, unknown][] = [['chainId', r.chainId], ['chain', r.chain], ['from', r.from], ['nonce', r.nonce], ['fee', r.fee], ['op', op]];
    return Object.fromEntries(r.order.map((i) => entries[i]!)) as unknown as Tx;
  });

test('tx signing bytes: a transfer (any field values, any key order) encodes exactly as canonicalJson', () => {
  fc.assert(
    fc.property(transfer, (tx) => {
      const json = txSigningJson(tx);
      assert.equal(json, generic(tx));
      assert.deepEqual(txSigningBytes(tx), new Uint8Array(Buffer.from(json, 'utf8')));
      assert.equal(txHash(tx), sha256Hex(Buffer.from(json, 'utf8')));
    }),
    { numRuns: 2000 },
  );
});

test('tx signing bytes: shapes off the transfer fast path encode (or fail) exactly as canonicalJson', () => {
  const base = { chainId: 'c', chain: 'shard-0', from: 'ab', nonce: 1, fee: 10n, op: { type: 'transfer', to: 'cd', amount: 5n } };
  const variants: unknown[] = [
    { ...base, memo: 'x' }, // an extra tx key
    { ...base, op: { ...base.op, memo: 'x' } }, // an extra op key
    { ...base, fee: 10 }, // a number where a bigint belongs
    { ...base, op: { ...base.op, amount: 5 } },
    { ...base, nonce: 2n },
    { ...base, op: { ...base.op, to: undefined } }, // an undefined member is omitted
    { ...base, chain: undefined, extra: 'shard-0' }, // six keys, but not the six
    { ...base, op: { type: 'vote', node: 'ab', amount: 5n } },
    { ...base, op: null },
  ];
  for (const tx of variants) {
    let want: string | Error;
    try {
      want = generic(tx);
    } catch (e) {
      want = e as Error;
    }
    if (want instanceof Error) assert.throws(() => txSigningJson(tx as Tx), { name: want.name });
    else assert.equal(txSigningJson(tx as Tx), want);
  }
  // A non-integer nonce fails as in the generic encoding.
  assert.throws(() => txSigningJson({ ...base, nonce: 1.5 } as unknown as Tx), { name: 'EncodingError' });
});
