/** A mergeable log-bucket latency histogram (2% wide buckets), serialisable as JSON. */
const BASE = Math.log(1.02);

export type HistJson = Record<string, number>;

export class LatencyHist {
  private readonly b = new Map<number, number>();
  count = 0;

  add(ms: number): void {
    const k = Math.round(Math.log(Math.max(ms, 0.001) * 1000) / BASE);
    this.b.set(k, (this.b.get(k) ?? 0) + 1);
    this.count++;
  }

  merge(j: HistJson): void {
    for (const [k, n] of Object.entries(j)) {
      this.b.set(Number(k), (this.b.get(Number(k)) ?? 0) + n);
      this.count += n;
    }
  }

  toJSON(): HistJson {
    return Object.fromEntries(this.b);
  }

  /** Quantile q in [0,1] in ms (bucket centre); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const keys = [...this.b.keys()].sort((a, z) => a - z);
    const want = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const k of keys) {
      seen += this.b.get(k)!;
      if (seen >= want) return Math.exp(k * BASE) / 1000;
    }
    return Math.exp(keys[keys.length - 1]! * BASE) / 1000;
  }
}
