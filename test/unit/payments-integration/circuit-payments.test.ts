/**
 * Payments joined to the data plane: three RelayEngines with the payment hooks, a real Circuit
 * with a PaymentSession, channels on the real chain/state transition (FakeChain), claims by the
 * ClaimWorker. Everything goes through the real wire (onion layers, payment controls).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimSplit, signPaymentReceipt, UNIT } from '../../../chain/state/index.js';
import { silentLogger } from '../../../common/log.js';
import { LAYER_OVERHEAD } from '../../../protocol/constants.js';
import { amountForBytes, GiB, MiB } from '../../../protocol/payment-price.js';
import { decodePaymentControl, encodePaymentControl, PaymentCtrl, receiptLen, RECEIPT_ACK_LEN, type SignedPaymentReceipt } from '../../../protocol/payment.js';
import { ClaimWorker, defaultClaimPolicy } from '../../../relay/payments/claims.js';
import { assertReconciled, ledgerInputs } from '../../../relay/payments/ledger.js';
import { ChannelRefusedError, PaymentSession, type OverclaimReport } from '../../../client/payments/session.js';
import { key } from '../payments/helpers.js';
import { advance, flush } from '../relay/fake-net.js';
import { CHAIN_ID, openTo, paidNet, PARAMS, PRICE, type PaidNet, type PaidNetOptions } from './paid-net.js';
import { drive, IP_SIZE } from './traffic.js';

const DEPOSIT = amountForBytes(GiB, PRICE); // 1 GiB per hop

interface Up {
  pn: PaidNet;
  channels: string[];
  circuit: ReturnType<PaidNet['newCircuit']>;
  session: PaymentSession;
  ipv4: string;
  received: { packets: number };
  overclaims: OverclaimReport[];
  signed: Array<{ hop: number; r: SignedPaymentReceipt }>;
}

async function upPaid(o: PaidNetOptions & { channels?: (pn: PaidNet) => string[]; chainId?: string } = {}): Promise<Up & { bind: Promise<void> }> {
  const pn = paidNet(o);
  const channels = o.channels ? o.channels(pn) : pn.relays.map((r) => openTo(pn.chain, pn.payer, r.key.address, DEPOSIT));
  const circuit = pn.newCircuit();
  const b = circuit.build();
  await flush();
  const info = await b;
  const overclaims: OverclaimReport[] = [];
  const signed: Up['signed'] = [];
  const session = new PaymentSession({
    circuit,
    clock: pn.clock,
    log: silentLogger(),
    chainId: o.chainId ?? CHAIN_ID,
    payer: pn.payer.address,
    payerSeed: pn.payer.seed,
    hops: channels.map((channelId, i) => ({ channelId, deposit: DEPOSIT, pricePerGiB: PRICE, relay: pn.relays[i]!.key.address })),
    onOverclaim: (r) => overclaims.push(r),
    onSigned: (hop, r) => signed.push({ hop, r }),
  });
  const received = { packets: 0 };
  session.onIp((ps) => (received.packets += ps.length));
  const bind = session.bind();
  bind.catch(() => undefined); // observed by the caller
  await flush();
  return { pn, channels, circuit, session, ipv4: info.ipv4, received, overclaims, signed, bind };
}

test('3-hop paid circuit: 64 MiB of IP, every hop receipted for what it forwarded, claims settle with a 10 % burn', { timeout: 300_000 }, async () => {
  const t = await upPaid();
  await t.bind;
  assert.equal(t.session.state, 'active');
  const { pn } = t;
  const exit = pn.relays[2]!;
  for (const r of pn.relays) assert.equal(r.hooks.stats().bound, 1);

  const res = await drive({ send: (ps) => t.session.sendIp(ps), src: t.ipv4, exit, bytes: 32 * Number(MiB), echo: true });
  assert.equal(res.exitPackets, res.sentPackets, 'every packet reached the exit');
  assert.equal(t.received.packets, res.repliedPackets, 'every reply came back');
  for (const r of pn.relays) {
    assert.equal(r.engine.stats().drops.unpaid, 0, 'no hop paused with the default cadence/window');
    assert.equal(r.hooks.stats().paymentRequired, 0);
  }
  assert.equal(t.session.stats().held, 0);

  // While traffic flows: every hop's best receipt is within one credit window of what it served.
  const window = 4n * MiB;
  for (const [i, r] of pn.relays.entries()) {
    const a = r.book.get(t.channels[i]!)!;
    const best = a.best!;
    assert.ok(a.served >= BigInt(res.sentBytes) * 2n, `hop ${i} served both directions`);
    assert.ok(best.receipt.cumulativeBytes + window >= a.served, `hop ${i}: receipt ${best.receipt.cumulativeBytes} within a window of served ${a.served}`);
    assert.equal(best.receipt.cumulativeAmount, amountForBytes(best.receipt.cumulativeBytes, PRICE));
    assert.ok(a.unpaidBytes <= window);
  }

  // End of session: a last receipt for everything measured; each hop's count and the client's agree.
  const hopBytes = t.circuit.stats().hopBytes;
  t.session.finish();
  await flush();
  for (const [i, r] of pn.relays.entries()) {
    const a = r.book.get(t.channels[i]!)!;
    const best = a.best!.receipt;
    const clientMeasured = BigInt(hopBytes[i]!.forward + hopBytes[i]!.backward);
    assert.equal(best.cumulativeBytes, clientMeasured, `hop ${i}: the final receipt pays what the client measured`);
    // The relay also counted the final RECEIPT and its ACK (sent after the client's count).
    // (the final RECEIPT of every hop at or behind it, and their RECEIPT_ACKs, all counted after the client's snapshot)
    const finalCtrl = 3n * BigInt(receiptLen(CHAIN_ID.length) + RECEIPT_ACK_LEN + 2 * 3 * LAYER_OVERHEAD);
    assert.ok(a.served >= best.cumulativeBytes && a.served - best.cumulativeBytes <= finalCtrl, `hop ${i}: served ${a.served} vs receipted ${best.cumulativeBytes}`);
    assert.equal(a.outcomes.forged + a.outcomes.stale + a.outcomes.underpaid + a.outcomes.over_deposit, 0);
  }

  // Claims: each relay's worker claims its best receipt; the chain burns ceil(10 %).
  const burnedBefore = pn.chain.burned();
  const balBefore = pn.relays.map((r) => pn.chain.balance(r.key));
  const workers = pn.relays.map((r) => new ClaimWorker(r.port, r.book, defaultClaimPolicy({ pricePerGiB: PRICE, fee: PARAMS.minFee, burnPercent: PARAMS.claimBurnPercent })));
  for (const w of workers) {
    const rep = await w.tick('shutdown');
    assert.equal(rep.submitted.length, 1);
  }
  pn.chain.mine();
  let burnSum = 0n;
  for (const [i, w] of workers.entries()) {
    const rep = await w.tick();
    assert.equal(rep.confirmed.length, 1);
    const k = rep.confirmed[0]!;
    const best = pn.relays[i]!.book.get(t.channels[i]!)!.best!.receipt;
    assert.equal(k.delta, best.cumulativeAmount);
    assert.equal(k.burn, (k.delta * 10n + 99n) / 100n);
    assert.equal(k.burn, claimSplit(k.delta, PARAMS.claimBurnPercent).burn);
    assert.equal(pn.chain.balance(pn.relays[i]!.key) - balBefore[i]!, k.delta - k.burn - PARAMS.minFee);
    const ch = pn.chain.findChannel(t.channels[i]!)!;
    assert.equal(ch.claimed, best.cumulativeAmount);
    assert.equal(ch.cumulativeBytes, best.cumulativeBytes);
    burnSum += k.burn + PARAMS.minFee;
    assertReconciled(ledgerInputs(pn.relays[i]!.book, w), PARAMS.claimBurnPercent);
  }
  assert.equal(pn.chain.burned() - burnedBefore, burnSum);
});

/** Client → entry packets carrying a RECEIPT for any hop (fixed sizes: no IP packet has them). */
function receiptSizes(): Set<number> {
  const body = receiptLen(CHAIN_ID.length);
  return new Set([1, 2, 3].map((n) => body + LAYER_OVERHEAD * n));
}

