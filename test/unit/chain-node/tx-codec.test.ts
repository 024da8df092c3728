/**
 * The binary tx list (chain/node/tx-codec.ts) and the binary block payload built on it
 * (chain/node/payload.ts): every list and payload decodes to exactly what was encoded, a
 * well-formed transfer takes the compact form and anything else the JSON form, and every
 * malformed input fails with the codec's own error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodePayload, encodePayload, PAYLOAD_BINARY, PayloadError, type PayloadV1 } from '../../../chain/node/payload.js';
import { decodeTxList, encodeTxList, TxCodecError } from '../../../chain/node/tx-codec.js';
import { wireEncode, wireToBytes } from '../../../chain/node/wire.js';
import { signTx, type SignedTx, type Tx } from '../../../chain/state/index.js';
import { key, P } from '../chain-state/helpers.js';

const hex = (bytes: number): fc.Arbitrary<string> => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const uint256 = fc.oneof(fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }), fc.constantFrom(0n, 1n, 255n, 256n, (1n << 48n) - 1n, 1n << 48n, 1n << 64n, (1n << 256n) - 1n));

/** A transfer the compact form carries. */
const compactTransfer: fc.Arbitrary<SignedTx> = fc
  .record({ chainId: fc.string({ maxLength: 40 }), chain: fc.constantFrom('shard-0', 'shard-1', 'beacon'), from: hex(32), nonce: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)), fee: uint256, to: hex(32), amount: uint256, signature: hex(64) })
  .map((r) => ({ tx: { chainId: r.chainId, chain: r.chain, from: r.from, nonce: r.nonce, fee: r.fee, op: { type: 'transfer', to: r.to, amount: r.amount } } as Tx, signature: r.signature }));

/** Anything a proposer could put in a block: other tx kinds and malformed ones (as plain objects, the only kind a decoder makes). */
const otherTx: fc.Arbitrary<SignedTx> = fc.oneof(
  fc.record({ tx: fc.record({ chainId: fc.string(), chain: fc.constant('shard-0'), from: hex(32), nonce: fc.nat(), fee: fc.bigInt({ min: 0n, max: 10n ** 20n }), op: fc.record({ type: fc.constant('vote'), node: hex(32), amount: fc.bigInt({ min: 0n, max: 10n ** 20n }) }) }), signature: hex(64) }),
  // Through JSON text first: what any JSON carries (no -0, plain objects).
  fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as SignedTx),
).map((v) => structuredClone(v)) as fc.Arbitrary<SignedTx>;

test('tx list: any mix of transfers and other txs decodes to exactly what was encoded', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(compactTransfer, otherTx), { maxLength: 20 }), (list) => {
      assert.deepStrictEqual(decodeTxList(encodeTxList(list)), list);
    }),
    { numRuns: 500 },
  );
});

test('tx list: a signed transfer takes the compact form, under 40% of its wire JSON size', () => {
  const a = key(1);
  const stx = signTx({ chainId: P.chainId, chain: 'shard-0', from: a.address, nonce: 7, fee: 10_000n, op: { type: 'transfer', to: key(2).address, amount: 1_234_567n } }, a.seed);
  const one = encodeTxList([stx]);
  assert.equal(one[4], 0x01, 'compact transfer tag');
  const json = Buffer.byteLength(wireEncode(stx));
  assert.ok(one.byteLength - 4 < 0.4 * json, `${one.byteLength - 4} B against ${json} B of JSON`);
  assert.deepStrictEqual(decodeTxList(one), [stx]);
});

test('tx list: a transfer the compact form cannot give back exactly takes the JSON form and round-trips', () => {
  const base = (): SignedTx => ({ tx: { chainId: 'c', chain: 'shard-0', from: 'ab'.repeat(32), nonce: 1, fee: 10n, op: { type: 'transfer', to: 'cd'.repeat(32), amount: 5n } }, signature: 'ef'.repeat(64) });
  const variants: Array<[string, (s: SignedTx) => unknown]> = [
    ['uppercase from', (s) => ((s.tx as { from: string }).from = 'AB'.repeat(32))],
    ['short to', (s) => ((s.tx.op as { to: string }).to = 'cd')],
    ['short signature', (s) => (s.signature = 'ef')],
    ['extra tx key', (s) => ((s.tx as unknown as Record<string, unknown>).memo = 'x')],
    ['extra op key', (s) => ((s.tx.op as unknown as Record<string, unknown>).memo = 'x')],
    ['extra top-level key', (s) => ((s as unknown as Record<string, unknown>).extra = 1)],
    ['negative amount', (s) => ((s.tx.op as { amount: bigint }).amount = -1n)],
    ['amount of 2^256', (s) => ((s.tx.op as { amount: bigint }).amount = 1n << 256n)],
    ['fee as a number', (s) => ((s.tx as unknown as Record<string, unknown>).fee = 10)],
    ['negative nonce', (s) => ((s.tx as { nonce: number }).nonce = -1)],
    ['fractional nonce', (s) => ((s.tx as { nonce: number }).nonce = 1.5)],
    ['lone surrogate in chain id', (s) => ((s.tx as { chainId: string }).chainId = 'c\ud800')],
    ['chain id over 255 bytes', (s) => ((s.tx as { chainId: string }).chainId = 'é'.repeat(130))],
  ];
  for (const [what, change] of variants) {
    const stx = base();
    change(stx);
    const bytes = encodeTxList([stx]);
    assert.equal(bytes[4], 0x00, `${what}: JSON form`);
    assert.deepStrictEqual(decodeTxList(bytes), [stx], what);
  }
  assert.equal(encodeTxList([base()])[4], 0x01, 'the unchanged transfer is compact');
});

