/**
 * The client's TUN-side traffic counters and the rates over the last few one-second samples
 * (for `status`).
 */

interface Sample {
  t: number;
  bytesIn: number;
  bytesOut: number;
}

const RATE_WINDOW_SAMPLES = 5;

export class TrafficCounters {
  /** From the tunnel into the TUN (downloaded). */
  bytesIn = 0;
  /** From the TUN into the tunnel (uploaded). */
  bytesOut = 0;
  packetsIn = 0;
  packetsOut = 0;
  /** Packets the TUN did not take. */
  tunWriteDrops = 0;
  private samples: Sample[] = [];

  /** Records the byte counts at time `t` (ms); called once a second. */
  sample(t: number): void {
    this.samples.push({ t, bytesIn: this.bytesIn, bytesOut: this.bytesOut });
    if (this.samples.length > RATE_WINDOW_SAMPLES + 1) this.samples.shift();
  }

  /** Bytes per second over the sample window; 0 until two samples span some time. */
  rates(): { rateInBps: number; rateOutBps: number } {
    const [first] = this.samples;
    const last = this.samples[this.samples.length - 1];
    const dt = first && last ? (last.t - first.t) / 1000 : 0;
    return {
      rateInBps: dt > 0 ? Math.round((last!.bytesIn - first!.bytesIn) / dt) : 0,
      rateOutBps: dt > 0 ? Math.round((last!.bytesOut - first!.bytesOut) / dt) : 0,
    };
  }
}
