/** Shared pieces of the mangling proxy (deploy/mangle-proxy.ts): kinds, counts, a seeded RNG. */

export const MANGLE_KINDS = ['replay', 'reorder', 'flip', 'truncate'] as const;
export type MangleKind = (typeof MANGLE_KINDS)[number];
export type MangleCounts = Record<MangleKind, number>;

export function mangleCountsZero(): MangleCounts {
  return { replay: 0, reorder: 0, flip: 0, truncate: 0 };
}

/** Packets a correct receiver must drop: every replayed copy, flipped and truncated packet. */
export function mustDrop(c: MangleCounts): number {
  return c.replay + c.flip + c.truncate;
}

/** xorshift32: deterministic for a seed (fault runs can be repeated). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 0x1_0000_0000;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