test('tx list: malformed bytes fail with TxCodecError, never another error', () => {
  const list = encodeTxList([
    { tx: { chainId: 'c', chain: 'shard-0', from: 'ab'.repeat(32), nonce: 1, fee: 300n, op: { type: 'transfer', to: 'cd'.repeat(32), amount: 70_000n } }, signature: 'ef'.repeat(64) },
    { tx: { chainId: 'c', chain: 'shard-0', from: 'ab'.repeat(32), nonce: 2, fee: 1n, op: { type: 'unregister' } }, signature: 'ef'.repeat(64) },
  ] as SignedTx[]);
  const refuses = (bytes: Uint8Array, why: RegExp): void => assert.throws(() => decodeTxList(bytes), (e: unknown) => e instanceof TxCodecError && why.test(e.message));
  for (let n = 0; n < list.length; n++) assert.throws(() => decodeTxList(list.subarray(0, n)), TxCodecError, `truncated to ${n} bytes`);
  refuses(Buffer.concat([list, Buffer.of(0)]), /after the last entry/);
  refuses(Buffer.of(0, 0, 0, 1, 0x07), /unknown entry tag 7/);
  refuses(Buffer.of(0xff, 0xff, 0xff, 0xff), /entries declared/);
  // The first entry's fee (300) re-encoded with a leading zero byte.
  const feeAt = 4 + 1 + 2 + 8 + 32 + 8; // count, tag, "c", "shard-0", from, nonce
  assert.deepEqual([...list.subarray(feeAt, feeAt + 3)], [2, 1, 44]);
  refuses(Buffer.concat([list.subarray(0, feeAt), Buffer.of(3, 0, 1, 44), list.subarray(feeAt + 3)]), /leading zero/);
  refuses(Buffer.concat([list.subarray(0, feeAt), Buffer.of(33), Buffer.alloc(33, 1), list.subarray(feeAt + 3)]), /uint of 33 bytes/);
  // A nonce above 2^53 − 1.
  const nonceAt = feeAt - 8;
  refuses(Buffer.concat([list.subarray(0, nonceAt), Buffer.of(0, 0x20, 0, 0, 0, 0, 0, 0), list.subarray(feeAt)]), /above 2\^53/);
  // A JSON entry that is not JSON.
  refuses(Buffer.of(0, 0, 0, 1, 0x00, 0, 0, 0, 2, 0x7b, 0x7b), /bad JSON entry/);
});

const payloadOf = (txs: SignedTx[], stateRoot = 'aa'.repeat(32)): PayloadV1 => ({
  v: 1,
  stateRoot,
  receiptsRoot: 'bb'.repeat(32),
  body: { chain: 'shard-1', height: 9, txs, receipts: [{ source: 'shard-0', destination: 'shard-1', id: 3, kind: 'transfer', amount: 5n, payload: { to: 'cd'.repeat(32) } }] as unknown as PayloadV1['body']['receipts'], confirms: [{ from: 'beacon', appliedUpTo: 4 }] },
  refs: [{ sourceHeight: 2, blockHash: 'ee'.repeat(32), proof: { index: 0, size: 1, path: [] } as unknown as PayloadV1['refs'][number]['proof'] }],
});

test('payload: binary form round-trips with receipts, confirms and refs; JSON form for roots that are not hex; older JSON payloads still decode', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(compactTransfer, otherTx), { maxLength: 8 }), (txs) => {
      const p = payloadOf(txs);
      const bytes = encodePayload(p);
      assert.equal(bytes[0], PAYLOAD_BINARY);
      assert.deepStrictEqual(decodePayload(bytes), p);
    }),
    { numRuns: 200 },
  );
  const odd = payloadOf([], 'not-hex');
  const oddBytes = encodePayload(odd);
  assert.equal(String.fromCharCode(oddBytes[0]!), '{', 'JSON form');
  assert.deepStrictEqual(decodePayload(oddBytes), odd);
  const old = payloadOf([]);
  assert.deepStrictEqual(decodePayload(wireToBytes(old)), old, 'a payload stored before the binary form');
});

test('payload: malformed binary payloads fail with PayloadError', () => {
  const bytes = encodePayload(payloadOf([{ tx: { chainId: 'c', chain: 'shard-1', from: 'ab'.repeat(32), nonce: 0, fee: 1n, op: { type: 'transfer', to: 'cd'.repeat(32), amount: 2n } }, signature: 'ef'.repeat(64) } as SignedTx]));
  for (let n = 1; n < bytes.length; n += 7) assert.throws(() => decodePayload(bytes.subarray(0, n)), PayloadError, `truncated to ${n} bytes`);
  // The JSON part without a body.
  const rest = Buffer.from('{"refs":[]}');
  const noBody = Buffer.concat([Buffer.of(PAYLOAD_BINARY), Buffer.alloc(64, 0xaa), Buffer.of(0, 0, 0, rest.length), rest, Buffer.of(0, 0, 0, 0)]);
  assert.throws(() => decodePayload(noBody), (e: unknown) => e instanceof PayloadError && /body missing/.test(e.message));
  // One ref per receipt, as for a JSON payload.
  const p = payloadOf([]);
  assert.throws(() => decodePayload(encodePayload({ ...p, refs: [] })), (e: unknown) => e instanceof PayloadError && /one ref per receipt/.test(e.message));
});
