import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { repoRoot } from '../../../common/paths.js';
import {
  canonicalJson,
  decodeJson,
  ed25519Verify,
  encodeJson,
  fromHex,
  homeShard,
  merkleProof,
  merkleRoot,
  sha256Hex,
  signTx,
  verifyMerkleProof,
  verifyTxSignature,
  txSigningBytes,
  type SignedTx,
} from '../../../chain/state/index.js';
import { key, P } from './helpers.js';

test('canonical JSON sorts keys, encodes bigints and bytes, rejects non-integers', () => {
  assert.equal(canonicalJson({ b: 1n, a: [new Uint8Array([1, 255])], c: undefined, d: 'x' }), '{"a":["01ff"],"b":"1","d":"x"}');
  assert.throws(() => canonicalJson({ x: 1.5 }));
  assert.throws(() => canonicalJson([undefined]));
});

/** The definition, written plainly: sorted keys, each value encoded the same way. */
function referenceCanonical(v: unknown): string {
  if (typeof v === 'bigint') return JSON.stringify(v.toString());
  if (Array.isArray(v)) return '[' + v.map(referenceCanonical).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + referenceCanonical(o[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

test('canonical JSON matches the plain definition on random values (keys in any order, repeated, escaped)', () => {
  const keyArb = fc.oneof(fc.constantFrom('a', 'b', 'chain', 'chainId', 'from', 'fee', 'op', 'Z', '"q"', 'é', '\\n'), fc.string({ maxLength: 4 }));
  const leaf = fc.oneof(fc.string(), fc.maxSafeInteger(), fc.boolean(), fc.constant(null), fc.bigInt());
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(keyArb, tie('value'), { maxKeys: 6 })),
  }));
  fc.assert(
    fc.property(value, (v) => {
      assert.equal(canonicalJson(v), referenceCanonical(v));
      // Same members inserted in reverse order: same encoding.
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        const rev = Object.fromEntries(Object.entries(v as Record<string, unknown>).reverse());
        assert.equal(canonicalJson(rev), canonicalJson(v));
      }
    }),
    { numRuns: 500 },
  );
});

test('home shard is uint32_be(sha256(pubkey)[0..4]) mod S', () => {
  const a = key(1).address;
  const h = sha256Hex(fromHex(a));
  assert.equal(homeShard(a, 7), Number(BigInt('0x' + h.slice(0, 8)) % 7n));
});

test('tx signature covers the chain id; codec round-trips a signed tx', () => {
  const k = key(2);
  const stx = signTx({ chainId: P.chainId, chain: 'shard-0', from: k.address, nonce: 3, fee: 10n, op: { type: 'transfer', to: key(3).address, amount: 12345678901234567890n } }, k.seed);
  assert.ok(verifyTxSignature(stx));
  assert.ok(!verifyTxSignature({ ...stx, tx: { ...stx.tx, chainId: 'other' } }));
  assert.ok(!verifyTxSignature({ ...stx, tx: { ...stx.tx, from: key(3).address } }));
  const back = decodeJson<SignedTx>(encodeJson(stx));
  assert.deepEqual(back, stx);
  assert.ok(verifyTxSignature(back));
  assert.deepEqual(txSigningBytes(back.tx), txSigningBytes(stx.tx));
});

test('Merkle proofs verify for every leaf of trees of 1..33 leaves; tampering fails', () => {
  for (let n = 1; n <= 33; n++) {
    const leaves = Array.from({ length: n }, (_, i) => sha256Hex(`leaf-${n}-${i}`));
    const root = merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      const p = merkleProof(leaves, i);
      assert.ok(verifyMerkleProof(root, leaves[i]!, p), `n=${n} i=${i}`);
      if (n > 1) assert.ok(!verifyMerkleProof(root, leaves[(i + 1) % n]!, p));
      if (p.siblings.length > 0) {
        const bad = { ...p, siblings: [sha256Hex('x'), ...p.siblings.slice(1)] };
        assert.ok(!verifyMerkleProof(root, leaves[i]!, bad));
      }
      if (n > 1) assert.ok(!verifyMerkleProof(root, leaves[i]!, { ...p, index: (i + 1) % n }), `wrong index n=${n} i=${i}`);
    }
  }
  // RFC 6962: an odd tree is not the same as one with the last leaf duplicated
  const three = ['aa', 'bb', 'cc'].map((x) => sha256Hex(x));
  assert.notEqual(merkleRoot(three), merkleRoot([...three, three[2]!]));
  assert.equal(merkleRoot([]), sha256Hex(''));
});

function wycheproofPath(): string {
  const local = join(repoRoot(), 'test', 'vectors', 'wycheproof', 'ed25519_test.json');
  return existsSync(local) ? local : join(repoRoot(), '..', 'shared', 'vectors', 'wycheproof', 'ed25519_test.json');
}

interface WycheGroup {
  publicKey: { pk: string };
  tests: { tcId: number; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable' }[];
}

test('ed25519Verify matches the Wycheproof Ed25519 vectors', () => {
  const data = JSON.parse(readFileSync(wycheproofPath(), 'utf8')) as { testGroups: WycheGroup[] };
  let n = 0;
  for (const g of data.testGroups) {
    for (const t of g.tests) {
      const ok = ed25519Verify(Buffer.from(g.publicKey.pk, 'hex'), Buffer.from(t.msg, 'hex'), Buffer.from(t.sig, 'hex'));
      if (t.result === 'valid') assert.ok(ok, `tc ${t.tcId} should verify`);
      if (t.result === 'invalid') assert.ok(!ok, `tc ${t.tcId} should not verify`);
      n++;
    }
  }
  assert.ok(n >= 100, `only ${n} vectors`);
});
