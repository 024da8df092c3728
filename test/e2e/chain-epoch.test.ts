/**
 * End to end: per-epoch committee re-election across separate node processes. A devnet of
 * 8 processes (1 shard × 4 validators, 3 auditors that also form the beacon committee, 1 spare
 * validator not registered at genesis), epochs of 10 blocks. The spare registers by tx with
 * its deposit; the beacon's election at the next epoch boundary seats it and rotates one
 * member out (≤ ¼); from the epoch's first shard height on, blocks are certified by the new
 * group only (the rotated-out member's votes are in no QC), a transfer finalizes under the new
 * group, and every node holds the same blocks, state roots and a sound supply.
 * The beacon committee rotates too: a beacon member unregisters (by tx, from its node key);
 * the next election replaces it, the beacon hands over at that epoch's first height and keeps
 * committing, its QCs signed by the new committee only (the newcomer among the signers), and
 * every node reports the same beacon committee, epoch, blocks and state roots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import { homeChain, signTx, UNIT } from '../../chain/state/index.js';
import { readKeyFile } from '../../chain/node/keys.js';
import { waitFor as waitForDefault, waitUntil } from '../helpers/wait.js';
import { allActive, allFinalAt, allReached, assertHandover, assertSameBalance, assertSameBlocks, assertSameCommittee, assertSupplyOk, certifiedBlock, chainOf, committeeAt, finalTxHeights, firstElectedHeight, firstSeatedHeight } from '../helpers/chain-rpc.js';

/** This file's nodes need longer: every wait defaults to 90_000 ms. */
const waitFor = (what: string, cond: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> => waitForDefault(what, cond, timeoutMs);

const L = 10;

test('devnet processes: a spare registers and a beacon member leaves; both are applied at epoch boundaries, the shard and the beacon hand over and keep committing; all nodes agree', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-epoch-'));
  const d = await Devnet.create({ dir, shards: 1, group: 4, auditors: 3, spares: 1, accounts: 2, election: { epochBlocks: L }, timing: { baseTimeoutMs: 1500, minBlockIntervalMs: 100, idleBlockMs: 300 } });
  try {
    await d.start();
    assert.equal(d.pids().length, 8);
    const urls = d.rpcUrls();
    const spare = d.nodes.find((n) => n.role === 'spare validator')!;
    await waitFor('shard-0 final on every node', () => allFinalAt(urls, 2));
    await assert.rejects(rpcCall(urls[0]!, 'node_get', [spare.address]), (e: unknown) => e instanceof RpcCallError && e.code === -32001, 'the spare is not registered at genesis');

    const [regHash] = await d.registerSpares();
    assert.match(regHash!, /^[0-9a-f]{64}$/);
    // A genesis beacon member (an auditor) unregisters with its node key: ineligible from the next election on.
    const beacon0 = await committeeAt(urls[0]!, 'beacon', 1);
    assert.equal(beacon0.epoch, 0);
    const leaverNode = d.nodes.find((n) => n.address === beacon0.validators[0])!;
    const leaverKey = readKeyFile(join(leaverNode.dir, 'key.json'));
    const leaveTx = signTx({ chainId: d.chainId, chain: homeChain(leaverKey.address, d.shards), from: leaverKey.address, nonce: 0, fee: UNIT / 100n, op: { type: 'unregister' } }, Buffer.from(leaverKey.seedHex, 'hex'));
    await rpcCall<string>(leaverNode.rpc, 'tx_submit', [leaveTx]);
    await waitFor('spare active on the beacon of every node', () => allActive(urls, [spare.address]));

    // The first epoch whose shard-0 committee seats the spare.
    let S = 0;
    await waitFor('an election seating the spare', async () => (S = (await firstSeatedHeight(urls[0]!, 'shard-0', spare.address, L)) ?? 0) > 0);
    const before = await committeeAt(urls[0]!, 'shard-0', S - 1);
    const after = await assertSameCommittee(urls, 'shard-0', S);
    const out = before.validators.filter((v) => !after.validators.includes(v));
    assert.equal(out.length, 1, 'one member rotated out (≤ ¼ of 4)');
    assert.equal(after.validators.length, 4);
    const outNode = d.nodes.find((n) => n.address === out[0])!;

    // A transfer submitted to the rotated-out node after the handover finalizes under the new group.
    await waitFor('every node past the handover', () => allReached(urls, 'height', S));
    const [a, b] = d.accounts;
    const acct = await rpcCall<{ nonce: number }>(urls[0]!, 'account_get', [a!.address]);
    const tx = signTx({ chainId: d.chainId, chain: 'shard-0', from: a!.address, nonce: acct.nonce, fee: UNIT / 100n, op: { type: 'transfer', to: b!.address, amount: 3n * UNIT } }, Buffer.from(a!.seedHex, 'hex'));
    const h = await rpcCall<string>(outNode.rpc, 'tx_submit', [tx]);
    // a node not answering counts as "not yet", as in waitFor
    const txHeights = await waitUntil('transfer final on every node', () => finalTxHeights(urls, [h]).catch(() => undefined), { timeoutMs: 90_000, intervalMs: 250 });
    assert.ok(Math.min(...txHeights) >= S, 'the transfer landed after the handover');

    const target = Math.max(S + 6, Math.max(...txHeights) + 1);
    await waitFor(`shard-0 final at ${target} on every node`, () => allFinalAt(urls, target));
    let spareActive = false;
    for (let height = S - 2; height <= target; height++) {
      const { block: ref, committee: g, signers } = await certifiedBlock(urls[0]!, 'shard-0', height, 3);
      assert.ok(ref.audit && ref.audit.signers.length >= 3 && ref.audit.signers.every((s) => g.auditors.includes(s)), `audit of ${height} by its auditor group`);
      if (height >= S && height < S + L) {
        assert.ok(!signers.includes(out[0]!), `rotated-out member's vote counted at ${height}`);
        assert.ok(ref.proposer !== out[0], 'rotated-out member proposed after the handover');
        if (signers.includes(spare.address) || ref.proposer === spare.address) spareActive = true;
      }
    }
    assert.ok(spareActive, 'the elected spare proposes or votes in its epoch');
    await assertSameBlocks(urls, 'shard-0', S - 2, target);
    await assertHandover(urls[0]!, 'shard-0', S, after.firstView);
    await assertSupplyOk(urls);
    await assertSameBalance(urls, b!.address);

    // The beacon: the first epoch whose committee no longer holds the leaver (it unregistered long ago).
    let B = 0;
    await waitFor('a beacon election without the leaver', async () => (B = (await firstElectedHeight(urls[0]!, 'beacon', L, (c) => !c.validators.includes(leaverNode.address))) ?? 0) > 0);
    const bBefore = await committeeAt(urls[0]!, 'beacon', B - 1);
    const bAfter = await assertSameCommittee(urls, 'beacon', B);
    assert.ok(bBefore.validators.includes(leaverNode.address));
    assert.equal(bAfter.validators.length, 3, 'the leaver is replaced: the beacon committee keeps its size');
    assert.equal(bAfter.epoch, (B - 1) / L);
    assert.ok(bAfter.firstView > bBefore.firstView, 'a new consensus period');
    const newcomers = bAfter.validators.filter((v) => !bBefore.validators.includes(v));
    assert.equal(newcomers.length, 1, 'exactly the leaver\'s seat changed');
    const bTarget = B + L + 2;
    await waitFor(`beacon committed past ${bTarget} on every node`, () => allFinalAt(urls, bTarget, 'beacon'));
    for (const u of urls) assert.ok((await chainOf(u, 'beacon')).epoch >= bAfter.epoch, 'chain_status shows the beacon\'s epoch');
    let newcomerSigned = false;
    for (let height = B - 3; height <= bTarget; height++) {
      const { block: ref, signers } = await certifiedBlock(urls[0]!, 'beacon', height, 3);
      if (height >= B) {
        assert.ok(!signers.includes(leaverNode.address) && ref.proposer !== leaverNode.address, `the leaver signed or proposed beacon#${height} after the handover`);
        if (signers.includes(newcomers[0]!)) newcomerSigned = true;
      }
    }
    assert.ok(newcomerSigned, 'the member elected into the beacon signs its QCs');
    await assertSameBlocks(urls, 'beacon', B - 3, bTarget);
    await assertHandover(urls[0]!, 'beacon', B, bAfter.firstView);
    await assertSupplyOk(urls);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