test('a client that stops paying is cut off after the credit window, and resumes when it pays', { timeout: 120_000 }, async () => {
  const WINDOW = 2n * MiB;
  const t = await upPaid({ creditWindowBytes: WINDOW });
  await t.bind;
  const { pn } = t;
  const [entry, middle, exit] = pn.relays as [typeof pn.relays[0], typeof pn.relays[0], typeof pn.relays[0]];
  const sizes = receiptSizes();
  let receiptsLost = 0;
  pn.net.taps.push((p) => {
    if (p.from.host === '198.18.1.1' && sizes.has(p.packet.length)) {
      receiptsLost++;
      return false;
    }
    return true;
  });

  // A client that keeps sending but whose receipts never arrive (upload only, straight into the circuit).
  const res = await drive({ send: (ps) => t.circuit.sendIp(ps), src: t.ipv4, exit, bytes: 8 * Number(MiB), echo: false });
  assert.ok(receiptsLost > 0, 'receipts were signed and lost');
  const unpaidDrops = entry.engine.stats().drops.unpaid;
  assert.ok(unpaidDrops > 0, 'the entry cut the circuit off');
  assert.equal(res.sentPackets - res.exitPackets, unpaidDrops, 'every packet missing at the exit was dropped unpaid by the entry');
  assert.equal(entry.hooks.stats().unpaidDrops.paused, unpaidDrops);
  assert.equal(middle.engine.stats().drops.unpaid + exit.engine.stats().drops.unpaid, 0);
  const a = entry.book.get(t.channels[0]!)!;
  assert.equal(a.best, null, 'nothing was ever paid to the entry');
  assert.ok(a.billable(a.served) - BigInt(unpaidDrops * (IP_SIZE + 3 * LAYER_OVERHEAD)) <= WINDOW, 'the entry carried at most one credit window unpaid');
  const carried = BigInt(res.exitPackets * IP_SIZE);
  assert.ok(carried <= WINDOW && carried > WINDOW / 2n, `carried ${carried} unpaid bytes`);
  assert.ok(entry.hooks.stats().paymentRequired >= 1);
  assert.ok(t.session.holding, 'the session holds IP while the entry waits for payment');
  t.session.sendIp([Buffer.alloc(IP_SIZE)]);
  assert.equal(t.session.stats().held, 1);

  // Receipts get through again: the session re-offers one within retryMs and the entry resumes.
  pn.net.taps = [];
  await advance(pn.clock, 1_000, 100);
  assert.equal(t.session.holding, false, 'an accepting RECEIPT_ACK released the hold');
  assert.ok(a.best !== null && a.unpaidBytes <= WINDOW);
  assert.ok(t.session.stats().hops[0]!.acks.accepted >= 1);
  // The middle and exit lost their receipts too (signed while the tap was on): each pauses once
  // and is paid at once; the session holds IP for that round trip.
  const unpaid = (): number => pn.relays.reduce((s, r) => s + r.engine.stats().drops.unpaid, 0);
  const dropsBefore = unpaid();
  const heldBefore = t.session.stats().held;
  const after = await drive({ send: (ps) => t.session.sendIp(ps), src: t.ipv4, exit, bytes: 4 * Number(MiB), echo: true });
  const held = t.session.stats().held - heldBefore;
  const dropped = unpaid() - dropsBefore;
  // (unpaid drops also count echo replies a paused hop refused, so they bound the forward loss)
  assert.ok(after.sentPackets - after.exitPackets - held <= dropped, 'every packet reached the exit, was held by the session or dropped unpaid');
  assert.ok(after.exitPackets >= after.sentPackets * 0.95, `traffic flows again: ${after.exitPackets}/${after.sentPackets} (held ${held}, dropped ${dropped})`);
  assert.equal(t.session.holding, false);
  for (const [i, r] of pn.relays.entries()) assert.ok(r.book.get(t.channels[i]!)!.unpaidBytes <= WINDOW);
  assert.ok(t.received.packets <= after.repliedPackets && after.repliedPackets - t.received.packets + after.sentPackets - after.exitPackets - held === dropped, 'replies lost only to unpaid drops');
});

