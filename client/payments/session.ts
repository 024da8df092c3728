/**
 * The client's payment session: joins a built Circuit to one HopSigner per hop (no IO of its
 * own; the circuit carries the controls, the injected clock drives retries).
 *
 * Life of a session:
 *  1. `bind()` (after `circuit.build()`): CHANNEL_BIND to every hop at once, re-sent every
 *     `retryMs` until that hop answers; resolves when every hop said CHANNEL_BOUND, rejects
 *     with ChannelRefusedError (naming the hop and the reason), PriceMismatchError (the hop
 *     states more than the agreed price) or BindTimeoutError. Before the bind, relays carry only
 *     a small pre-bind credit of traffic (relay/payments/hooks.ts), enough for the build and the
 *     binds, so IP traffic must wait for `bind()`.
 *  2. Counting: each hop's billed bytes come from `circuit.stats().hopBytes` (the billing
 *     contract of protocol/payment.ts), counted from the circuit's first packet — the relay
 *     records its pre-bind bytes on the channel when it binds, so both count the same bytes.
 *     The counts are pulled into the signers on `update()`: after every `updateEveryBytes` of
 *     IP through `sendIp` / the `onIp` handler, on every payment control, and every `tickMs`.
 *  3. Receipts: a HopSigner signs at its cadence (default 1 MiB per hop); PAYMENT_REQUIRED from
 *     a hop signs for min(what it claims, what we measured + tolerance) at once.
 *  4. Pause: while a hop has said PAYMENT_REQUIRED and no RECEIPT_ACK came since that accepted a
 *     receipt or shows the hop holds our latest one (its 'accepted' ack may have been lost), the
 *     session holds IP: `sendIp` drops (counted `held`) rather than queueing, as any congested
 *     link does (TCP retransmits, a queue would only add latency). Every `retryMs` while held,
 *     the hop is offered a receipt again (the last one or a new one), in case one was lost.
 *  5. Overclaim: a hop whose PAYMENT_REQUIRED / RECEIPT_ACK figures exceed what an honest relay
 *     can report (HopSigner's bound) gets no more receipts: the session ends (`failed`), closes
 *     the circuit and reports the hop through `onOverclaim`.
 *  6. `finish()` signs a last receipt for everything measured on every hop and stops the
 *     session's timer (the caller closes the circuit; a closed circuit also ends the session).
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Circuit } from '../circuit.js';
import {
  decodePaymentControl,
  encodePaymentControl,
  MalformedPaymentError,
  PaymentCtrl,
  RECEIPT_OUTCOMES,
  type BindRefusal,
  type PaymentControl,
  type ReceiptOutcome,
  type SignedPaymentReceipt,
} from '../../protocol/payment.js';
import { OverclaimError } from './errors.js';
import { HopSigner, type HopSignerOptions, type ReceiptResume, type RelayServed } from './signer.js';
import { BindTimeoutError, ChannelRefusedError, PaymentSessionError, PriceMismatchError } from './session-errors.js';

export { BindTimeoutError, ChannelRefusedError, PaymentSessionError, PriceMismatchError } from './session-errors.js';

export const DEFAULT_BIND_RETRY_MS = 1_000;
export const DEFAULT_BIND_TIMEOUT_MS = 10_000;
export const DEFAULT_SESSION_TICK_MS = 100;
/** Pull the byte counts into the signers after this much IP (either direction). */
export const DEFAULT_UPDATE_EVERY_BYTES = 64 * 1024;

/** The channel that pays one hop. */
export interface HopChannel {
  channelId: string;
  deposit: bigint;
  /** The price we agreed to (the relay's descriptor / registration); a higher CHANNEL_BOUND price is refused. */
  pricePerGiB: bigint;
  /** The relay's address (for reports). */
  relay?: string;
  /** A reused channel: our last receipt on it (from the wallet store). */
  resume?: ReceiptResume;
}

export type HopPayState = 'unbound' | 'binding' | 'bound' | 'paused' | 'refused' | 'overclaimed' | 'exhausted';
export type SessionState = 'new' | 'binding' | 'active' | 'failed' | 'finished';

export interface OverclaimReport {
  hop: number;
  relay: string | undefined;
  channelId: string;
  error: OverclaimError;
}

