/**
 * SHA-256 call styles on node:crypto for the input sizes the chain hashes (a transfer tx's
 * signing bytes ≈ 260 B, a trie leaf ≈ 100 B, a trie inner node 513 B): createHash vs the
 * one-shot `hash`, hex and byte output. Why chain/state/encoding.ts hashes with `hash`.
 * Prints one JSON object: ns per hash for each style and size, and the speed-ups used.
 *   node dist/bench/hash.js
 */
import { createHash, hash } from 'node:crypto';

const N = Number(process.env.BENCH_N ?? 300_000);

function nsPer(inputs: readonly Buffer[], f: (b: Buffer) => unknown): number {
  for (let i = 0; i < 20_000; i++) f(inputs[i % inputs.length]!);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(inputs[i % inputs.length]!);
  return Math.round(Number(process.hrtime.bigint() - t) / N);
}

const out: Record<string, Record<string, number>> = {};
for (const size of [100, 260, 513]) {
  const inputs = Array.from({ length: 1000 }, (_, i) => {
    const b = Buffer.alloc(size, 7);
    b.writeUInt32BE(i);
    return b;
  });
  const r = {
    createHash_hex: nsPer(inputs, (b) => createHash('sha256').update(b).digest('hex')),
    hash_hex: nsPer(inputs, (b) => hash('sha256', b, 'hex')),
    createHash_bytes: nsPer(inputs, (b) => createHash('sha256').update(b).digest()),
    hash_binary_to_pooled_buffer: nsPer(inputs, (b) => Buffer.from(hash('sha256', b, 'binary'), 'binary')),
  };
  out[`${size}B`] = { ...r, hex_speedup: +(r.createHash_hex / r.hash_hex).toFixed(2), bytes_speedup: +(r.createHash_bytes / r.hash_binary_to_pooled_buffer).toFixed(2) };
}
console.log(JSON.stringify(out));
