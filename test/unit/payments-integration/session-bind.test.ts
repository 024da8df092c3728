/** PaymentSession.bind() failure modes over the real engines: no answer, a higher price, the chain down. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../common/log.js';
import { amountForBytes, GiB } from '../../../protocol/payment-price.js';
import { BindTimeoutError, ChannelRefusedError, PaymentSession, PaymentSessionError, PriceMismatchError } from '../../../client/payments/session.js';
import { advance, flush } from '../relay/fake-net.js';
import { CHAIN_ID, openTo, paidNet, PRICE, type PaidNet } from './paid-net.js';

const DEPOSIT = amountForBytes(GiB, PRICE);

async function built(pn: PaidNet, price = PRICE) {
  const channels = pn.relays.map((r) => openTo(pn.chain, pn.payer, r.key.address, DEPOSIT));
  const circuit = pn.newCircuit();
  const b = circuit.build();
  await flush();
  await b;
  const session = new PaymentSession({
    circuit,
    clock: pn.clock,
    log: silentLogger(),
    chainId: CHAIN_ID,
    payer: pn.payer.address,
    payerSeed: pn.payer.seed,
    hops: channels.map((channelId) => ({ channelId, deposit: DEPOSIT, pricePerGiB: price })),
    bindTimeoutMs: 3_000,
    retryMs: 1_000,
  });
  return { circuit, session, channels };
}

test('relays without payment hooks never answer: BindTimeoutError naming the hop, after retries', async () => {
  const pn = paidNet({ unpaid: true, label: 'nohooks' });
  const { session } = await built(pn);
  const p = session.bind();
  p.catch(() => undefined);
  await flush();
  await advance(pn.clock, 3_500, 250);
  await assert.rejects(p, (e: unknown) => e instanceof BindTimeoutError && e.hop === 0 && /hop 0 did not answer CHANNEL_BIND/.test(e.message));
  assert.equal(session.state, 'failed');
  // each hop got the first BIND and the retries (dropped as 'protocol' by a relay without hooks)
  for (const r of pn.relays) assert.ok(r.engine.stats().drops.protocol >= 3, `${r.engine.stats().drops.protocol}`);
  await assert.rejects(session.bind(), PaymentSessionError);
});

test('a hop stating a higher price than agreed fails the bind (PriceMismatchError)', async () => {
  const pn = paidNet({ label: 'price' });
  const { session } = await built(pn, PRICE - 1n);
  const p = session.bind();
  p.catch(() => undefined);
  await flush();
  await assert.rejects(p, (e: unknown) => e instanceof PriceMismatchError && e.stated === PRICE && e.agreed === PRICE - 1n);
  assert.equal(session.stats().hops.filter((h) => h.state === 'refused').length, 1);
});

test('chain unreachable: the bind is refused chain_unavailable; a later bind succeeds (failures are not cached)', async () => {
  const pn = paidNet({ label: 'offline' });
  const a = await built(pn);
  pn.chain.offline = true;
  const p = a.session.bind();
  p.catch(() => undefined);
  await flush();
  await assert.rejects(p, (e: unknown) => e instanceof ChannelRefusedError && e.reason === 'chain_unavailable');
  pn.chain.offline = false;
  const b = await built(pn);
  const q = b.session.bind();
  await flush();
  await q;
  assert.equal(b.session.state, 'active');
  for (const r of pn.relays) assert.equal(r.hooks.stats().bound, 1);
});
