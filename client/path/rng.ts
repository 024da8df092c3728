/**
 * Random sources for path selection: a uniform double in [0, 1).
 * Production uses `cryptoRng` (path choice must not be predictable); tests inject `seededRng`.
 */
import { createHash, randomBytes } from 'node:crypto';

export type Rng = () => number;

/** 53 bits from the OS CSPRNG. */
export const cryptoRng: Rng = () => {
  const b = randomBytes(8);
  return (b.readUInt32BE(0) * 2 ** 21 + (b.readUInt32BE(4) >>> 11)) / 2 ** 53;
};

/** Deterministic sfc32 generator seeded from SHA-256 of `seed` (tests and reproducible simulations only). */
export function seededRng(seed: string | number): Rng {
  const h = createHash('sha256').update(String(seed)).digest();
  let a = h.readUInt32LE(0);
  let b = h.readUInt32LE(4);
  let c = h.readUInt32LE(8);
  let d = h.readUInt32LE(12);
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  return () => (next() * 2 ** 21 + (next() >>> 11)) / 2 ** 53;
}
