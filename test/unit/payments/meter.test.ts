import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GiB, KiB, MiB } from '../../../protocol/payment-price.js';
import { CircuitMeter, DEFAULT_CREDIT_WINDOW_BYTES, DEFAULT_LOSS_ALLOWANCE_PPM, ReceiptBook, type ChannelInfo, type MeterTerms } from '../../../relay/payments/meter.js';
import { MeterConfigError } from '../../../relay/payments/errors.js';
import { checkChannelBind } from '../../../relay/payments/bind.js';
import { RECEIPT_OUTCOMES } from '../../../protocol/payment.js';
import type { Channel } from '../../../chain/state/index.js';
import { CHAIN_ID, CHANNEL, OTHER_CHANNEL, payer, relay, signed, stranger } from './helpers.js';

// Price 2^30 per GiB = 1 unit per byte: amounts equal bytes, which keeps the edges readable.
const ONE_PER_BYTE = GiB;
const W = DEFAULT_CREDIT_WINDOW_BYTES;
const channel: ChannelInfo = { id: CHANNEL, payer: payer.address, relay: relay.address, deposit: 100n * MiB };
// lossAllowancePpm 0: bill every byte, so the window edges are exact (the write-off has its own test)
const terms: MeterTerms = { chainId: CHAIN_ID, relay: relay.address, pricePerGiB: ONE_PER_BYTE, lossAllowancePpm: 0 };

function meter(t: Partial<MeterTerms> = {}, ch: ChannelInfo = channel, book = new ReceiptBook(), every?: number): CircuitMeter {
  return new CircuitMeter({ ...terms, ...t }, ch, book, every);
}

test('credit window: serves exactly the window unpaid, then pauses (counted once per episode)', () => {
  const m = meter();
  assert.equal(W, 4n * MiB);
  assert.ok(m.mayForward(W)); // the whole window at once is fine
  assert.ok(!m.mayForward(W + 1n));
  assert.equal(m.account.pauses, 1);
  let n = 0n;
  while (m.admit('backward', 1000n)) n++;
  // 4 MiB = 4194304 = 4194 × 1000 + 304: 4194 packets of 1000 fit, the 4195th does not
  assert.equal(n, 4194n);
  assert.equal(m.account.served, 4_194_000n);
  assert.ok(m.mayForward(304n)); // exactly up to the window
  assert.ok(m.admit('backward', 304n));
  assert.equal(m.account.unpaidBytes, W);
  assert.ok(!m.mayForward(1n));
  assert.ok(!m.mayForward(1n));
  assert.ok(m.paused);
  assert.equal(m.account.pauses, 3); // the W+1 probe, the 4195th packet, then this episode (each admitted packet unpauses)
  assert.equal(m.account.refusedPackets, 4);
  assert.equal(m.account.refusedBytes, W + 1n + 1000n + 2n);
  assert.equal(m.forwardBytes + m.backwardBytes, W);
  // refused: a backward packet is not sent, so not counted; a forward one was authenticated, so it is
  assert.ok(!m.admit('backward', 500n));
  assert.equal(m.account.served, W);
  assert.ok(!m.admit('forward', 500n));
  assert.equal(m.account.servedForward, 500n);
  assert.equal(m.account.served, W + 500n);
});

test('a valid receipt resumes the circuit; it again serves exactly one window beyond it', () => {
  const m = meter();
  while (m.admit('backward', 1000n));
  assert.ok(m.paused);
  const served = m.account.served;
  const req = m.takePaymentRequest();
  assert.deepEqual(req, { servedForward: 0n, servedBackward: served, paidAmount: 0n, dueAmount: served });
  assert.equal(m.takePaymentRequest(), null); // once per episode
  const s = signed({ seq: 1, cumulativeAmount: served, cumulativeBytes: served });
  assert.equal(m.onReceipt(s.receipt, s.signature, channel), 'accepted');
  assert.ok(!m.paused);
  assert.equal(m.account.unpaidBytes, 0n);
  assert.ok(m.mayForward(W));
  assert.ok(!m.mayForward(W + 1n));
  assert.deepEqual(m.account.best, s);
  assert.deepEqual(m.ack('accepted'), { outcome: 'accepted', bestSeq: 1, bestAmount: served, servedForward: 0n, servedBackward: served });
});

