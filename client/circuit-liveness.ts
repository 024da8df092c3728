/**
 * Dead-hop detection for a client circuit (IO-free, driven by the circuit's tick).
 *
 * Contract: the circuit calls `sent(now)` for every packet it emits while up and
 * `heard(hop, now)` for every backward packet whose layer `hop` authenticated (so hops
 * 0..hop are alive). A silent period starts with the first packet sent after the last
 * answer from the last hop (the exit). Once it lasts `probeMs`, `check()` asks for a
 * probe round (a PADDING to every hop; each relay answers PADDING with PADDING) every
 * `probeMs`; once it lasts `deadMs`, `check()` names the first hop that has not answered
 * since probing began: the circuit is then down with reason 'unresponsive'.
 * An idle circuit is never silent (nothing sent, nothing owed); its keepalive starts one.
 */

export interface LivenessOptions {
  /** Silence after which (and interval at which) every hop is probed. */
  probeMs: number;
  /** Silence after which the circuit is declared dead. */
  deadMs: number;
}

/** Defaults the client daemon uses: failure → detection in ~1.5 s. */
export const DEFAULT_LIVENESS: LivenessOptions = { probeMs: 500, deadMs: 1_500 };

export type LivenessAction = { kind: 'none' } | { kind: 'probe' } | { kind: 'dead'; hop: number; silentMs: number };

export class LivenessError extends Error {
  override readonly name = 'LivenessError';
}

export class Liveness {
  private readonly heardAt: Array<number | undefined>;
  private silentSince: number | undefined;
  private probingSince: number | undefined;
  private lastProbeAt: number | undefined;
  private probeRounds = 0;

  constructor(
    private readonly hops: number,
    private readonly o: LivenessOptions,
  ) {
    if (!Number.isInteger(hops) || hops < 1) throw new LivenessError(`hops must be >= 1, got ${hops}`);
    if (!(o.probeMs > 0) || !(o.deadMs > 0)) throw new LivenessError('probeMs and deadMs must be > 0');
    this.heardAt = Array.from({ length: hops }, () => undefined);
  }

  /** Probe rounds asked for so far. */
  get probes(): number {
    return this.probeRounds;
  }

  /** Start of the current silent period, if any. */
  get silentFrom(): number | undefined {
    return this.silentSince;
  }

  sent(now: number): void {
    this.silentSince ??= now;
  }

  heard(hop: number, now: number): void {
    if (hop < 0 || hop >= this.hops) return;
    for (let i = 0; i <= hop; i++) this.heardAt[i] = now;
    if (hop === this.hops - 1) {
      this.silentSince = undefined;
      this.probingSince = undefined;
      this.lastProbeAt = undefined;
    }
  }

  check(now: number): LivenessAction {
    const since = this.silentSince;
    if (since === undefined) return { kind: 'none' };
    const silent = now - since;
    if (silent >= this.o.deadMs) {
      const from = this.probingSince ?? since;
      let hop = 0;
      while (hop < this.hops - 1 && (this.heardAt[hop] ?? -Infinity) >= from) hop++;
      return { kind: 'dead', hop, silentMs: silent };
    }
    if (silent >= this.o.probeMs && (this.lastProbeAt === undefined || now - this.lastProbeAt >= this.o.probeMs)) {
      this.lastProbeAt = now;
      this.probingSince ??= now;
      this.probeRounds++;
      return { kind: 'probe' };
    }
    return { kind: 'none' };
  }
}
