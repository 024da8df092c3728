import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, transfer, waitFor } from './cluster.js';
import { homeChain, UNIT } from '../../../chain/state/index.js';

test('in-memory cluster: blocks finalize (QC + audit), intra and cross-shard transfers apply once, supply holds on every node', async () => {
  const c = await startCluster({ accounts: 4 });
  try {
    const { dk, nodes } = c;
    const S = dk.genesis.shards;
    // every chain finalizes blocks on every node
    await waitFor('finality on all chains', () => nodes.every((n) => [...n.runtimes.values()].every((r) => r.finalHeight >= 3)));
    const byShard = new Map<string, typeof dk.accounts>();
    for (const a of dk.accounts) {
      const h = homeChain(a.address, S);
      byShard.set(h, [...(byShard.get(h) ?? []), a]);
    }
    const s0 = byShard.get('shard-0')!;
    const s1 = byShard.get('shard-1')!;
    const [a, b] = s0;
    const [x] = s1;
    const n0 = nodes[0]!;
    const fee = UNIT / 100n;
    const before = (addr: string): bigint => n0.runtime(homeChain(addr, S)).state.accounts.get(addr)?.balance ?? 0n;
    const a0 = before(a!.address), b0 = before(b!.address), x0 = before(x!.address);
    // intra-shard a → b, cross-shard a → x (nonces 0, 1), submitted at a node outside shard-0's group
    const submitNode = nodes[dk.nodeKeys.length - 1]!;
    const h1 = submitNode.submitTx(transfer(a!, b!.address, 5n, 0, dk.genesis.chainId, S, 'shard-0'));
    const h2 = submitNode.submitTx(transfer(a!, x!.address, 7n, 1, dk.genesis.chainId, S, 'shard-0'));
    assert.match(h1, /^[0-9a-f]{64}$/);
    await waitFor('cross-shard credit on every node', () =>
      nodes.every((n) => (n.runtime('shard-1').state.accounts.get(x!.address)?.balance ?? 0n) === x0 + 7n * UNIT && n.runtime('shard-1').finalHeight >= n.runtime('shard-1').height - 2),
    );
    await waitFor('tx final', () => nodes.every((n) => n.runtime('shard-0').finalHeight >= n.runtime('shard-0').height - 1));
    const st = await n0.txStatus(h2);
    assert.ok(st.status === 'final' || st.status === 'committed', `status ${st.status}`);
    for (const n of nodes) {
      const s0s = n.runtime('shard-0').state;
      assert.equal(s0s.accounts.get(a!.address)!.balance, a0 - 12n * UNIT - 2n * fee);
      assert.equal(s0s.accounts.get(a!.address)!.nonce, 2);
      assert.equal(s0s.accounts.get(b!.address)!.balance, b0 + 5n * UNIT);
      const rep = n.supply();
      assert.ok(rep.ok, rep.message);
    }
    // a replayed tx is refused with the rule named
    assert.throws(() => submitNode.submitTx(transfer(a!, b!.address, 5n, 0, dk.genesis.chainId, S, 'shard-0')), /nonce/);
    // a wrong-shard tx is refused
    assert.throws(() => submitNode.submitTx(transfer(x!, b!.address, 1n, 0, dk.genesis.chainId, S, 'shard-0')), /lives on shard-1/);
  } finally {
    await c.stopAll();
  }
});
