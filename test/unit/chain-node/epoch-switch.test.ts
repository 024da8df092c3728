/**
 * Per-epoch committee re-election in running nodes (in-process cluster over MemoryNetwork):
 * a spare validator registers by tx, the beacon elects it at an epoch boundary, the shard's
 * consensus hands over at the epoch's first height (QCs before it by the old group, after it
 * by the new one), the rotated-out member stops voting but keeps following, and every node
 * agrees on every block and on the supply. The beacon committee rotates the same way: elected
 * with the shards' committees from its own block k·L, handed over at k·L+1, its QCs signed by
 * each height's committee, reproduced by a restarted node and by one syncing from scratch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { spareRegisterTx } from '../../../chain/devnet/genesis.js';
import { sameMembers } from '../../../chain/node/epochs.js';
import { MemoryStore } from '../../../chain/node/store.js';
import { homeChain, signTx, UNIT } from '../../../chain/state/index.js';

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

test('in-memory cluster: the beacon committee is re-elected every epoch (¼ rotation, a leaver replaced); its QCs are signed by each height\'s committee; a restarted member and a node synced from scratch derive the same schedule', { timeout: 180_000 }, async () => {
  // 4 validators + 4 auditors; the auditors form the genesis beacon (4 seats, 8 eligible: one seat rotates per epoch).
  const c = await startCluster({ shards: 1, group: 4, auditors: 4, accounts: 2, election: { epochBlocks: L } });
  try {
    const { dk, nodes } = c;
    const genesisBeacon = dk.genesis.committees.beacon!.validators;
    const leaver = dk.nodeKeys.find((k) => k.address === genesisBeacon[0])!;
    const unregister = signTx({ chainId: dk.genesis.chainId, chain: homeChain(leaver.address, 1), from: leaver.address, nonce: 0, fee: UNIT / 100n, op: { type: 'unregister' } }, Buffer.from(leaver.seedHex, 'hex'));
    nodes[0]!.submitTx(unregister);
    await waitFor('the leaver unbonding on every beacon', () => nodes.every((n) => n.runtime('beacon').state.nodes[leaver.address]?.status === 'unbonding'), 60_000);
    const leftAt = Math.max(...nodes.map((n) => n.runtime('beacon').height));
    const target = (Math.floor(leftAt / L) + 4) * L + 3;
    await waitFor(`beacon committed past ${target} on every node`, () => nodes.every((n) => n.runtime('beacon').height >= target), 120_000);

    const b0 = nodes[0]!.runtime('beacon');
    const s0 = nodes[0]!.schedule;
    for (const n of nodes) for (let e = 1; e <= Math.min(n.schedule.knownEpoch, s0.knownEpoch); e++) assert.deepEqual(n.schedule.committees(e), s0.committees(e), 'every node elected the same committees');
    // Rotation: at most ¼ of 4 per epoch besides the leaver; the leaver is gone from the first election after it left.
    for (let e = 1; e <= s0.knownEpoch; e++) {
      const prev = s0.committees(e - 1)!.beacon;
      const cur = s0.committees(e)!.beacon;
      assert.equal(cur.length, 4);
      assert.ok(prev.filter((m) => !cur.includes(m) && m !== leaver.address).length <= 1, `epoch ${e}: more than one beacon member rotated`);
      if (e * L >= leftAt) assert.ok(!cur.includes(leaver.address), `epoch ${e}: the unregistered member still sits in the beacon`);
      // Beacon + at most one group per node; nobody audits its own validator group.
      const groups = s0.committees(e)!.shards.flatMap((sh) => [sh.validators, sh.auditors]);
      for (const k of dk.nodeKeys) assert.ok(groups.filter((g) => g.includes(k.address)).length <= 1, `epoch ${e}: a node in two shard groups`);
    }
    let switches = 0;
    let newcomerSigned = false;
    for (let h = 1; h <= target; h++) {
      const g = b0.groupAt(h)!;
      const rec = (await b0.record(h))!;
      const signers = rec.qc.votes.map((v) => v.signer);
      assert.ok(signers.length >= 3, `beacon QC of ${h} has a quorum`);
      for (const x of signers) assert.ok(g.validators.includes(x), `beacon QC signer at ${h} outside that height's committee (epoch ${g.epoch})`);
      assert.ok(g.validators.includes(rec.block.proposer), `beacon proposer at ${h} in its committee`);
      if (signers.some((x) => !genesisBeacon.includes(x))) newcomerSigned = true;
      if (h > 1 && b0.groupAt(h - 1)!.periodStart !== g.periodStart) {
        switches++;
        const last = (await b0.record(h - 1))!;
        assert.equal(rec.block.parentHash, last.block.hash, `the new beacon committee builds on the old one's last block (${h - 1})`);
        assert.equal(rec.block.justify.blockHash, last.block.hash);
        assert.ok(rec.block.view >= g.firstView && last.block.view < g.firstView, 'views of the two periods are disjoint');
        assert.equal((h - 1) % L, 0, 'a beacon switch happens only at an epoch boundary');
      }
      for (const n of nodes) assert.equal((await n.runtime('beacon').record(h))?.block.hash, rec.block.hash, `beacon#${h} agrees on ${n.self.slice(0, 8)}`);
    }
    assert.ok(switches >= 3, `beacon handovers: ${switches}`);
    assert.ok(newcomerSigned, 'a member elected into the beacon signs its QCs');

    // Restart a running beacon member (its period's safety state is reloaded) and wipe a node that runs no core (it syncs every chain from scratch).
    const member = nodes.findIndex((n) => n.runtime('beacon').coreView() !== undefined);
    assert.ok(member >= 0);
    await c.restart(member);
    let wiped = -1;
    await waitFor('a node running no core', () => (wiped = nodes.findIndex((n, i) => i !== member && n.runtime('beacon').coreView() === undefined && n.runtime('shard-0').coreView() === undefined)) >= 0, 60_000);
    await c.kill(wiped);
    c.stores[wiped] = new MemoryStore();
    await c.restart(wiped);
    const again = Math.max(...nodes.map((n) => n.runtime('beacon').height)) + 2 * L;
    await waitFor(`beacon at ${again} on every node after the restarts`, () => nodes.every((n) => n.runtime('beacon').height >= again), 120_000);
    // Compare with a node that kept running (nodes[] holds the restarted nodes' new instances).
    const ref = nodes.find((_, i) => i !== member && i !== wiped)!;
    const shardTop = ref.runtime('shard-0').finalHeight;
    await waitFor('shard-0 final past the restarts everywhere', () => nodes.every((n) => n.runtime('shard-0').finalHeight >= shardTop), 60_000);
    for (const i of [member, wiped]) {
      const s = nodes[i]!.schedule;
      assert.ok(s.knownEpoch >= Math.floor(again / L));
      for (let e = 1; e <= Math.min(s.knownEpoch, ref.schedule.knownEpoch); e++) assert.deepEqual(s.committees(e), ref.schedule.committees(e), `node ${i}: epoch ${e} after restart`);
      for (let h = 1; h <= again; h++) {
        assert.deepEqual(nodes[i]!.runtime('beacon').groupAt(h), ref.runtime('beacon').groupAt(h), `node ${i}: beacon group of ${h}`);
        assert.equal((await nodes[i]!.runtime('beacon').record(h))?.block.hash, (await ref.runtime('beacon').record(h))!.block.hash, `node ${i}: beacon#${h}`);
      }
    }
    for (const n of nodes) assert.equal(n.supply().ok, true, n.supply().message);
  } finally {
    await c.stopAll();
  }
});
