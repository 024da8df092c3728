/**
 * The relay's payment hooks: joins the pure payment pieces (bind check, CircuitMeter, receipts)
 * to the RelayEngine through its `CircuitHooks` seam. No IO of its own: the chain is read
 * through a `ChannelSource` (JSON-RPC in the daemon, a fake in tests), replies go out through
 * the engine's `sendAppControl` (bound late with `attach`, since the engine takes the hooks in
 * its constructor).
 *
 * Per circuit:
 *  - unbound (before CHANNEL_BIND is accepted): the circuit may carry at most
 *    `preBindCreditBytes` (default 64 KiB, both directions together) of traffic (IP / FORWARD
 *    kinds); anything beyond is dropped by the engine as `unpaid`. Control traffic (EXTEND,
 *    EXIT_OPEN, payment controls, PADDING, our own replies) always passes and is counted. The
 *    credit covers the telescopic build through this hop and the CHANNEL_BINDs carried to the
 *    hops behind it (a few hundred bytes per hop), so a client may bind after the build. Every
 *    byte counted before the bind is recorded on the channel when it binds, so the circuit is
 *    billed from its first packet, exactly as the client counts it (`Circuit.stats().hopBytes`).
 *  - CHANNEL_BIND: the channel is read (cached) and checked with `checkChannelBind`; answered
 *    CHANNEL_BOUND (terms, best receipt, bytes the channel had served before this circuit) or
 *    CHANNEL_REFUSED(reason). A refused circuit stays unbound (its credit keeps shrinking). A
 *    repeated BIND of the bound channel is answered again (retransmission); another channel on
 *    a bound circuit is ignored (counted `rebindIgnored`).
 *  - bound: every billed packet goes through `CircuitMeter.admit` (traffic) or `record`
 *    (controls, always carried); the first refused packet of a pause (and then every
 *    `rerequestEvery` refusals) sends PAYMENT_REQUIRED. Payment controls are CONTROL kind, so
 *    the pause never blocks them.
 *  - RECEIPT: checked by `CircuitMeter.onReceipt` against the latest (cached) chain view of the
 *    channel, answered RECEIPT_ACK. A receipt on an unbound circuit is answered
 *    RECEIPT_ACK(wrong_channel) with zero figures.
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Channel } from '../../chain/state/types.js';
import { KiB } from '../../protocol/payment-price.js';
import {
  decodePaymentControl,
  encodePaymentControl,
  MalformedPaymentError,
  PaymentCtrl,
  RECEIPT_OUTCOMES,
  type BindRefusal,
  type PaymentControl,
  type ReceiptOutcome,
} from '../../protocol/payment.js';
import type { CircuitHooks } from '../engine.js';
import { checkChannelBind } from './bind.js';
import { MeterConfigError } from './errors.js';
import { CircuitMeter, DEFAULT_CREDIT_WINDOW_BYTES, type ReceiptBook } from './meter.js';

/** Default traffic an unbound circuit may carry (see module comment). */
export const DEFAULT_PRE_BIND_CREDIT_BYTES = 64n * KiB;
/** Default life of a cached channel view. */
export const DEFAULT_CHANNEL_CACHE_MS = 5_000;

/** Where the hooks read channels: null = unknown channel; a throw = chain unreachable. */
export interface ChannelSource {
  getChannel(channelId: string): Promise<Channel | null>;
}

/**
 * A ChannelSource with a short cache (`ttlMs`) and one lookup in flight per channel. Failed
 * lookups are not cached. `invalidate(id)` forgets a view (e.g. on a chain event).
 */
export class CachedChannelSource implements ChannelSource {
  private readonly cache = new Map<string, { at: number; ch: Channel | null }>();
  private readonly inflight = new Map<string, Promise<Channel | null>>();
  lookups = 0;

  constructor(
    private readonly inner: ChannelSource,
    private readonly clock: Clock,
    readonly ttlMs: number = DEFAULT_CHANNEL_CACHE_MS,
  ) {}

