import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { channelIdFor, homeChain, signTx, UNIT, type Tx, type TxOp } from '../../../chain/state/index.js';
import type { KeyPair } from '../../../chain/node/keys.js';

test('in-memory cluster: a relay registers (shard → beacon receipt), a channel opens; every node agrees and supply holds', async () => {
  const c = await startCluster({ accounts: 2 });
  try {
    const { dk, nodes } = c;
    const S = dk.genesis.shards;
    const [relay, payer] = dk.accounts as [KeyPair, KeyPair];
    const mk = (k: KeyPair, nonce: number, op: TxOp) =>
      signTx({ chainId: dk.genesis.chainId, chain: homeChain(k.address, S) as Tx['chain'], from: k.address, nonce, fee: UNIT / 100n, op }, Buffer.from(k.seedHex, 'hex'));
    const onion = 'cd'.repeat(32);
    const submitter = nodes[5]!;
    // Validation names the broken rule: a deposit below the relay minimum.
    assert.throws(() => submitter.submitTx(mk(relay, 0, { type: 'register', role: 'relay', deposit: 1n * UNIT, consensusKey: relay.address, onionKey: onion, endpoints: ['udp://127.0.0.1:9000'], pricePerGiB: 10n * UNIT, region: 'eu' })), /^TxRejected: register: deposit/);
    submitter.submitTx(mk(relay, 0, { type: 'register', role: 'relay', deposit: 200_000n * UNIT, consensusKey: relay.address, onionKey: onion, endpoints: ['udp://127.0.0.1:9000'], pricePerGiB: 10n * UNIT, region: 'eu' }));
    submitter.submitTx(mk(payer, 0, { type: 'channel-open', relay: relay.address, deposit: 50n * UNIT }));
    const chId = channelIdFor(dk.genesis.chainId, payer.address, 0);
    await waitFor('relay on the beacon of every node and channel open everywhere', () =>
      nodes.every((n) => n.runtime('beacon').state.nodes[relay.address]?.role === 'relay' && n.runtime(homeChain(payer.address, S)).state.channels.get(chId)?.status === 'open'),
    );
    for (const n of nodes) {
      assert.equal(n.runtime('beacon').state.nodes[relay.address]!.deposit, 200_000n * UNIT);
      assert.equal(n.runtime(homeChain(payer.address, S)).state.channels.get(chId)!.deposit, 50n * UNIT);
      const rep = n.supply();
      assert.ok(rep.ok, rep.message);
    }
  } finally {
    await c.stopAll();
  }
});