test('a relay that overclaims gets no more receipts: the circuit is torn down and the relay reported', { timeout: 60_000 }, async () => {
  const INFLATE = 512n * MiB;
  const t = await upPaid({
    label: 'overclaim',
    wrapSender: (i, s) =>
      i !== 2
        ? s
        : {
            sendAppControl(id: number, body: Buffer): boolean {
              const m = decodePaymentControl(body);
              if (m.ctype === PaymentCtrl.RECEIPT_ACK || m.ctype === PaymentCtrl.PAYMENT_REQUIRED) return s.sendAppControl(id, encodePaymentControl({ ...m, servedBackward: m.servedBackward + INFLATE }));
              return s.sendAppControl(id, body);
            },
          },
  });
  await t.bind;
  const { pn } = t;
  const exit = pn.relays[2]!;
  await drive({ send: (ps) => t.session.sendIp(ps), src: t.ipv4, exit, bytes: 3 * Number(MiB), echo: true });
  assert.equal(t.overclaims.length, 1, 'reported once');
  assert.equal(t.overclaims[0]!.hop, 2);
  assert.equal(t.overclaims[0]!.relay, exit.key.address);
  assert.equal(t.overclaims[0]!.error.name, 'OverclaimError');
  assert.equal(t.session.state, 'failed');
  assert.equal(t.session.stats().hops[2]!.state, 'overclaimed');
  assert.equal(t.circuit.state, 'closed');
  await flush();
  for (const r of pn.relays) assert.equal(r.engine.stats().circuits, 0, 'the DESTROY freed the circuit on every hop');
  const toExit = t.signed.filter((s) => s.hop === 2).length;
  const exitReceipts = Object.values(exit.hooks.stats().receipts).reduce((s, n) => s + n, 0);
  assert.equal(exitReceipts, toExit, 'the exit got exactly the receipts signed before the overclaim');
  // Nothing more is signed or sent, whatever happens next.
  t.session.sendIp([Buffer.alloc(IP_SIZE)]);
  t.session.update();
  t.session.finish();
  await advance(pn.clock, 3_000, 500);
  assert.equal(t.signed.filter((s) => s.hop === 2).length, toExit);
  assert.equal(t.session.signer(2)!.state, 'overclaimed');
});