  getChannel(channelId: string): Promise<Channel | null> {
    const hit = this.cache.get(channelId);
    if (hit && this.clock.now() - hit.at < this.ttlMs) return Promise.resolve(hit.ch);
    const f = this.inflight.get(channelId);
    if (f) return f;
    this.lookups++;
    const p = this.inner.getChannel(channelId).then(
      (ch) => {
        this.inflight.delete(channelId);
        this.cache.set(channelId, { at: this.clock.now(), ch });
        return ch;
      },
      (e: unknown) => {
        this.inflight.delete(channelId);
        throw e;
      },
    );
    this.inflight.set(channelId, p);
    return p;
  }

  /** The cached view, even if expired (no lookup). */
  peek(channelId: string): Channel | null | undefined {
    return this.cache.get(channelId)?.ch;
  }

  invalidate(channelId: string): void {
    this.cache.delete(channelId);
  }

  /** Drops expired entries (call now and then; the cache holds one entry per channel seen). */
  prune(): void {
    const now = this.clock.now();
    for (const [id, e] of this.cache) if (now - e.at >= this.ttlMs) this.cache.delete(id);
  }
}

/** What the engine offers the hooks for replies (RelayEngine satisfies it). */
export interface AppControlSender {
  sendAppControl(id: number, body: Buffer): boolean;
}

/** What happened, for metrics and logs. */
export type PaymentEvent =
  | { type: 'bound'; circuit: number; channelId: string }
  | { type: 'refused'; circuit: number; channelId: string; reason: BindRefusal }
  | { type: 'receipt'; circuit: number; channelId: string; outcome: ReceiptOutcome }
  | { type: 'payment_required'; circuit: number; channelId: string }
  | { type: 'malformed'; circuit: number };

export interface RelayPaymentOptions {
  chainId: string;
  /** Our relay address (hex Ed25519 public key). */
  relay: string;
  pricePerGiB: bigint;
  creditWindowBytes?: bigint;
  lossAllowancePpm?: number;
  preBindCreditBytes?: bigint;
  /** Remaining deposit must still pay this many bytes for a bind (default: the credit window). */
  minRemainingBytes?: bigint;
  /** Where channels are read (wrap it in CachedChannelSource for the "short cache"). */
  chain: ChannelSource;
  book: ReceiptBook;
  log: Logger;
  onOutcome?: (ev: PaymentEvent) => void;
  /** TEST ONLY (service.ts TEST_OVERCLAIM_ENV): added to servedForward in every PAYMENT_REQUIRED / RECEIPT_ACK (an overclaiming relay). */
  reportInflationBytes?: bigint;
}

export interface RelayPaymentStats {
  circuits: number;
  bound: number;
  binds: { bound: number; refused: Record<BindRefusal, number>; rebindIgnored: number };
  receipts: Record<ReceiptOutcome, number>;
  /** Receipts on circuits without a bound channel. */
  receiptsUnbound: number;
  paymentRequired: number;
  /** Traffic refused before a bind (beyond preBindCreditBytes) and while paused. */
  unpaidDrops: { unbound: number; paused: number };
  malformed: number;
  /** Payment controls we could not send (circuit gone, keys expired). */
  sendFailures: number;
}

interface CircuitPay {
  id: number;
  /** Bytes counted before the bind (recorded on the channel when it binds). */
  preForward: bigint;
  preBackward: bigint;
  binding: string | undefined;
  meter: CircuitMeter | undefined;
  channel: Channel | undefined;
  closed: boolean;
}

/** CircuitHooks plus `attach` (the reply path) and diagnostics. */
export interface RelayPaymentHooks extends CircuitHooks {
  attach(sender: AppControlSender): void;
  stats(): RelayPaymentStats;
  /** The bound channel of a circuit, if any. */
  channelOf(id: number): string | undefined;
  /** Is the circuit paused for payment right now? */
  isPaused(id: number): boolean;
}

