import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { packValue, unpackValue, wireDecode, WireDecodeError, wireEncode, wireToBytes } from '../../../chain/node/wire.js';
import { Mempool } from '../../../chain/node/mempool.js';
import { FrameDecoder, encodeFrame } from '../../../chain/node/net-libp2p.js';
import { generateKeyPair, keyPairFromSeed, signBytes } from '../../../chain/node/keys.js';
import { ed25519VerifyHex } from '../../../common/ed25519.js';

test('wire encoding round-trips bigints and bytes', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.bigInt(), fc.uint8Array({ maxLength: 40 }), (j, n, b) => {
      const v = { j, n, b, arr: [n, b, { n }] };
      const back = wireDecode<typeof v>(wireEncode(v));
      assert.equal(back.n, n);
      assert.deepEqual([...back.b], [...b]);
      assert.equal(back.arr[0], n);
      assert.deepEqual(JSON.stringify(back.j), JSON.stringify(j));
    }),
  );
});

test('packed values round-trip bigints and raw bytes, read legacy wire JSON, and refuse truncation', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.bigInt(), fc.uint8Array({ maxLength: 400 }), (j, n, b) => {
      const v = { j, n, b, arr: [n, b, { n, b }], buf: Buffer.from(b) };
      const packed = packValue(v);
      const back = unpackValue<typeof v>(packed);
      assert.equal(back.n, n);
      assert.deepEqual([...back.b], [...b]);
      assert.deepEqual([...(back.arr[2] as { b: Uint8Array }).b], [...b]);
      assert.deepEqual([...back.buf], [...b]);
      assert.deepEqual(JSON.stringify(back.j), JSON.stringify(j));
      // The same value stored as wire JSON text by an older node still decodes.
      const legacy = unpackValue<typeof v>(wireToBytes(v));
      assert.equal(legacy.n, n);
      assert.deepEqual([...legacy.b], [...b]);
      // Any truncation of a value carrying bytes is an error, never a silently shorter value.
      if (b.length > 0) assert.throws(() => unpackValue(packed.subarray(0, packed.length - 1)), WireDecodeError);
    }),
  );
  // Raw bytes travel raw: a 1000-byte payload costs ~1000 bytes, not 2000 of hex.
  const payload = new Uint8Array(1000).fill(7);
  assert.ok(packValue({ payload }).length < 1100);
  assert.ok(wireToBytes({ payload }).length > 2000);
  assert.throws(() => unpackValue(Uint8Array.from([1, 0, 0, 0, 8, ...Buffer.from('{"$r":0}')])), /no blob 0/);
});

test('frame decoder reassembles frames split at any point', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), fc.integer({ min: 1, max: 50 }), (frames, cut) => {
      const all = Buffer.concat(frames.map((f) => encodeFrame(f)));
      const got: Buffer[] = [];
      const d = new FrameDecoder();
      for (let i = 0; i < all.length; i += cut) d.push(all.subarray(i, i + cut), (f) => got.push(Buffer.from(f)));
      assert.deepEqual(got.map((g) => g.toString('hex')), frames.map((f) => Buffer.from(f).toString('hex')));
    }),
  );
});

test('mempool: per-sender nonce runs, round-robin, claims first, duplicates and slot clashes refused', () => {
  const m = new Mempool<string>(100, 10);
  const add = (hash: string, from: string, nonce: number, nonceFree = false): boolean => m.add({ hash, from, nonce, nonceFree, tx: hash, addedAt: 0 });
  add('a2', 'A', 2);
  add('a0', 'A', 0);
  add('a1', 'A', 1);
  add('b5', 'B', 5);
  add('b7', 'B', 7);
  add('c', 'C', 0, true);
  assert.equal(add('a0', 'A', 0), false);
  assert.throws(() => add('a0x', 'A', 0), /nonce/);
  const nonce = (a: string): number => (a === 'B' ? 5 : 0);
  assert.deepEqual(m.select(nonce, 10).map((p) => p.hash), ['c', 'a0', 'b5', 'a1', 'a2']);
  assert.deepEqual(m.select(nonce, 2).map((p) => p.hash), ['c', 'a0']);
  assert.equal(m.pendingRunEnd('A', 0), 2);
  m.pruneStale((a) => (a === 'A' ? 2 : 0));
  assert.deepEqual(m.select(() => 2, 10).map((p) => p.hash).sort(), ['a2', 'c']);
  m.remove('c');
  assert.equal(m.size, 3);
});

test('keys: seed round-trip, sign/verify, tampering detected', () => {
  const k = generateKeyPair();
  assert.equal(keyPairFromSeed(k.seedHex).address, k.address);
  const msg = Buffer.from('hello');
  const sig = signBytes(k, msg);
  assert.ok(ed25519VerifyHex(k.address, msg, sig));
  assert.ok(!ed25519VerifyHex(k.address, Buffer.from('hellp'), sig));
  assert.ok(!ed25519VerifyHex(generateKeyPair().address, msg, sig));
  assert.ok(!ed25519VerifyHex(k.address, msg, 'zz'));
});

test('batched Merkle proofs equal chain/state merkleProof and verify against merkleRoot', async () => {
  const { merkleProofsAll } = await import('../../../chain/node/merkle-batch.js');
  const { merkleProof, merkleRoot, verifyMerkleProof } = await import('../../../chain/state/merkle.js');
  const { createHash } = await import('node:crypto');
  for (let n = 1; n <= 40; n++) {
    const leaves = Array.from({ length: n }, (_, i) => createHash('sha256').update(`leaf${n}-${i}`).digest('hex'));
    const all = merkleProofsAll(leaves);
    const root = merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      assert.deepEqual(all[i], merkleProof(leaves, i));
      assert.ok(verifyMerkleProof(root, leaves[i]!, all[i]!));
    }
  }
});

test('LevelStore writes packed values on disk and still reads values an older node wrote as wire JSON text', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { ClassicLevel } = await import('classic-level');
  const { LevelStore } = await import('../../../chain/node/store.js');
  const dir = mkdtempSync(join(tmpdir(), 'tv-store-'));
  try {
    const old = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
    await old.put('legacy', wireEncode({ n: 5n, payload: new Uint8Array([1, 2, 3]) }));
    await old.close();
    const st = new LevelStore(dir);
    await st.open();
    await st.batch([{ type: 'put', key: 'new', value: { n: 6n, payload: new Uint8Array([4, 5]) } }]);
    const legacy = await st.get<{ n: bigint; payload: Uint8Array }>('legacy');
    const fresh = await st.get<{ n: bigint; payload: Uint8Array }>('new');
    await st.close();
    assert.equal(legacy?.n, 5n);
    assert.deepEqual([...legacy!.payload], [1, 2, 3]);
    assert.equal(fresh?.n, 6n);
    assert.deepEqual([...fresh!.payload], [4, 5]);
    const raw = new ClassicLevel<string, Uint8Array>(dir, { valueEncoding: 'view' });
    const bytes = await raw.get('new');
    await raw.close();
    assert.equal(bytes?.[0], 0x01, 'new values are stored in the packed envelope');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