test('while paused, PAYMENT_REQUIRED is re-offered every N refusals (it may have been lost)', () => {
  const m = meter({}, channel, new ReceiptBook(), 3);
  m.record('forward', W);
  assert.ok(!m.mayForward(1n));
  assert.notEqual(m.takePaymentRequest(), null);
  assert.ok(!m.mayForward(1n));
  assert.ok(!m.mayForward(1n));
  assert.equal(m.takePaymentRequest(), null);
  assert.ok(!m.mayForward(1n));
  assert.notEqual(m.takePaymentRequest(), null);
});

test('receipt checks: each rejection reason', async (t) => {
  const m = meter();
  m.record('backward', 10n * MiB); // served 10 MiB; must be paid ≥ 6 MiB (10 − window)
  const need = 10n * MiB - W;
  const ok = signed({ seq: 5, cumulativeAmount: need, cumulativeBytes: 10n * MiB });
  assert.equal(m.onReceipt(ok.receipt, ok.signature, channel), 'accepted');

  const cases: [string, ReturnType<typeof signed>, ChannelInfo, (typeof RECEIPT_OUTCOMES)[number]][] = [
    ['foreign chain', signed({ seq: 6, cumulativeAmount: need, chainId: 'topvpn-mainnet' }), channel, 'foreign_chain'],
    ['receipt for another channel', signed({ seq: 6, cumulativeAmount: need, channelId: OTHER_CHANNEL }), channel, 'wrong_channel'],
    ['channel view of another channel', signed({ seq: 6, cumulativeAmount: need }), { ...channel, id: OTHER_CHANNEL }, 'wrong_channel'],
    ['channel whose relay is not us', signed({ seq: 6, cumulativeAmount: need }), { ...channel, relay: stranger.address }, 'wrong_channel'],
    ['equal seq (stale)', signed({ seq: 5, cumulativeAmount: need + 100n }), channel, 'stale'],
    ['lower seq (stale)', signed({ seq: 4, cumulativeAmount: need + 100n }), channel, 'stale'],
    ['signed by someone else (forged)', signed({ seq: 6, cumulativeAmount: need }, stranger), channel, 'forged'],
    ['payer is not the channel payer (forged)', signed({ seq: 6, cumulativeAmount: need }), { ...channel, payer: stranger.address }, 'forged'],
    ['amount below what the window allows (underpaid)', signed({ seq: 6, cumulativeAmount: need - 1n }), channel, 'underpaid'],
    ['above the deposit (over_deposit)', signed({ seq: 6, cumulativeAmount: channel.deposit + 1n }), channel, 'over_deposit'],
  ];
  for (const [name, s, ch, want] of cases) {
    await t.test(name, () => {
      const before = m.account.best;
      assert.equal(m.onReceipt(s.receipt, s.signature, ch), want);
      if (want !== 'over_deposit') assert.deepEqual(m.account.best, before); // nothing else replaces the best
    });
  }
  await t.test('tampered amount or signature is forged', () => {
    const s = signed({ seq: 9, cumulativeAmount: need });
    assert.equal(m.onReceipt({ ...s.receipt, cumulativeAmount: need + 1n }, s.signature, channel), 'forged');
    assert.equal(m.onReceipt(s.receipt, s.signature.slice(0, -2) + '00', channel), 'forged');
    assert.equal(m.onReceipt(s.receipt, 'not hex', channel), 'forged');
    assert.equal(m.onReceipt({ ...s.receipt, seq: 1.5 }, s.signature, channel), 'forged');
  });
  assert.equal(m.account.outcomes.foreign_chain, 1);
  assert.equal(m.account.outcomes.wrong_channel, 3);
  assert.equal(m.account.outcomes.stale, 2);
  assert.equal(m.account.outcomes.forged, 6);
  assert.equal(m.account.outcomes.accepted, 1);
});