export function createRelayPaymentHooks(o: RelayPaymentOptions): RelayPaymentHooks {
  const window = o.creditWindowBytes ?? DEFAULT_CREDIT_WINDOW_BYTES;
  const preCredit = o.preBindCreditBytes ?? DEFAULT_PRE_BIND_CREDIT_BYTES;
  const minRemaining = o.minRemainingBytes ?? window;
  if (typeof o.pricePerGiB !== 'bigint' || o.pricePerGiB < 0n) throw new MeterConfigError('pricePerGiB must be a non-negative bigint');
  if (window < 0n || preCredit < 0n || minRemaining < 0n) throw new MeterConfigError('credit windows must be non-negative');
  const terms = { chainId: o.chainId, relay: o.relay, pricePerGiB: o.pricePerGiB, creditWindowBytes: window, ...(o.lossAllowancePpm !== undefined ? { lossAllowancePpm: o.lossAllowancePpm } : {}) };
  const circuits = new Map<number, CircuitPay>();
  let sender: AppControlSender | undefined;
  const refused = {} as Record<BindRefusal, number>;
  for (const r of ['unknown_channel', 'foreign_chain', 'wrong_relay', 'wrong_payer', 'not_open', 'deposit_exhausted', 'chain_unavailable'] as const) refused[r] = 0;
  const receipts = {} as Record<ReceiptOutcome, number>;
  for (const r of RECEIPT_OUTCOMES) receipts[r] = 0;
  const st = {
    bound: 0,
    rebindIgnored: 0,
    receiptsUnbound: 0,
    paymentRequired: 0,
    unpaidUnbound: 0,
    unpaidPaused: 0,
    malformed: 0,
    sendFailures: 0,
  };

  const emit = (ev: PaymentEvent): void => {
    try {
      o.onOutcome?.(ev);
    } catch (e) {
      o.log.warn({ err: e }, 'payments: onOutcome threw');
    }
  };

  const inflate = o.reportInflationBytes ?? 0n;
  const send = (id: number, c: PaymentControl): void => {
    if (inflate > 0n && (c.ctype === PaymentCtrl.PAYMENT_REQUIRED || c.ctype === PaymentCtrl.RECEIPT_ACK) && (c.servedForward > 0n || c.servedBackward > 0n)) c = { ...c, servedForward: c.servedForward + inflate };
    if (sender === undefined || !sender.sendAppControl(id, encodePaymentControl(c))) st.sendFailures++;
  };

  const get = (id: number): CircuitPay => {
    let c = circuits.get(id);
    if (c === undefined) {
      // A circuit opened before the hooks saw it (onOpened is the normal entry).
      c = { id, preForward: 0n, preBackward: 0n, binding: undefined, meter: undefined, channel: undefined, closed: false };
      circuits.set(id, c);
    }
    return c;
  };

  const onBind = (c: CircuitPay, bind: { chainId: string; channelId: string; payer: string }): void => {
    if (c.meter !== undefined) {
      if (c.meter.account.channelId === bind.channelId && c.meter.account.payer === bind.payer && bind.chainId === o.chainId) {
        send(c.id, { ctype: PaymentCtrl.CHANNEL_BOUND, ...c.meter.bound() });
      } else st.rebindIgnored++;
      return;
    }
    if (c.binding !== undefined) return; // lookup in flight: it answers
    c.binding = bind.channelId;
    o.chain.getChannel(bind.channelId).then(
      (ch) => finishBind(c, bind, ch),
      (e: unknown) => {
        o.log.warn({ err: e instanceof Error ? e.message : String(e), channel: bind.channelId.slice(0, 12) }, 'payments: channel lookup failed');
        finishBind(c, bind, undefined);
      },
    );
  };

  const finishBind = (c: CircuitPay, bind: { chainId: string; channelId: string; payer: string }, ch: Channel | null | undefined): void => {
    c.binding = undefined;
    if (c.closed) return;
    const promised = o.book.get(bind.channelId)?.best?.receipt.cumulativeAmount ?? 0n;
    const v = checkChannelBind(bind, ch, { chainId: o.chainId, relay: o.relay, pricePerGiB: o.pricePerGiB, minRemainingBytes: minRemaining, promised });
    if (!v.ok) {
      refused[v.reason]++;
      o.log.info({ circuit: c.id, channel: bind.channelId.slice(0, 12), reason: v.reason }, 'payments: bind refused');
      emit({ type: 'refused', circuit: c.id, channelId: bind.channelId, reason: v.reason });
      send(c.id, { ctype: PaymentCtrl.CHANNEL_REFUSED, reason: v.reason });
      return;
    }
    const meter = new CircuitMeter(terms, v.channel, o.book);
    const bound = meter.bound(); // baseline: before this circuit's own bytes
    meter.record('forward', c.preForward);
    meter.record('backward', c.preBackward);
    c.meter = meter;
    c.channel = v.channel;
    st.bound++;
    o.log.debug({ circuit: c.id, channel: bind.channelId.slice(0, 12) }, 'payments: circuit bound');
    emit({ type: 'bound', circuit: c.id, channelId: bind.channelId });
    send(c.id, { ctype: PaymentCtrl.CHANNEL_BOUND, ...bound });
  };

  const onReceipt = (c: CircuitPay, m: Extract<PaymentControl, { ctype: typeof PaymentCtrl.RECEIPT }>): void => {
    const meter = c.meter;
    if (meter === undefined || c.channel === undefined) {
      st.receiptsUnbound++;
      send(c.id, { ctype: PaymentCtrl.RECEIPT_ACK, outcome: 'wrong_channel', bestSeq: 0, bestAmount: 0n, servedForward: 0n, servedBackward: 0n });
      return;
    }
    // The deposit cannot change while a channel is open; the cached view at bind time is the one to check against.
    const outcome = meter.onReceipt(m.receipt, m.signature, c.channel);
    receipts[outcome]++;
    if (outcome !== 'accepted') o.log.debug({ circuit: c.id, outcome }, 'payments: receipt not accepted');
    emit({ type: 'receipt', circuit: c.id, channelId: meter.account.channelId, outcome });
    send(c.id, { ctype: PaymentCtrl.RECEIPT_ACK, ...meter.ack(outcome) });
  };

  return {
    attach(s: AppControlSender): void {
      sender = s;
    },

    onOpened(id: number): void {
      circuits.set(id, { id, preForward: 0n, preBackward: 0n, binding: undefined, meter: undefined, channel: undefined, closed: false });
    },

    onClosed(id: number): void {
      const c = circuits.get(id);
      if (c) c.closed = true;
      circuits.delete(id);
    },

    onControl(id: number, body: Buffer): void {
      const c = get(id);
      let m: PaymentControl;
      try {
        m = decodePaymentControl(body);
      } catch (e) {
        if (!(e instanceof MalformedPaymentError)) throw e;
        st.malformed++;
        emit({ type: 'malformed', circuit: id });
        return;
      }
      switch (m.ctype) {
        case PaymentCtrl.CHANNEL_BIND:
          return onBind(c, m);
        case PaymentCtrl.RECEIPT:
          return onReceipt(c, m);
        default:
          st.malformed++; // hop → client messages have no business arriving here
          emit({ type: 'malformed', circuit: id });
          return;
      }
    },

    meter(id: number, dir: 'forward' | 'backward', bytes: number, traffic: boolean): boolean {
      const c = get(id);
      const m = c.meter;
      if (m === undefined) {
        if (traffic && c.preForward + c.preBackward + BigInt(bytes) > preCredit) {
          st.unpaidUnbound++;
          return false;
        }
        if (dir === 'forward') c.preForward += BigInt(bytes);
        else c.preBackward += BigInt(bytes);
        return true;
      }
      if (!traffic) {
        m.record(dir, bytes);
        return true;
      }
      if (m.admit(dir, bytes)) return true;
      st.unpaidPaused++;
      const req = m.takePaymentRequest();
      if (req !== null) {
        st.paymentRequired++;
        emit({ type: 'payment_required', circuit: id, channelId: m.account.channelId });
        send(id, { ctype: PaymentCtrl.PAYMENT_REQUIRED, ...req });
      }
      return false;
    },

    stats(): RelayPaymentStats {
      return {
        circuits: circuits.size,
        bound: [...circuits.values()].filter((c) => c.meter !== undefined).length,
        binds: { bound: st.bound, refused: { ...refused }, rebindIgnored: st.rebindIgnored },
        receipts: { ...receipts },
        receiptsUnbound: st.receiptsUnbound,
        paymentRequired: st.paymentRequired,
        unpaidDrops: { unbound: st.unpaidUnbound, paused: st.unpaidPaused },
        malformed: st.malformed,
        sendFailures: st.sendFailures,
      };
    },

    channelOf(id: number): string | undefined {
      return circuits.get(id)?.meter?.account.channelId;
    },

    isPaused(id: number): boolean {
      return circuits.get(id)?.meter?.paused ?? false;
    },
  };
}