export interface PaymentSessionOptions {
  circuit: Circuit;
  clock: Clock;
  log: Logger;
  chainId: string;
  /** Payer address (hex Ed25519 public key) and its seed (signs receipts). */
  payer: string;
  payerSeed: Uint8Array;
  /** One per circuit hop, entry first. */
  hops: HopChannel[];
  signer?: Pick<HopSignerOptions, 'cadenceBytes' | 'tolerancePpm' | 'toleranceSlackBytes'>;
  retryMs?: number;
  bindTimeoutMs?: number;
  tickMs?: number;
  updateEveryBytes?: number;
  /** A relay overclaimed: the session has failed and closed the circuit. */
  onOverclaim?: (r: OverclaimReport) => void;
  /** Every receipt we sign (persist it: it is the resume point of a reused channel). */
  onSigned?: (hop: number, r: SignedPaymentReceipt) => void;
  /** A hop's deposit is fully promised: open a bigger channel and rebuild. */
  onExhausted?: (hop: number) => void;
  /**
   * TEST ONLY (attack suites, client-payments.ts TEST_STOP_PAYING_ENV): receipts for more than
   * this many bytes are signed but never sent, and IP is never held: a client that stops paying.
   */
  stopPayingAfterBytes?: bigint;
}

export interface HopPayStats {
  state: HopPayState;
  channelId: string;
  measuredBytes: bigint;
  signed: number;
  promisedAmount: bigint;
  bestAckedSeq: number;
  paymentRequired: number;
  acks: Record<ReceiptOutcome, number>;
  refusal: BindRefusal | undefined;
}

export interface PaymentSessionStats {
  state: SessionState;
  hops: HopPayStats[];
  /** IP packets dropped because a hop was paused (or the session not active). */
  held: number;
  /** Receipts signed but not sent (test-only stopPayingAfterBytes). */
  withheld: number;
  notActive: number;
  malformed: number;
}

interface HopRun {
  ch: HopChannel;
  state: HopPayState;
  signer: HopSigner | undefined;
  seenForward: number;
  seenBackward: number;
  bindSentAt: number;
  bindStartedAt: number;
  lastServed: RelayServed | undefined;
  offeredAt: number;
  paymentRequired: number;
  bestAckedSeq: number;
  acks: Record<ReceiptOutcome, number>;
  refusal: BindRefusal | undefined;
}

function zeroAcks(): Record<ReceiptOutcome, number> {
  const o = {} as Record<ReceiptOutcome, number>;
  for (const k of RECEIPT_OUTCOMES) o[k] = 0;
  return o;
}

