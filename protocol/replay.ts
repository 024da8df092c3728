/**
 * RFC 6479 sliding replay window, as wireguard-go replay/replay.go: a ring of 128 blocks of
 * 64 bits (each stored as two uint32 words), accepting counters up to 8128 behind the
 * highest seen. Counters are JS numbers in [0, limit).
 *
 * Contract: call `check(counter)` before decrypting (cheap, no state change) and
 * `mark(counter)` only after the tag verified; `mark` returns false for a duplicate (so a
 * race between check and mark still never accepts a counter twice).
 */
import { REPLAY_BLOCK_BITS, REPLAY_RING_BLOCKS, REPLAY_WINDOW } from './constants.js';
import { MAX_COUNTER } from './limits.js';

const RING_MASK = REPLAY_RING_BLOCKS - 1;

export class ReplayWindow {
  private readonly ring = new Uint32Array(REPLAY_RING_BLOCKS * 2);
  private last = 0;
  /** Counters >= limit are always rejected (REJECT_AFTER_MESSAGES for this implementation). */
  constructor(private readonly limit: number = MAX_COUNTER) {}

  reset(): void {
    this.ring.fill(0);
    this.last = 0;
  }

  /** Highest counter marked so far (0 initially). */
  get highest(): number {
    return this.last;
  }

  /** True if `counter` is acceptable now (not too old, not seen, below the limit). */
  check(counter: number): boolean {
    if (!(counter >= 0 && counter < this.limit) || !Number.isInteger(counter)) return false;
    if (counter > this.last) return true;
    if (this.last - counter > REPLAY_WINDOW) return false;
    const block = Math.floor(counter / REPLAY_BLOCK_BITS) & RING_MASK;
    const bit = counter % REPLAY_BLOCK_BITS;
    const word = this.ring[block * 2 + (bit >>> 5)]!;
    return (word & (1 << (bit & 31))) === 0;
  }

  /** Records `counter`; returns false (and records nothing) if it is not acceptable. */
  mark(counter: number): boolean {
    if (!(counter >= 0 && counter < this.limit) || !Number.isInteger(counter)) return false;
    const indexBlock = Math.floor(counter / REPLAY_BLOCK_BITS);
    if (counter > this.last) {
      const current = Math.floor(this.last / REPLAY_BLOCK_BITS);
      let diff = indexBlock - current;
      if (diff > REPLAY_RING_BLOCKS) diff = REPLAY_RING_BLOCKS;
      for (let i = current + 1; i <= current + diff; i++) {
        const b = (i & RING_MASK) * 2;
        this.ring[b] = 0;
        this.ring[b + 1] = 0;
      }
      this.last = counter;
    } else if (this.last - counter > REPLAY_WINDOW) {
      return false;
    }
    const bit = counter % REPLAY_BLOCK_BITS;
    const idx = (indexBlock & RING_MASK) * 2 + (bit >>> 5);
    const old = this.ring[idx]!;
    const m = 1 << (bit & 31);
    if ((old & m) !== 0) return false;
    this.ring[idx] = old | m;
    return true;
  }
}
