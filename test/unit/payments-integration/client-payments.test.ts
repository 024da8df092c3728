/**
 * ClientPayments over real HTTP JSON-RPC (in-process node over the real state transition) with
 * the paid in-memory network: plan + open three channels within the budget, pay a circuit, reuse
 * the channels for a second circuit (resuming after the last receipt), then close them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UNIT } from '../../../chain/state/index.js';
import { silentLogger } from '../../../common/log.js';
import { amountForBytes, MiB } from '../../../protocol/payment-price.js';
import { seedSigner } from '../../../client/payments/chain.js';
import type { KnownChannel } from '../../../client/payments/channels.js';
import { ClientPayments } from '../../../client/payments/client-payments.js';
import { flush } from '../relay/fake-net.js';
import { paidNet, PARAMS, PRICE } from './paid-net.js';
import { RpcFakeNode } from './rpc-chain.js';
import { drive } from './traffic.js';

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('ClientPayments: open per plan, pay a circuit, reuse the channels (resume), close them', { timeout: 60_000 }, async () => {
  const pn = paidNet({ label: 'client-payments' });
  const node = new RpcFakeNode(pn.chain);
  const url = await node.listen();
  try {
    const saved: KnownChannel[][] = [];
    const pay = await ClientPayments.connect({ rpcUrl: url, signer: seedSigner(pn.payer.seed), payerSeed: pn.payer.seed, budget: 40n * UNIT, fee: PARAMS.minFee, wait: { pollMs: 5 }, log: silentLogger(), onChange: (k) => saved.push(k) });
    const quotes = pn.relays.map((r) => ({ relay: r.key.address, pricePerGiB: PRICE }));
    const preparing = pay.prepare(quotes);
    await until('three opens submitted', () => pn.chain.mempool.length === 3);
    node.mine();
    const hops = await preparing;
    assert.equal(hops.length, 3);
    for (const [i, h] of hops.entries()) {
      const ch = pn.chain.findChannel(h.channelId)!;
      assert.equal(ch.relay, pn.relays[i]!.key.address);
      assert.equal(ch.deposit, 10n * UNIT, '10 GiB of coverage at 1 TOP/GiB');
      assert.equal(h.resume, undefined);
    }

    // first circuit
    const run = async (hs: typeof hops) => {
      const circuit = pn.newCircuit();
      const b = circuit.build();
      await flush();
      const info = await b;
      const session = pay.session(circuit, hs, { clock: pn.clock, log: silentLogger() });
      session.onIp(() => undefined);
      const bp = session.bind();
      await flush();
      await bp;
      const r = await drive({ send: (ps) => session.sendIp(ps), src: info.ipv4, exit: pn.relays[2]!, bytes: 3 * Number(MiB), echo: true });
      assert.equal(r.exitPackets, r.sentPackets);
      session.finish();
      await flush();
      circuit.close();
      await flush();
      return session.stats();
    };
    const s1 = await run(hops);
    const k1 = pay.channels();
    for (const [i, k] of k1.entries()) {
      assert.ok(k.lastReceipt && k.lastReceipt.seq === s1.hops[i]!.signed, `hop ${i} resume point = last receipt`);
      assert.equal(k.promised, k.lastReceipt.cumulativeAmount);
      assert.deepEqual(pn.relays[i]!.book.get(k.channelId)!.best!.receipt.seq, k.lastReceipt.seq);
    }
    assert.ok(saved.length > 3, 'every receipt was handed over for persistence');

    // second circuit reuses the three channels, continuing after the last receipt
    const again = await pay.prepare(quotes);
    assert.equal(pn.chain.mempool.length, 0, 'nothing opened');
    assert.deepEqual(again.map((h) => h.channelId), hops.map((h) => h.channelId));
    for (const [i, h] of again.entries()) assert.deepEqual(h.resume, k1[i]!.lastReceipt);
    const s2 = await run(again);
    for (const [i, h] of s2.hops.entries()) {
      assert.equal(h.acks.stale + h.acks.forged + h.acks.underpaid, 0);
      assert.ok(h.acks.accepted > 0);
      const best = pn.relays[i]!.book.get(h.channelId)!.best!.receipt;
      assert.ok(best.seq > k1[i]!.lastReceipt!.seq && best.cumulativeBytes > k1[i]!.lastReceipt!.cumulativeBytes, `hop ${i} continued`);
      assert.ok(best.cumulativeBytes > 12n * MiB && best.cumulativeBytes < 14n * MiB, `hop ${i}: cumulative over both circuits (${best.cumulativeBytes})`);
      assert.equal(best.cumulativeAmount, amountForBytes(best.cumulativeBytes, PRICE));
    }

    // cleanup closes the three channels (no longer in use)
    pay.release(again);
    const sent = await pay.cleanup();
    assert.equal(sent.length, 3);
    node.mine();
    for (const h of again) assert.equal(pn.chain.findChannel(h.channelId)!.status, 'closing');
  } finally {
    await node.close();
  }
});
