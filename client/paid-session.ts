/**
 * The client daemon's PaymentSession helpers: metrics deltas per scrape, channels resumed from
 * their last receipts for a rebuilt circuit, and the last receipts at disconnect.
 */
import type { Logger } from 'pino';
import type { ClientMetrics } from './metrics.js';
import type { ClientPayments } from './payments/client-payments.js';
import type { HopChannel, PaymentSession } from './payments/session.js';

/** How long disconnect waits for the hops to acknowledge the last receipts. */
const SETTLE_WAIT_MS = 2_000;

export class PaymentMetricsObserver {
  /** Per channel of `seenFor`: receipts signed and amount promised already counted in metrics. */
  private seen = new Map<string, { signed: number; amount: bigint }>();
  private seenFor: PaymentSession | undefined;

  /**
   * Receipts signed and value promised since the last scrape, from the session's cumulative
   * per-hop figures (a resumed channel's earlier receipts are not counted again). Figures of
   * a replaced session after its last scrape are not counted.
   */
  observe(m: ClientMetrics, session: PaymentSession, payHops: HopChannel[] | undefined): void {
    if (this.seenFor !== session) {
      this.seenFor = session;
      this.seen = new Map();
    }
    for (const h of session.stats().hops) {
      const resume = payHops?.find((p) => p.channelId === h.channelId)?.resume?.cumulativeAmount ?? 0n;
      // Before its first receipt a hop's promised amount is where it resumes: nothing spent yet.
      const seen = this.seen.get(h.channelId) ?? { signed: 0, amount: h.signed === 0 ? h.promisedAmount : resume };
      if (h.signed > seen.signed) m.receiptsSigned.inc(h.signed - seen.signed);
      if (h.promisedAmount > seen.amount) m.spentValue.inc(Number(h.promisedAmount - seen.amount));
      this.seen.set(h.channelId, { signed: Math.max(seen.signed, h.signed), amount: h.promisedAmount > seen.amount ? h.promisedAmount : seen.amount });
    }
  }
}

/**
 * The same channels, each resumed from the last receipt ClientPayments remembers (no chain
 * round trip: while reconnecting, routes still lead into the dead tunnel).
 */
export function resumedHops(pay: ClientPayments, hops: HopChannel[]): HopChannel[] {
  const known = pay.channels();
  return hops.map((h) => {
    const k = known.find((c) => c.channelId === h.channelId);
    return k?.lastReceipt ? { ...h, resume: k.lastReceipt } : h;
  });
}

/**
 * Signs the last receipt of every hop and waits (at most SETTLE_WAIT_MS) until every hop
 * acknowledged its latest receipt, so the relays can claim all they carried.
 */
export async function finishSession(session: PaymentSession, log: Logger): Promise<void> {
  session.finish();
  const acked = (): boolean =>
    session.stats().hops.every((h, i) => {
      const last = session.signer(i)?.lastReceipt;
      return last === null || last === undefined || h.bestAckedSeq >= last.receipt.seq;
    });
  const end = Date.now() + SETTLE_WAIT_MS;
  while (!acked() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (!acked()) log.warn('not every hop acknowledged the last receipt');
}
