/**
 * Per-epoch committee re-election in running nodes (in-process cluster over MemoryNetwork):
 * a spare validator registers by tx, the beacon elects it at an epoch boundary, the shard's
 * consensus hands over at the epoch's first height (QCs before it by the old group, after it
 * by the new one), the rotated-out member stops voting but keeps following, and every node
 * agrees on every block and on the supply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { spareRegisterTx } from '../../../chain/devnet/genesis.js';
import { sameMembers } from '../../../chain/node/epochs.js';

const L = 8;

test('in-memory cluster: a registered spare is elected at an epoch boundary; the shard switches groups and keeps finalizing; state agrees everywhere', { timeout: 180_000 }, async () => {
  const c = await startCluster({ shards: 1, group: 4, auditors: 3, spares: 1, accounts: 2, election: { epochBlocks: L } });
  try {
    const { dk, nodes } = c;
    const spareIdx = nodes.length - 1;
    const spare = dk.nodeKeys[spareIdx]!;
    const genesisVals = dk.genesis.committees['shard-0']!.validators;
    assert.ok(!genesisVals.includes(spare.address));
    assert.equal(nodes[0]!.runtime('beacon').state.nodes[spare.address], undefined, 'spares are not registered at genesis');

    nodes[0]!.submitTx(spareRegisterTx(dk.genesis, spare));
    await waitFor('spare registered on the beacon', () => nodes.every((n) => n.runtime('beacon').state.nodes[spare.address]?.status === 'active'), 60_000);

    // The first epoch whose committee holds the spare.
    let k = 0;
    await waitFor('an election that seats the spare', () => {
      const s = nodes[0]!.schedule;
      for (let e = 1; e <= s.knownEpoch; e++) if (s.committees(e)!.shards[0]!.validators.includes(spare.address)) return (k = e) > 0;
      return false;
    }, 60_000);
    const S = k * L + 1; // first shard height of epoch k
    const before = nodes[0]!.runtime('shard-0').groupAt(S - 1)!;
    const after = nodes[0]!.runtime('shard-0').groupAt(S)!;
    assert.ok(!sameMembers(before.validators, after.validators), 'the group changed at the epoch boundary');
    const out = before.validators.filter((v) => !after.validators.includes(v));
    assert.equal(out.length, 1, 'exactly one member rotated (≤ ¼ of 4)');
    assert.equal(after.validators.length, 4);
    assert.ok(after.firstView > before.firstView);
    // Every node derived the same committees for every epoch it knows.
    for (const n of nodes) for (let e = 1; e <= Math.min(n.schedule.knownEpoch, nodes[0]!.schedule.knownEpoch); e++) assert.deepEqual(n.schedule.committees(e), nodes[0]!.schedule.committees(e));

    const target = S + 2 * L + 2; // through the next boundary too (the dropped member is the only spare then)
    await waitFor(`shard-0 final beyond the switch (height ${target}) on every node`, () => nodes.every((n) => n.runtime('shard-0').finalHeight >= target), 90_000);

    const rt0 = nodes[0]!.runtime('shard-0');
    for (let h = Math.max(1, S - 3); h <= target; h++) {
      const rec = (await rt0.record(h))!;
      const g = rt0.groupAt(h)!;
      const signers = rec.qc.votes.map((v) => v.signer);
      assert.ok(signers.length >= 3, `QC of ${h} has a quorum`);
      for (const x of signers) assert.ok(g.validators.includes(x), `QC signer of height ${h} is in that height's group`);
      if (h >= S) {
        if (h < S + L) for (const o of out) assert.ok(!signers.includes(o), `rotated-out member's vote counted at height ${h}`);
        // Audit certificate by that height's auditor group.
        const aud = await rt0.auditOf(h);
        assert.ok(aud && aud.cert.signers.every((x) => g.auditors.includes(x)));
      }
      // Every node holds the same block (hence the same state root) at every height.
      for (const n of nodes) assert.equal((await n.runtime('shard-0').record(h))?.block.hash, rec.block.hash, `node ${n.self.slice(0, 8)} agrees at ${h}`);
    }
    const first = (await rt0.record(S))!;
    assert.equal(first.block.justify.view, (await rt0.record(S - 1))!.block.view, 'the new period builds on the old period\'s last block');
    assert.ok(first.block.view >= after.firstView);

    // The spare now runs consensus for shard-0; the rotated-out node follows without a core once its period is over.
    const spareRt = nodes[spareIdx]!.runtime('shard-0');
    assert.ok(spareRt.height >= target);
    const outNode = nodes.find((n) => n.self === out[0])!;
    const cur = outNode.runtime('shard-0');
    if (!cur.validators.includes(outNode.self)) assert.equal(cur.coreView(), undefined, 'a rotated-out node runs no core');
    for (const n of nodes) assert.equal(n.supply().ok, true, n.supply().message);
    let switches = 0;
    for (let h = 2; h <= target; h++) if (!sameMembers(rt0.groupAt(h - 1)!.validators, rt0.groupAt(h)!.validators)) switches++;
    assert.ok(switches >= 2, `at least two handovers (saw ${switches})`);

    // A node restarted after the handovers reloads the elections and its period's safety state and keeps up.
    await c.restart(spareIdx);
    const again = nodes[0]!.runtime('shard-0').finalHeight + L;
    await waitFor(`every node final at ${again} after the spare restarted`, () => nodes.every((n) => n.runtime('shard-0').finalHeight >= again), 90_000);
    assert.deepEqual(nodes[spareIdx]!.schedule.committees(k), nodes[0]!.schedule.committees(k));
    for (const n of nodes) assert.equal((await n.runtime('shard-0').record(again))?.block.hash, (await rt0.record(again))!.block.hash);
  } finally {
    await c.stopAll();
  }
});

test('in-memory cluster: two shards rotate every epoch with two spares; a member cut off across a handover catches up; all agree', { timeout: 180_000 }, async () => {
  const c = await startCluster({ shards: 2, group: 4, auditors: 4, spares: 2, accounts: 2, election: { epochBlocks: L } });
  try {
    const { dk, nodes, hub } = c;
    const spares = dk.nodeKeys.slice(-2);
    for (const k of spares) nodes[0]!.submitTx(spareRegisterTx(dk.genesis, k));
    await waitFor('spares registered', () => nodes.every((n) => spares.every((k) => n.runtime('beacon').state.nodes[k.address]?.status === 'active')), 60_000);
    // Cut one shard-0 genesis validator off from everyone for a while around the next boundary.
    const victim = dk.genesis.committees['shard-0']!.validators[1]!;
    const rt0 = nodes[0]!.runtime('shard-0');
    const boundary = (Math.floor(rt0.height / L) + 1) * L;
    await waitFor('close to a boundary', () => rt0.height >= boundary - 2, 60_000);
    for (const k of dk.nodeKeys) if (k.address !== victim) hub.partition(victim, k.address);
    await waitFor('the others pass the boundary', () => rt0.height >= boundary + 3, 60_000);
    hub.heal();
    const target = Math.max(...['shard-0', 'shard-1'].map((ch) => nodes[0]!.runtime(ch).height)) + 2 * L;
    await waitFor(`both shards final at ${target} everywhere`, () => nodes.every((n) => n.runtime('shard-0').finalHeight >= target && n.runtime('shard-1').finalHeight >= target), 120_000);
    for (const ch of ['shard-0', 'shard-1']) {
      const rt = nodes[0]!.runtime(ch);
      let switches = 0;
      for (let h = 1; h <= target; h++) {
        const g = rt.groupAt(h)!;
        if (h > 1 && !sameMembers(rt.groupAt(h - 1)!.validators, g.validators)) switches++;
        const rec = (await rt.record(h))!;
        for (const v of rec.qc.votes) assert.ok(g.validators.includes(v.signer), `${ch}#${h}: QC signer outside its group`);
        for (const n of nodes) assert.equal((await n.runtime(ch).record(h))?.block.hash, rec.block.hash, `${ch}#${h} agrees on ${n.self.slice(0, 8)}`);
      }
      assert.ok(switches >= 2, `${ch}: ${switches} handovers`);
    }
    for (const n of nodes) assert.equal(n.supply().ok, true, n.supply().message);
  } finally {
    await c.stopAll();
  }
});