export class PaymentSession {
  private readonly c: Circuit;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly hops: HopRun[];
  private readonly retryMs: number;
  private readonly bindTimeoutMs: number;
  private readonly tickMs: number;
  private readonly updateEvery: number;
  private st: SessionState = 'new';
  private timer: TimerHandle | undefined;
  private ipHandler: ((packets: Buffer[]) => void) | undefined;
  private ipSince = 0;
  private paused = 0;
  private held = 0;
  private notActive = 0;
  private malformed = 0;
  private withheld = 0;
  private bindWait: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly o: PaymentSessionOptions) {
    this.c = o.circuit;
    this.clock = o.clock;
    this.log = o.log;
    if (o.hops.length === 0) throw new PaymentSessionError('no hops');
    this.hops = o.hops.map((ch) => ({
      ch,
      state: 'unbound',
      signer: undefined,
      seenForward: 0,
      seenBackward: 0,
      bindSentAt: 0,
      bindStartedAt: 0,
      lastServed: undefined,
      offeredAt: 0,
      paymentRequired: 0,
      bestAckedSeq: 0,
      acks: zeroAcks(),
      refusal: undefined,
    }));
    this.retryMs = o.retryMs ?? DEFAULT_BIND_RETRY_MS;
    this.bindTimeoutMs = o.bindTimeoutMs ?? DEFAULT_BIND_TIMEOUT_MS;
    this.tickMs = o.tickMs ?? DEFAULT_SESSION_TICK_MS;
    this.updateEvery = o.updateEveryBytes ?? DEFAULT_UPDATE_EVERY_BYTES;
    this.c.onAppControl((hop, body) => this.onControl(hop, body));
    this.c.onIp((packets) => {
      for (const p of packets) this.ipSince += p.length;
      this.ipHandler?.(packets);
      if (this.ipSince >= this.updateEvery) this.update();
    });
  }

  get state(): SessionState {
    return this.st;
  }

  /** Receives the circuit's IP packets (the session owns `circuit.onIp`). */
  onIp(handler: (packets: Buffer[]) => void): void {
    this.ipHandler = handler;
  }

  /** The signer of hop `hop` once bound (tests, diagnostics). */
  signer(hop: number): HopSigner | undefined {
    return this.hops[hop]?.signer;
  }

  /** Binds every hop (see module comment). The circuit must be up. */
  bind(): Promise<void> {
    if (this.st !== 'new') return Promise.reject(new PaymentSessionError(`bind() on a ${this.st} session`));
    if (this.c.state !== 'up') return Promise.reject(new PaymentSessionError(`bind() needs an up circuit (is ${this.c.state})`));
    if (this.c.stats().hopsBuilt !== this.hops.length) return Promise.reject(new PaymentSessionError(`${this.hops.length} hop channels for a ${this.c.stats().hopsBuilt}-hop circuit`));
    this.st = 'binding';
    const now = this.clock.now();
    const p = new Promise<void>((resolve, reject) => {
      this.bindWait = { resolve, reject };
    });
    this.hops.forEach((h, i) => {
      h.state = 'binding';
      h.bindStartedAt = now;
      this.sendBind(i);
    });
    this.schedule();
    return p;
  }

  /** Sends IP through the circuit unless a hop is paused (then dropped, counted `held`). */
  sendIp(packets: Buffer[]): void {
    if (this.st !== 'active') {
      this.notActive += packets.length;
      return;
    }
    if (this.paused > 0 && this.o.stopPayingAfterBytes === undefined) {
      this.held += packets.length;
      return;
    }
    this.c.sendIp(packets);
    for (const p of packets) this.ipSince += p.length;
    if (this.ipSince >= this.updateEvery) this.update();
  }

  /** True while some hop waits for payment (IP is held). */
  get holding(): boolean {
    return this.paused > 0;
  }

  /** Pulls the per-hop byte counts into the signers and sends receipts due at cadence. */
  update(): void {
    this.ipSince = 0;
    if (this.st !== 'active' && this.st !== 'binding') return;
    const hb = this.c.stats().hopBytes;
    for (let i = 0; i < this.hops.length; i++) {
      const h = this.hops[i]!;
      const s = h.signer;
      if (s === undefined) continue;
      const b = hb[i]!;
      if (b.forward > h.seenForward) s.recordSent(b.forward - h.seenForward);
      if (b.backward > h.seenBackward) s.recordReceived(b.backward - h.seenBackward);
      h.seenForward = b.forward;
      h.seenBackward = b.backward;
      const r = s.maybeSign();
      if (r) this.sendReceipt(i, r);
    }
  }

  /** Signs a last receipt for everything measured on every hop and stops the timer. */
  finish(): void {
    if (this.st === 'finished' || this.st === 'failed') return;
    this.update();
    this.hops.forEach((h, i) => {
      const r = h.signer?.flush();
      if (r) this.sendReceipt(i, r);
    });
    this.end('finished');
  }

  stats(): PaymentSessionStats {
    return {
      state: this.st,
      held: this.held,
      withheld: this.withheld,
      notActive: this.notActive,
      malformed: this.malformed,
      hops: this.hops.map((h) => ({
        state: h.state,
        channelId: h.ch.channelId,
        measuredBytes: h.signer?.measuredBytes ?? 0n,
        signed: h.signer?.signedCount ?? 0,
        promisedAmount: h.signer?.promisedAmount ?? h.ch.resume?.cumulativeAmount ?? 0n,
        bestAckedSeq: h.bestAckedSeq,
        paymentRequired: h.paymentRequired,
        acks: { ...h.acks },
        refusal: h.refusal,
      })),
    };
  }

  // ------------------------------------------------------------------ internals

  private sendBind(i: number): void {
    const h = this.hops[i]!;
    h.bindSentAt = this.clock.now();
    this.c.sendAppControl(i, encodePaymentControl({ ctype: PaymentCtrl.CHANNEL_BIND, chainId: this.o.chainId, channelId: h.ch.channelId, payer: this.o.payer }));
  }

  private sendReceipt(i: number, r: SignedPaymentReceipt): void {
    this.hops[i]!.offeredAt = this.clock.now();
    const stopAt = this.o.stopPayingAfterBytes;
    if (stopAt !== undefined && r.receipt.cumulativeBytes > stopAt) {
      this.withheld++;
      return;
    }
    this.c.sendAppControl(i, encodePaymentControl({ ctype: PaymentCtrl.RECEIPT, ...r }));
    try {
      this.o.onSigned?.(i, r);
    } catch (e) {
      this.log.warn({ err: e }, 'payments: onSigned threw');
    }
    this.checkExhausted(i);
  }

  private checkExhausted(i: number): void {
    const h = this.hops[i]!;
    if (h.signer?.state === 'exhausted' && h.state !== 'exhausted') {
      if (h.state === 'paused') this.paused--;
      h.state = 'exhausted';
      this.log.warn({ hop: i, channel: h.ch.channelId.slice(0, 12) }, 'payments: channel deposit exhausted');
      this.o.onExhausted?.(i);
    }
  }

  private onControl(hop: number, body: Buffer): void {
    if (this.st === 'failed' || this.st === 'finished' || this.st === 'new') return;
    let m: PaymentControl;
    try {
      m = decodePaymentControl(body);
    } catch (e) {
      if (!(e instanceof MalformedPaymentError)) throw e;
      this.malformed++;
      return;
    }
    const h = this.hops[hop];
    if (h === undefined) return;
    try {
      switch (m.ctype) {
        case PaymentCtrl.CHANNEL_BOUND:
          return this.onBound(hop, h, m);
        case PaymentCtrl.CHANNEL_REFUSED:
          if (h.state !== 'binding') return;
          h.state = 'refused';
          h.refusal = m.reason;
          return this.failBind(new ChannelRefusedError(hop, h.ch.channelId, m.reason));
        case PaymentCtrl.PAYMENT_REQUIRED:
          return this.onPaymentRequired(hop, h, m);
        case PaymentCtrl.RECEIPT_ACK:
          return this.onAck(hop, h, m);
        default:
          this.malformed++; // client → hop messages have no business arriving here
          return;
      }
    } catch (e) {
      if (e instanceof OverclaimError) return this.overclaimed(hop, h, e);
      throw e;
    }
  }

  private onBound(hop: number, h: HopRun, m: Extract<PaymentControl, { ctype: typeof PaymentCtrl.CHANNEL_BOUND }>): void {
    if (h.state !== 'binding') return; // a duplicate answer to a re-sent BIND
    if (m.pricePerGiB > h.ch.pricePerGiB) {
      h.state = 'refused';
      return this.failBind(new PriceMismatchError(hop, m.pricePerGiB, h.ch.pricePerGiB));
    }
    // Resume from our own record; without one, from the hop's best (our signature it holds; the
    // exposure is bounded by the deposit). The seq follows whichever is higher so we are never stale.
    const own = h.ch.resume;
    let resume: ReceiptResume | undefined = own ?? (m.bestSeq > 0 ? { seq: m.bestSeq, cumulativeBytes: m.bestBytes, cumulativeAmount: m.bestAmount > h.ch.deposit ? h.ch.deposit : m.bestAmount } : undefined);
    if (resume && m.bestSeq > resume.seq) resume = { ...resume, seq: m.bestSeq };
    h.signer = new HopSigner({
      chainId: this.o.chainId,
      channelId: h.ch.channelId,
      payerSeed: this.o.payerSeed,
      deposit: h.ch.deposit,
      pricePerGiB: m.pricePerGiB,
      relayCreditWindowBytes: m.creditWindowBytes,
      relayLossAllowancePpm: m.lossAllowancePpm,
      relayBaselineBytes: m.servedBytes,
      ...(resume ? { resume } : {}),
      ...this.o.signer,
    });
    h.state = 'bound';
    this.log.debug({ hop, channel: h.ch.channelId.slice(0, 12) }, 'payments: hop bound');
    if (this.hops.every((x) => x.state === 'bound')) {
      this.st = 'active';
      const w = this.bindWait;
      this.bindWait = undefined;
      w?.resolve();
    }
    this.update();
    this.checkExhausted(hop);
  }

  private onPaymentRequired(hop: number, h: HopRun, m: RelayServed): void {
    const s = h.signer;
    if (s === undefined || (h.state !== 'bound' && h.state !== 'paused')) return;
    h.paymentRequired++;
    this.update();
    h.lastServed = { servedForward: m.servedForward, servedBackward: m.servedBackward };
    if (h.state === 'bound') {
      h.state = 'paused';
      this.paused++;
    }
    const r = s.onPaymentRequired(h.lastServed);
    if (r) this.sendReceipt(hop, r);
  }

  private onAck(hop: number, h: HopRun, m: Extract<PaymentControl, { ctype: typeof PaymentCtrl.RECEIPT_ACK }>): void {
    const s = h.signer;
    if (s === undefined) return;
    h.acks[m.outcome]++;
    s.onAck(m);
    if (m.bestSeq > h.bestAckedSeq) h.bestAckedSeq = m.bestSeq;
    // The hold ends on an accepting ack, or once the hop holds our latest receipt (its ack of
    // that receipt may have been lost and a re-offer is then 'stale'); if the hop still wants
    // more, the traffic we resume makes it say PAYMENT_REQUIRED again.
    const holdsLatest = m.bestSeq >= (s.lastReceipt?.receipt.seq ?? Number.MAX_SAFE_INTEGER);
    if (m.outcome !== 'accepted') {
      this.log.debug({ hop, outcome: m.outcome }, 'payments: receipt not accepted');
      if (h.state === 'paused' && !holdsLatest) {
        h.lastServed = { servedForward: m.servedForward, servedBackward: m.servedBackward };
        return;
      }
    }
    if (h.state === 'paused') {
      h.state = 'bound';
      this.paused--;
    }
  }

  private overclaimed(hop: number, h: HopRun, error: OverclaimError): void {
    if (h.state === 'paused') this.paused--;
    h.state = 'overclaimed';
    this.log.warn({ hop, channel: h.ch.channelId.slice(0, 12), relay: h.ch.relay?.slice(0, 12), err: error.message }, 'payments: relay overclaimed; circuit torn down');
    this.end('failed');
    this.c.close();
    try {
      this.o.onOverclaim?.({ hop, relay: h.ch.relay, channelId: h.ch.channelId, error });
    } catch (e) {
      this.log.warn({ err: e }, 'payments: onOverclaim threw');
    }
  }

  private failBind(e: Error): void {
    this.end('failed');
    const w = this.bindWait;
    this.bindWait = undefined;
    w?.reject(e);
  }

  private end(state: 'failed' | 'finished'): void {
    this.st = state;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => this.tick(), this.tickMs);
  }

  /** Bind retries/timeout, receipts at cadence, re-offers while paused. Runs every tickMs. */
  tick(): void {
    this.timer = undefined;
    if (this.st !== 'binding' && this.st !== 'active') return;
    const cs = this.c.state;
    if (cs === 'closed' || cs === 'down') {
      this.failBind(new PaymentSessionError(`circuit ${cs}`));
      return;
    }
    const now = this.clock.now();
    try {
      for (let i = 0; i < this.hops.length && this.st === 'binding'; i++) {
        const h = this.hops[i]!;
        if (h.state !== 'binding') continue;
        if (now - h.bindStartedAt >= this.bindTimeoutMs) return this.failBind(new BindTimeoutError(i, h.ch.channelId, now - h.bindStartedAt));
        if (now - h.bindSentAt >= this.retryMs) this.sendBind(i);
      }
      this.update();
      for (let i = 0; i < this.hops.length; i++) {
        const h = this.hops[i]!;
        if (h.state !== 'paused' || h.signer === undefined || now - h.offeredAt < this.retryMs) continue;
        const r = h.lastServed ? h.signer.onPaymentRequired(h.lastServed) : h.signer.lastReceipt;
        if (r) this.sendReceipt(i, r);
        else h.offeredAt = now;
      }
    } catch (e) {
      if (!(e instanceof OverclaimError)) throw e;
      const i = this.hops.findIndex((h) => h.signer?.state === 'overclaimed');
      if (i >= 0) this.overclaimed(i, this.hops[i]!, e);
      return;
    }
    if (this.st === 'binding' || this.st === 'active') this.schedule();
  }
}