test('over_deposit receipts are kept (they pay the whole deposit); paid is capped at the deposit', () => {
  const m = meter();
  const s = signed({ seq: 1, cumulativeAmount: channel.deposit * 2n });
  assert.equal(m.onReceipt(s.receipt, s.signature, channel), 'over_deposit');
  assert.deepEqual(m.account.best, s);
  assert.equal(m.account.paid, channel.deposit);
  m.record('forward', channel.deposit); // served exactly the deposit's worth
  assert.ok(m.mayForward(W));
  assert.ok(!m.mayForward(W + 1n)); // the deposit cap binds: only the window beyond it
});

test('a higher seq with a lower amount is underpaid and not kept; equal amount with higher seq is accepted', () => {
  const m = meter();
  const a = signed({ seq: 3, cumulativeAmount: 5000n });
  assert.equal(m.onReceipt(a.receipt, a.signature, channel), 'accepted');
  const lower = signed({ seq: 4, cumulativeAmount: 4999n });
  assert.equal(m.onReceipt(lower.receipt, lower.signature, channel), 'underpaid');
  assert.deepEqual(m.account.best, a);
  const same = signed({ seq: 4, cumulativeAmount: 5000n });
  assert.equal(m.onReceipt(same.receipt, same.signature, channel), 'accepted');
  assert.deepEqual(m.account.best, same);
});

test('an underpaid receipt that still raises the amount is kept (claimable) but does not unpause', () => {
  const m = meter();
  m.record('backward', W + 10_000n);
  assert.ok(!m.mayForward(1n));
  const s = signed({ seq: 1, cumulativeAmount: 9_999n });
  assert.equal(m.onReceipt(s.receipt, s.signature, channel), 'underpaid');
  assert.deepEqual(m.account.best, s);
  assert.ok(!m.mayForward(1n));
  const t = signed({ seq: 2, cumulativeAmount: 10_000n });
  assert.equal(m.onReceipt(t.receipt, t.signature, channel), 'accepted');
  assert.ok(m.mayForward(W - W)); // zero more is fine
  assert.ok(!m.mayForward(1n)); // unpaid = exactly the window
  const u = signed({ seq: 3, cumulativeAmount: 10_001n });
  assert.equal(m.onReceipt(u.receipt, u.signature, channel), 'accepted');
  assert.ok(m.mayForward(1n));
});

test('seq 0 is stale (the chain never pays it)', () => {
  const m = meter();
  const s = signed({ seq: 1, cumulativeAmount: 1n });
  assert.equal(m.onReceipt({ ...s.receipt, seq: 0 }, s.signature, channel), 'stale');
});

test('circuits billed to the same channel share its account (served, best receipt, window)', () => {
  const book = new ReceiptBook();
  const a = meter({}, channel, book);
  const b = meter({}, channel, book);
  assert.equal(a.account, b.account);
  a.record('forward', 3n * MiB);
  b.record('backward', MiB);
  assert.equal(a.forwardBytes, 3n * MiB);
  assert.equal(b.backwardBytes, MiB);
  assert.ok(!b.mayForward(1n)); // the channel's window is used up by both together
  const s = signed({ seq: 1, cumulativeAmount: 4n * MiB });
  assert.equal(b.onReceipt(s.receipt, s.signature, channel), 'accepted');
  assert.ok(a.mayForward(W));
  const stale = signed({ seq: 1, cumulativeAmount: 4n * MiB });
  assert.equal(a.onReceipt(stale.receipt, stale.signature, channel), 'stale');
  assert.deepEqual([...book.bestReceipts().values()], [s]);
  assert.deepEqual(a.bound(), { pricePerGiB: ONE_PER_BYTE, creditWindowBytes: W, lossAllowancePpm: 0, bestSeq: 1, bestBytes: 0n, bestAmount: 4n * MiB, servedBytes: 4n * MiB });
});

