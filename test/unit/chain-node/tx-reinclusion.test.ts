/**
 * A channel claim (nonce-free) that was applied and is then included again in a later block
 * (there it is `invalid`: stale seq) keeps its tx index: tx_get still reports the block where it
 * took effect and its `ok` result. Found by bench/faults-chain.ts on the devnet, where a claim
 * resubmitted to a lagging node was gossiped back into the validators' pools.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { channelIdFor, homeChain, signPaymentReceipt, signTx, txHash, UNIT, type SignedTx } from '../../../chain/state/index.js';

test('in-memory cluster: a re-included applied claim does not move its tx index to the invalid copy', async () => {
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
    await waitFor('channel open everywhere', () => nodes.every((n) => n.runtime('shard-0').state.channels[channelId] !== undefined), 30_000);

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

    // The same signed claim lands in every shard-0 validator's pool again (as gossip from a lagging node would).
    const validators = dk.genesis.committees['shard-0']!.validators;
    for (const n of nodes.filter((x) => validators.includes(x.self))) {
      n.runtime('shard-0').mempool.add({ hash, from: relay.address, nonce: 0, nonceFree: true, tx: claim, addedAt: Date.now() });
    }
    // Wait until a later block carries it (invalid: stale seq) and is final on every node.
    let again = -1;
    const end2 = Date.now() + 30_000;
    while (again < 0) {
      const rt = nodes[0]!.runtime('shard-0');
      for (let h = first.height! + 1; h <= rt.finalHeight; h++) {
        const rec = await rt.record(h);
        const r = rec?.results.find((x) => x.kind === 'tx' && x.id === hash);
        if (r) {
          assert.equal(r.status, 'invalid');
          again = h;
        }
      }
      assert.ok(Date.now() < end2, 'the re-injected claim was never included again');
      if (again < 0) await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor('re-inclusion final everywhere', () => nodes.every((n) => n.runtime('shard-0').finalHeight >= again), 30_000);
    for (const n of nodes) {
      const st = await n.txStatus(hash);
      assert.equal(st.status, 'final');
      assert.equal(st.height, first.height, 'tx index still points at the block where the claim was applied');
      assert.equal((st.result as { status: string }).status, 'ok');
      assert.equal(n.runtime('shard-0').state.channels[channelId]!.claimed, UNIT);
    }
  } finally {
    await c.stopAll();
  }
});