test('binds to an unknown, closing, underfunded, foreign-relay or foreign-chain channel are refused with the reason', { timeout: 60_000 }, async () => {
  const cases: Array<{ name: string; reason: string; chainId?: string; channel: (pn: PaidNet) => string }> = [
    { name: 'unknown', reason: 'unknown_channel', channel: () => 'cd'.repeat(32) },
    {
      name: 'closing',
      reason: 'not_open',
      channel: (pn) => {
        const id = openTo(pn.chain, pn.payer, pn.relays[1]!.key.address, DEPOSIT);
        pn.chain.send(pn.payer, { type: 'channel-close', channelId: id });
        pn.chain.mine();
        return id;
      },
    },
    { name: 'underfunded', reason: 'deposit_exhausted', channel: (pn) => openTo(pn.chain, pn.payer, pn.relays[1]!.key.address, amountForBytes(MiB, PRICE)) },
    { name: 'another relay', reason: 'wrong_relay', channel: (pn) => openTo(pn.chain, pn.payer, pn.relays[0]!.key.address, DEPOSIT) },
    { name: 'foreign chain', reason: 'foreign_chain', chainId: 'topvpn-other', channel: (pn) => openTo(pn.chain, pn.payer, pn.relays[1]!.key.address, DEPOSIT) },
  ];
  for (const k of cases) {
    const t = await upPaid({
      label: `refuse-${k.name}`,
      ...(k.chainId ? { chainId: k.chainId } : {}),
      channels: (pn) => {
        const ok0 = openTo(pn.chain, pn.payer, pn.relays[0]!.key.address, DEPOSIT);
        const bad = k.channel(pn);
        const ok2 = openTo(pn.chain, pn.payer, pn.relays[2]!.key.address, DEPOSIT);
        return [ok0, bad, ok2];
      },
    });
    // With a foreign chain id every hop refuses; the entry answers first.
    const hop = k.chainId ? 0 : 1;
    await assert.rejects(t.bind, (e: unknown) => {
      assert.ok(e instanceof ChannelRefusedError, `${k.name}: ${String(e)}`);
      assert.equal(e.hop, hop);
      assert.equal(e.reason, k.reason);
      assert.match(e.message, new RegExp(`hop ${hop} refused .*${k.reason}`));
      return true;
    });
    const refuser = t.pn.relays[hop]!;
    assert.equal(refuser.hooks.stats().binds.refused[k.reason as 'not_open'], 1, k.name);
    assert.equal(refuser.hooks.stats().bound, 0);
    // The refused hop carries no traffic beyond its pre-bind credit (64 KiB).
    const r = await drive({ send: (ps) => t.circuit.sendIp(ps), src: t.ipv4, exit: t.pn.relays[2]!, bytes: 256 * 1024, echo: false });
    assert.ok(r.exitPackets * IP_SIZE < 64 * 1024, `${k.name}: ${r.exitPackets} packets passed the unbound hop`);
    assert.equal(refuser.hooks.stats().unpaidDrops.unbound, r.sentPackets - r.exitPackets, 'every missing packet was dropped unpaid by the refusing hop');
    assert.equal(refuser.engine.stats().drops.unpaid, r.sentPackets - r.exitPackets);
    t.circuit.close();
  }
});

