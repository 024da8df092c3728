/**
 * A channel claim (nonce-free) that was applied and then reaches the validators again (a claim
 * resubmitted to a lagging node is gossiped back; found by bench/faults-chain.ts) is dropped:
 * refused at gossip admission and removed from the pool when a block is built, so it never
 * takes a block slot again; tx_get still reports the block where it took effect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { channelIdFor, homeChain, signPaymentReceipt, signTx, txHash, UNIT, type SignedTx } from '../../../chain/state/index.js';

test('in-memory cluster: a stale (already applied) claim is dropped from gossip and pools, never re-included; its tx index stays', async () => {
  const c = await startCluster({ accounts: 8 });
  try {
    const { dk, nodes } = c;
    const chainId = dk.genesis.chainId;
    const S = dk.genesis.shards;
    const payer = dk.accounts.find((a) => homeChain(a.address, S) === 'shard-0')!;
    const relay = dk.accounts.find((a) => a !== payer)!;
    const pSeed = Buffer.from(payer.seedHex, 'hex');
    await waitFor('finality', () => nodes.every((n) => n.runtime('shard-0').finalHeight >= 2), 30_000);

    const open: SignedTx = signTx({ chainId, chain: 'shard-0', from: payer.address, nonce: 0, fee: UNIT / 100n, op: { type: 'channel-open', relay: relay.address, deposit: 5n * UNIT } }, pSeed);
    nodes[0]!.submitTx(open);
    const channelId = channelIdFor(chainId, payer.address, 0);
    await waitFor('channel open everywhere', () => nodes.every((n) => n.runtime('shard-0').state.channels.get(channelId) !== undefined), 30_000);

    const receipt = { chainId, channelId, cumulativeBytes: 1000n, cumulativeAmount: UNIT, seq: 1 };
    const claim: SignedTx = signTx(
      { chainId, chain: 'shard-0', from: relay.address, nonce: 0, fee: UNIT / 100n, op: { type: 'channel-claim', channelId, receipt, receiptSignature: signPaymentReceipt(receipt, pSeed) } },
      Buffer.from(relay.seedHex, 'hex'),
    );
    const hash = nodes[1]!.submitTx(claim);
    assert.equal(hash, txHash(claim.tx));
    let first: { height?: number } = {};
    const end = Date.now() + 30_000;
    for (;;) {
      const st = await nodes[2]!.txStatus(hash);
      if (st.status === 'final') {
        first = st;
        break;
      }
      assert.ok(Date.now() < end, 'claim did not become final');
      await new Promise((r) => setTimeout(r, 50));
    }
    const applied = await nodes[2]!.txStatus(hash);
    assert.equal((applied.result as { status: string }).status, 'ok');

    // The same signed claim reaches every shard-0 validator again: as gossip (refused at
    // admission) and, bypassing admission, straight into the pool (dropped when a block is built).
    const validators = dk.genesis.committees['shard-0']!.validators;
    const vnodes = nodes.filter((x) => validators.includes(x.self));
    for (const n of vnodes) {
      const rt = n.runtime('shard-0');
      rt.onMessage(relay.address, 'txs', [claim]);
      assert.equal(rt.mempool.has(hash), false, 'a stale gossiped claim is not admitted');
      rt.mempool.add({ hash, from: relay.address, nonce: 0, nonceFree: true, tx: claim, addedAt: Date.now() });
    }
    const after = nodes[0]!.runtime('shard-0').finalHeight;
    // Every validator drops it when it next builds a block (each leads in turn).
    await waitFor('the stale claim left every pool', () => vnodes.every((n) => !n.runtime('shard-0').mempool.has(hash)), 30_000);
    await waitFor('more final blocks', () => nodes.every((n) => n.runtime('shard-0').finalHeight >= after + 4), 30_000);
    const rt0 = nodes[0]!.runtime('shard-0');
    for (let h = first.height! + 1; h <= rt0.finalHeight; h++) {
      const rec = await rt0.record(h);
      assert.equal(rec?.results.some((x) => x.kind === 'tx' && x.id === hash), false, `stale claim re-included at height ${h}`);
    }
    for (const n of nodes) {
      const st = await n.txStatus(hash);
      assert.equal(st.status, 'final');
      assert.equal(st.height, first.height, 'tx index still points at the block where the claim was applied');
      assert.equal((st.result as { status: string }).status, 'ok');
      assert.equal(n.runtime('shard-0').state.channels.get(channelId)!.claimed, UNIT);
    }
  } finally {
    await c.stopAll();
  }
});
