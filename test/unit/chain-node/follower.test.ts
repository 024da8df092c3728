import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { ChainNode } from '../../../chain/node/node.js';
import { MemoryHub, MemoryNetwork } from '../../../chain/node/net.js';
import { MemoryStore } from '../../../chain/node/store.js';
import { generateKeyPair } from '../../../chain/node/keys.js';
import { silentLogger } from '../../../common/log.js';

test('a follower applies only commit records whose QC and 2-chain proof verify; forged ones change nothing', async () => {
  const c = await startCluster({ accounts: 2 });
  let recs;
  try {
    await waitFor('height 3 on shard-0', () => c.nodes[0]!.runtime('shard-0').height >= 3);
    const rt = c.nodes[0]!.runtime('shard-0');
    recs = [await rt.record(1), await rt.record(2)];
  } finally {
    await c.stopAll();
  }
  const [r1, r2] = recs as [NonNullable<(typeof recs)[0]>, NonNullable<(typeof recs)[0]>];
  // An isolated node (its own hub: nobody to sync from) with the same genesis.
  const outsider = generateKeyPair();
  const node = new ChainNode({ genesis: c.dk.genesis, key: outsider, net: new MemoryNetwork(outsider.address, new MemoryHub()), store: new MemoryStore(), log: silentLogger() });
  await node.start();
  try {
    const f = node.runtime('shard-0');
    const send = (body: unknown): void => f.onMessage(c.dk.nodeKeys[0]!.address, 'commit', body);
    const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));
    // payload swapped (hash kept): bad payload hash
    send({ block: { ...r1.block, payload: r2.block.payload }, qc: r1.qc, proof: r1.proof });
    await settle();
    assert.equal(f.height, 0);
    // QC signatures stripped below quorum
    send({ block: r1.block, qc: { ...r1.qc, votes: r1.qc.votes.slice(0, 1) }, proof: r1.proof });
    await settle();
    assert.equal(f.height, 0);
    // proof of another block
    send({ block: r1.block, qc: r1.qc, proof: r2.proof });
    await settle();
    assert.equal(f.height, 0);
    // forged vote signature in the proof QC
    const badSig = { ...r1.proof!.qc, votes: r1.proof!.qc.votes.map((v) => ({ ...v, signature: 'ab'.repeat(64) })) };
    send({ block: r1.block, qc: r1.qc, proof: { ...r1.proof!, qc: badSig } });
    await settle();
    assert.equal(f.height, 0);
    // the genuine records apply in order (2 first is buffered until 1 arrives)
    send({ block: r2.block, qc: r2.qc, proof: r2.proof });
    await settle();
    assert.equal(f.height, 0);
    send({ block: r1.block, qc: r1.qc, proof: r1.proof });
    await waitFor('genuine blocks applied', () => f.height === 2, 5000);
    assert.equal(f.tipHash, r2.block.hash);
  } finally {
    await node.stop();
  }
});