test('forged and replayed receipts are rejected and counted; the best receipt stays', { timeout: 60_000 }, async () => {
  const t = await upPaid({ label: 'forged' });
  await t.bind;
  const { pn } = t;
  await drive({ send: (ps) => t.session.sendIp(ps), src: t.ipv4, exit: pn.relays[2]!, bytes: 2 * Number(MiB), echo: true });
  const entry = pn.relays[0]!;
  const a = entry.book.get(t.channels[0]!)!;
  const best = a.best!;
  const last = t.session.signer(0)!.lastReceipt!;
  assert.equal(best.receipt.seq, last.receipt.seq);
  const send = (r: SignedPaymentReceipt): boolean => t.circuit.sendAppControl(0, encodePaymentControl({ ctype: PaymentCtrl.RECEIPT, ...r }));
  // replay of the last receipt
  assert.ok(send(last));
  // a raised amount under the old signature
  assert.ok(send({ receipt: { ...last.receipt, seq: last.receipt.seq + 1, cumulativeAmount: last.receipt.cumulativeAmount + UNIT }, signature: last.signature }));
  // a well-formed receipt signed by someone else
  const other = { ...last.receipt, seq: last.receipt.seq + 1, cumulativeAmount: last.receipt.cumulativeAmount + UNIT };
  assert.ok(send({ receipt: other, signature: signPaymentReceipt(other, key('mallory').seed) }));
  await flush();
  const s = entry.hooks.stats().receipts;
  assert.equal(s.stale, 1);
  assert.equal(s.forged, 2);
  assert.deepEqual(a.best, best, 'the best receipt is unchanged');
  const acks = t.session.stats().hops[0]!.acks;
  assert.equal(acks.stale, 1);
  assert.equal(acks.forged, 2);
  assert.equal(t.session.state, 'active', 'rejections do not break an honest session');
});

test('a lost RECEIPT_ACK does not leave the session holding: a re-offer the hop already holds releases it', { timeout: 60_000 }, async () => {
  const WINDOW = MiB;
  const t = await upPaid({ creditWindowBytes: WINDOW, label: 'lost-ack' });
  await t.bind;
  const { pn } = t;
  const entry = pn.relays[0]!;
  const sizes = receiptSizes();
  pn.net.taps.push((p) => !(p.from.host === '198.18.1.1' && sizes.has(p.packet.length)));
  await drive({ send: (ps) => t.circuit.sendIp(ps), src: t.ipv4, exit: pn.relays[2]!, bytes: 3 * Number(MiB), echo: false });
  assert.ok(t.session.holding && entry.hooks.isPaused(entry.engine.circuits()[0]!.id));
  // receipts get through again, but the entry's first RECEIPT_ACK is lost
  let acksLost = 0;
  pn.net.taps = [
    (p) => {
      if (acksLost === 0 && p.to.host === '198.18.1.1' && p.packet.length === RECEIPT_ACK_LEN + LAYER_OVERHEAD) {
        acksLost++;
        return false;
      }
      return true;
    },
  ];
  await advance(pn.clock, 1_000, 100);
  assert.equal(acksLost, 1);
  assert.equal(entry.hooks.isPaused(entry.engine.circuits()[0]!.id), false, 'the entry accepted the re-offered receipt');
  assert.ok(t.session.holding, 'the client did not hear it');
  await advance(pn.clock, 1_000, 100);
  assert.equal(t.session.holding, false, 'the next re-offer was stale: the hop holds our latest receipt');
  assert.ok(t.session.stats().hops[0]!.acks.stale >= 1);
  const r = await drive({ send: (ps) => t.session.sendIp(ps), src: t.ipv4, exit: pn.relays[2]!, bytes: Number(MiB), echo: false });
  assert.ok(r.exitPackets >= r.sentPackets * 0.9, `${r.exitPackets}/${r.sentPackets}`);
});