test('rounding at a real price: the window is in bytes, amounts are ceil', () => {
  const price = 1_000_000n; // 1 TOP per GiB
  const m = meter({ pricePerGiB: price, creditWindowBytes: MiB });
  m.record('backward', 3n * MiB);
  // due for 2 MiB = ceil(2·2^20·10^6 / 2^30) = ceil(1953.125) = 1954
  const under = signed({ seq: 1, cumulativeAmount: 1953n });
  assert.equal(m.onReceipt(under.receipt, under.signature, channel), 'underpaid');
  const ok = signed({ seq: 2, cumulativeAmount: 1954n });
  assert.equal(m.onReceipt(ok.receipt, ok.signature, channel), 'accepted');
  // 1954 units cover floor(1954·2^30/10^6) = 2098091 bytes; unpaid = 3 MiB − that = 1047637 ≤ 1 MiB
  assert.equal(m.account.unpaidBytes, 1_047_637n);
  assert.ok(m.mayForward(MiB - m.account.unpaidBytes));
  assert.ok(!m.mayForward(MiB - m.account.unpaidBytes + 1n));
});

test('a free relay (price 0) never pauses; a zero window pauses at the first unpaid byte', () => {
  const free = meter({ pricePerGiB: 0n });
  free.record('forward', 10n * GiB);
  assert.ok(free.mayForward(GiB));
  const strict = meter({ creditWindowBytes: 0n });
  assert.ok(strict.mayForward(0n));
  assert.ok(!strict.mayForward(1n));
  const s = signed({ seq: 1, cumulativeAmount: 64n * KiB });
  assert.equal(strict.onReceipt(s.receipt, s.signature, channel), 'accepted'); // prepaid
  assert.ok(strict.admit('forward', 64n * KiB));
  assert.ok(!strict.mayForward(1n));
});

test('meter configuration errors', () => {
  assert.throws(() => meter({}, { ...channel, relay: stranger.address }), MeterConfigError);
  assert.throws(() => meter({ pricePerGiB: -1n }), MeterConfigError);
  assert.throws(() => meter({ creditWindowBytes: -1n }), MeterConfigError);
  assert.throws(() => meter({}, channel, new ReceiptBook(), 0), MeterConfigError);
  assert.throws(() => meter({ lossAllowancePpm: 500_001 }), MeterConfigError);
  assert.throws(() => meter({ lossAllowancePpm: -1 }), MeterConfigError);
});

test('CHANNEL_BIND check: each refusal, then ok', () => {
  const ch: Channel = { id: CHANNEL, payer: payer.address, relay: relay.address, deposit: 10n * MiB, claimed: 0n, seq: 0, cumulativeBytes: 0n, status: 'open', openedAt: 1, closesAt: null };
  const bind = { chainId: CHAIN_ID, channelId: CHANNEL, payer: payer.address };
  const ctx = { chainId: CHAIN_ID, relay: relay.address, pricePerGiB: ONE_PER_BYTE, minRemainingBytes: W, promised: 0n };
  assert.deepEqual(checkChannelBind(bind, undefined, ctx), { ok: false, reason: 'chain_unavailable' });
  assert.deepEqual(checkChannelBind({ ...bind, chainId: 'x' }, ch, ctx), { ok: false, reason: 'foreign_chain' });
  assert.deepEqual(checkChannelBind(bind, null, ctx), { ok: false, reason: 'unknown_channel' });
  assert.deepEqual(checkChannelBind({ ...bind, channelId: OTHER_CHANNEL }, ch, ctx), { ok: false, reason: 'unknown_channel' });
  assert.deepEqual(checkChannelBind(bind, { ...ch, relay: stranger.address }, ctx), { ok: false, reason: 'wrong_relay' });
  assert.deepEqual(checkChannelBind({ ...bind, payer: stranger.address }, ch, ctx), { ok: false, reason: 'wrong_payer' });
  assert.deepEqual(checkChannelBind(bind, { ...ch, status: 'closing', closesAt: 9 }, ctx), { ok: false, reason: 'not_open' });
  assert.deepEqual(checkChannelBind(bind, { ...ch, status: 'finalized' }, ctx), { ok: false, reason: 'not_open' });
  // 10 MiB deposit, 6 MiB claimed: 4 MiB left = exactly the minimum → ok; promised 6 MiB + 1 → exhausted
  assert.equal(checkChannelBind(bind, { ...ch, claimed: 6n * MiB }, ctx).ok, true);
  assert.deepEqual(checkChannelBind(bind, ch, { ...ctx, promised: 6n * MiB + 1n }), { ok: false, reason: 'deposit_exhausted' });
  assert.deepEqual(checkChannelBind(bind, { ...ch, claimed: 10n * MiB }, { ...ctx, minRemainingBytes: 0n }), { ok: false, reason: 'deposit_exhausted' });
});

