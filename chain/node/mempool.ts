/**
 * Per-chain pool of signature-checked transactions. Ordered per sender by nonce; a proposer
 * takes, round-robin over senders, the run of consecutive nonces starting at each sender's
 * current nonce. Transactions that ignore nonces (channel claims) are taken first-in first-out.
 */
export interface PoolTx<T> {
  readonly hash: string;
  readonly from: string;
  readonly nonce: number;
  /** true: executes regardless of the sender's nonce (e.g. channel-claim) */
  readonly nonceFree: boolean;
  readonly tx: T;
  readonly addedAt: number;
}

export class MempoolFullError extends Error {
  override name = 'MempoolFullError';
}

export class Mempool<T> {
  private readonly bySender = new Map<string, Map<number, PoolTx<T>>>();
  private readonly free = new Map<string, PoolTx<T>>();
  private readonly byHash = new Map<string, PoolTx<T>>();

  constructor(
    readonly maxSize = 50_000,
    readonly maxPerSender = 1024,
  ) {}

  get size(): number {
    return this.byHash.size;
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  get(hash: string): PoolTx<T> | undefined {
    return this.byHash.get(hash);
  }

  /** Adds a tx; false if already present. Throws MempoolFullError when full or the slot (sender, nonce) is taken. */
  add(p: PoolTx<T>): boolean {
    if (this.byHash.has(p.hash)) return false;
    if (this.byHash.size >= this.maxSize) throw new MempoolFullError(`mempool: full (${this.maxSize} transactions)`);
    if (p.nonceFree) {
      this.free.set(p.hash, p);
    } else {
      let m = this.bySender.get(p.from);
      if (!m) {
        m = new Map();
        this.bySender.set(p.from, m);
      }
      if (m.has(p.nonce)) throw new MempoolFullError(`nonce: a transaction with nonce ${p.nonce} from this sender is already pending`);
      if (m.size >= this.maxPerSender) throw new MempoolFullError(`mempool: sender has ${m.size} pending transactions`);
      m.set(p.nonce, p);
    }
    this.byHash.set(p.hash, p);
    return true;
  }

  /** Highest pending nonce of a sender forming a run from `from`, or from-1 when none. */
  pendingRunEnd(sender: string, from: number): number {
    const m = this.bySender.get(sender);
    let n = from;
    while (m?.has(n)) n++;
    return n - 1;
  }

  remove(hash: string): void {
    const p = this.byHash.get(hash);
    if (!p) return;
    this.byHash.delete(hash);
    if (p.nonceFree) this.free.delete(hash);
    else {
      const m = this.bySender.get(p.from);
      m?.delete(p.nonce);
      if (m && m.size === 0) this.bySender.delete(p.from);
    }
  }

  /** Drops txs whose nonce is below the sender's current nonce. */
  pruneStale(nonceOf: (addr: string) => number): void {
    for (const [sender, m] of this.bySender) {
      const cur = nonceOf(sender);
      for (const [n, p] of m) if (n < cur) this.remove(p.hash);
    }
  }

  /** Up to `max` txs executable in order on a state where `nonceOf` gives each sender's nonce; skips `exclude`. */
  select(nonceOf: (addr: string) => number, max: number, exclude?: ReadonlySet<string>): PoolTx<T>[] {
    const out: PoolTx<T>[] = [];
    for (const p of this.free.values()) {
      if (out.length >= max) return out;
      if (!exclude?.has(p.hash)) out.push(p);
    }
    const cursors: Array<{ m: Map<number, PoolTx<T>>; next: number }> = [];
    for (const [sender, m] of this.bySender) cursors.push({ m, next: nonceOf(sender) });
    let progressed = true;
    while (out.length < max && progressed) {
      progressed = false;
      for (const c of cursors) {
        if (out.length >= max) break;
        let p = c.m.get(c.next);
        while (p && exclude?.has(p.hash)) {
          c.next++;
          p = c.m.get(c.next);
        }
        if (!p) continue;
        out.push(p);
        c.next++;
        progressed = true;
      }
    }
    return out;
  }
}
