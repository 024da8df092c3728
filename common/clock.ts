/**
 * Injectable time source. Daemons take a Clock so tests can step time instead of sleeping.
 * `now()` is monotonic milliseconds; `wallMs()` is Unix time in ms (for expiry fields on the wire).
 */
export interface Clock {
  now(): number;
  wallMs(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}

/** The real clock: performance.now() and the global timers. */
export class SystemClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;
  now(): number {
    return performance.now();
  }
  wallMs(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    t.unref?.();
    this.timers.set(id, t);
    return { id };
  }
  clearTimeout(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t);
    this.timers.delete(handle.id);
  }
}

/** A clock that only moves when `advance()` is called; timers fire in deadline order. */
export class ManualClock implements Clock {
  private t: number;
  private readonly wallBase: number;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  constructor(startMs = 0, wallBaseMs = 1_700_000_000_000) {
    this.t = startMs;
    this.wallBase = wallBaseMs;
  }
  now(): number {
    return this.t;
  }
  wallMs(): number {
    return this.wallBase + this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id };
  }
  clearTimeout(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }
  /** Move time forward by `ms`, firing every timer whose deadline is reached, in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, p] of this.pending) {
        if (p.at <= target && p.at < nextAt) {
          nextAt = p.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const p = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.t = p.at;
      p.fn();
    }
    this.t = target;
  }
}