test('loss allowance: the default writes off 2 % of served bytes before the window applies', () => {
  assert.equal(DEFAULT_LOSS_ALLOWANCE_PPM, 20_000);
  const m = new CircuitMeter({ chainId: CHAIN_ID, relay: relay.address, pricePerGiB: ONE_PER_BYTE }, channel, new ReceiptBook());
  assert.equal(m.bound().lossAllowancePpm, 20_000);
  // served s is billable s − floor(s/50); 50 MiB served → 49 MiB billable
  m.record('backward', 50n * MiB);
  assert.equal(m.account.billable(50n * MiB), 49n * MiB);
  const under = signed({ seq: 1, cumulativeAmount: 45n * MiB - 1n });
  assert.equal(m.onReceipt(under.receipt, under.signature, channel), 'underpaid'); // < 49 − 4 MiB
  const ok = signed({ seq: 2, cumulativeAmount: 45n * MiB });
  assert.equal(m.onReceipt(ok.receipt, ok.signature, channel), 'accepted');
  assert.equal(m.account.unpaidBytes, W);
  assert.ok(!m.mayForward(1n) || m.account.billable(50n * MiB + 1n) === 49n * MiB); // the next byte may fall in the write-off
  // 50 more bytes served add 49 billable: exactly one byte is written off per 50
  const n = m.account.billable(50n * MiB + 50n) - m.account.billable(50n * MiB);
  assert.equal(n, 49n);
  // the deal for the relay: an honest client paying what it measured (98 % arrived) never stalls
  const lossy = new CircuitMeter({ chainId: CHAIN_ID, relay: relay.address, pricePerGiB: ONE_PER_BYTE }, { ...channel, deposit: GiB }, new ReceiptBook());
  let seq = 0;
  let measured = 0n;
  for (let i = 0; i < 200; i++) {
    assert.ok(lossy.admit('backward', MiB), `stalled at ${i} MiB`);
    measured += (MiB * 98n) / 100n; // 2 % lost downstream
    const r = signed({ seq: ++seq, cumulativeAmount: measured, cumulativeBytes: measured });
    assert.equal(lossy.onReceipt(r.receipt, r.signature, { ...channel, deposit: GiB }), 'accepted');
  }
});

test('restore after a restart: the best receipt (verified) and the served counters, no free credit', () => {
  const book = new ReceiptBook();
  const best = signed({ seq: 12, cumulativeAmount: 30n * MiB, cumulativeBytes: 30n * MiB });
  const forged = signed({ seq: 13, cumulativeAmount: 90n * MiB }, stranger);
  assert.equal(book.restore(channel, forged, { forward: 0n, backward: 0n }, ONE_PER_BYTE), false);
  assert.equal(book.restore(channel, best, { forward: MiB, backward: 31n * MiB }, ONE_PER_BYTE), true);
  assert.deepEqual([...book.bestReceipts().values()], [best]);
  const m = meter({}, channel, book);
  assert.equal(m.account.served, 32n * MiB);
  assert.equal(m.account.unpaidBytes, 2n * MiB);
  assert.ok(m.mayForward(2n * MiB));
  assert.ok(!m.mayForward(2n * MiB + 1n));
  const stale = signed({ seq: 12, cumulativeAmount: 40n * MiB });
  assert.equal(m.onReceipt(stale.receipt, stale.signature, channel), 'stale'); // the restored seq still guards
  const next = signed({ seq: 13, cumulativeAmount: 32n * MiB });
  assert.equal(m.onReceipt(next.receipt, next.signature, channel), 'accepted');
});
