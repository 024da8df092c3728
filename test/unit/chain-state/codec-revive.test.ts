import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BIGINT_FIELDS, decodeJson, REVIVE_MAX_DEPTH, reviveJson } from '../../../chain/state/codec.js';

/** JSON values whose objects often use the bigint field names, with numeric, signed and other strings under them. */
const fieldName = fc.oneof(fc.constantFrom(...BIGINT_FIELDS), fc.string());
const leaf = fc.oneof(fc.constantFrom('0', '-12', '123456789012345678901234567890', '1.5', '', ' 1', 'x', '__proto__'), fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fieldName, tie('value'), { maxKeys: 5 })),
})).value;

/** The JSON.parse reviver decodeJson used before it was built on reviveJson: the independent reference. */
const reference = (text: string): unknown =>
  JSON.parse(text, (key, value: unknown) => (typeof value === 'string' && BIGINT_FIELDS.has(key) && /^-?[0-9]+$/.test(value) ? BigInt(value) : value));

test('reviveJson(v) equals decodeJson(JSON.stringify(v)) for any JSON value', () => {
  fc.assert(
    fc.property(fc.oneof(jsonish, fc.jsonValue()), (v) => {
      assert.deepStrictEqual(reviveJson(v), decodeJson(JSON.stringify(v)));
      assert.deepStrictEqual(decodeJson(JSON.stringify(v)), reference(JSON.stringify(v)));
    }),
    { numRuns: 2000 },
  );
  assert.ok(Object.is(reviveJson<number[]>(JSON.parse('[-0]'))[0], 0), '-0 reads back as 0');
});

test('reviveJson: a signed transfer from a JSON-RPC request gets its bigints; the input is not changed', () => {
  const raw = JSON.parse('{"tx":{"chainId":"c","chain":"shard-0","from":"ab","nonce":3,"fee":"10","op":{"type":"transfer","to":"cd","amount":"-5"}},"signature":"ef"}') as unknown;
  const copy = structuredClone(raw);
  const stx = reviveJson<{ tx: { fee: bigint; nonce: number; op: { amount: bigint; to: string } } }>(raw);
  assert.equal(stx.tx.fee, 10n);
  assert.equal(stx.tx.op.amount, -5n);
  assert.equal(stx.tx.nonce, 3);
  assert.deepStrictEqual(raw, copy);
});

test('reviveJson: an own "__proto__" member stays a member (as JSON.parse keeps it) and never becomes the prototype', () => {
  const raw = JSON.parse('{"__proto__":{"fee":"1"},"a":1}') as Record<string, unknown>;
  const out = reviveJson<Record<string, unknown>>(raw);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepStrictEqual(Object.keys(out), ['__proto__', 'a']);
  assert.deepStrictEqual(out, decodeJson(JSON.stringify(raw)));
});

test('reviveJson: nesting past REVIVE_MAX_DEPTH is a SyntaxError, nesting up to it is fine', () => {
  const nest = (n: number): unknown => (n === 0 ? 1 : { a: nest(n - 1) });
  assert.doesNotThrow(() => reviveJson(nest(REVIVE_MAX_DEPTH)));
  assert.throws(() => reviveJson(nest(REVIVE_MAX_DEPTH + 1)), { name: 'SyntaxError', message: /nested too deeply/ });
});
