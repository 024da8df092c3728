/**
 * End to end: per-epoch committee re-election across separate node processes. A devnet of
 * 8 processes (1 shard × 4 validators, 3 auditors that also form the beacon committee, 1 spare
 * validator not registered at genesis), epochs of 10 blocks. The spare registers by tx with
 * its deposit; the beacon's election at the next epoch boundary seats it and rotates one
 * member out (≤ ¼); from the epoch's first shard height on, blocks are certified by the new
 * group only (the rotated-out member's votes are in no QC), a transfer finalizes under the new
 * group, and every node holds the same blocks, state roots and a sound supply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import { signTx, UNIT } from '../../chain/state/index.js';
import { waitFor as waitForDefault } from '../helpers/wait.js';

/** This file's nodes need longer: every wait defaults to 90_000 ms. */
const waitFor = (what: string, cond: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> => waitForDefault(what, cond, timeoutMs);

const L = 10;

interface Status {
  chains: Array<{ chain: string; height: number; finalHeight: number; validator: boolean; epoch: number }>;
}
interface Committee {
  epoch: number;
  validators: string[];
  auditors: string[];
  firstView: number;
}
interface BlockView {
  hash: string;
  view: number;
  proposer: string;
  stateRoot: string;
  qc: { votes: Array<{ signer: string }> };
  audit: { signers: string[] } | null;
  justify: { view: number; blockHash: string };
}

const shardOf = async (url: string): Promise<Status['chains'][number]> => (await rpcCall<Status>(url, 'chain_status')).chains.find((c) => c.chain === 'shard-0')!;

test('devnet processes: a spare registers, is elected at an epoch boundary, the shard hands over and keeps finalizing; all nodes agree', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-epoch-'));
  const d = await Devnet.create({ dir, shards: 1, group: 4, auditors: 3, spares: 1, accounts: 2, election: { epochBlocks: L }, timing: { baseTimeoutMs: 1500, minBlockIntervalMs: 100, idleBlockMs: 300 } });
  try {
    await d.start();
    assert.equal(d.pids().length, 8);
    const urls = d.rpcUrls();
    const spare = d.nodes.find((n) => n.role === 'spare validator')!;
    await waitFor('shard-0 final on every node', async () => {
      for (const u of urls) if ((await shardOf(u)).finalHeight < 2) return false;
      return true;
    });
    await assert.rejects(rpcCall(urls[0]!, 'node_get', [spare.address]), (e: unknown) => e instanceof RpcCallError && e.code === -32001, 'the spare is not registered at genesis');

    const [regHash] = await d.registerSpares();
    assert.match(regHash!, /^[0-9a-f]{64}$/);
    await waitFor('spare active on the beacon of every node', async () => {
      for (const u of urls) if ((await rpcCall<{ status: string; role: string }>(u, 'node_get', [spare.address])).status !== 'active') return false;
      return true;
    });

    // The first epoch whose shard-0 committee seats the spare.
    let S = 0;
    await waitFor('an election seating the spare', async () => {
      for (let k = 1; ; k++) {
        let c: Committee;
        try {
          c = await rpcCall<Committee>(urls[0]!, 'committee_get', ['shard-0', k * L + 1]);
        } catch {
          return false; // not elected yet
        }
        if (c.validators.includes(spare.address)) {
          S = k * L + 1;
          return true;
        }
      }
    });
    const before = await rpcCall<Committee>(urls[0]!, 'committee_get', ['shard-0', S - 1]);
    const after = await rpcCall<Committee>(urls[0]!, 'committee_get', ['shard-0', S]);
    const out = before.validators.filter((v) => !after.validators.includes(v));
    assert.equal(out.length, 1, 'one member rotated out (≤ ¼ of 4)');
    assert.equal(after.validators.length, 4);
    for (const u of urls) assert.deepEqual(await rpcCall<Committee>(u, 'committee_get', ['shard-0', S]), after, 'every node derived the same committee');
    const outNode = d.nodes.find((n) => n.address === out[0])!;

    // A transfer submitted to the rotated-out node after the handover finalizes under the new group.
    await waitFor('every node past the handover', async () => {
      for (const u of urls) if ((await shardOf(u)).height < S) return false;
      return true;
    });
    const [a, b] = d.accounts;
    const acct = await rpcCall<{ nonce: number }>(urls[0]!, 'account_get', [a!.address]);
    const tx = signTx({ chainId: d.chainId, chain: 'shard-0', from: a!.address, nonce: acct.nonce, fee: UNIT / 100n, op: { type: 'transfer', to: b!.address, amount: 3n * UNIT } }, Buffer.from(a!.seedHex, 'hex'));
    const h = await rpcCall<string>(outNode.rpc, 'tx_submit', [tx]);
    let txHeight = 0;
    await waitFor('transfer final on every node', async () => {
      for (const u of urls) {
        const st = await rpcCall<{ status: string; height?: number }>(u, 'tx_get', [h]);
        if (st.status !== 'final') return false;
        txHeight = st.height!;
      }
      return true;
    });
    assert.ok(txHeight >= S, 'the transfer landed after the handover');

    const target = Math.max(S + 6, txHeight + 1);
    await waitFor(`shard-0 final at ${target} on every node`, async () => {
      for (const u of urls) if ((await shardOf(u)).finalHeight < target) return false;
      return true;
    });
    let spareActive = false;
    for (let height = S - 2; height <= target; height++) {
      const g = await rpcCall<Committee>(urls[0]!, 'committee_get', ['shard-0', height]);
      const ref = await rpcCall<BlockView>(urls[0]!, 'chain_getBlock', ['shard-0', height]);
      const signers = ref.qc.votes.map((v) => v.signer);
      assert.ok(signers.length >= 3 && signers.every((s) => g.validators.includes(s)), `QC of ${height} by its own group`);
      assert.ok(ref.audit && ref.audit.signers.length >= 3 && ref.audit.signers.every((s) => g.auditors.includes(s)), `audit of ${height} by its auditor group`);
      if (height >= S && height < S + L) {
        assert.ok(!signers.includes(out[0]!), `rotated-out member's vote counted at ${height}`);
        assert.ok(ref.proposer !== out[0], 'rotated-out member proposed after the handover');
        if (signers.includes(spare.address) || ref.proposer === spare.address) spareActive = true;
      }
      for (const u of urls.slice(1)) {
        const other = await rpcCall<BlockView>(u, 'chain_getBlock', ['shard-0', height]);
        assert.equal(other.hash, ref.hash, `same block at ${height}`);
        assert.equal(other.stateRoot, ref.stateRoot, `same state root at ${height}`);
      }
    }
    assert.ok(spareActive, 'the elected spare proposes or votes in its epoch');
    const first = await rpcCall<BlockView>(urls[0]!, 'chain_getBlock', ['shard-0', S]);
    const last = await rpcCall<BlockView>(urls[0]!, 'chain_getBlock', ['shard-0', S - 1]);
    assert.equal(first.justify.blockHash, last.hash, 'the new group builds on the old group\'s last block');
    assert.ok(first.view >= after.firstView && last.view < after.firstView, 'views of the two periods are disjoint');
    for (const u of urls) assert.equal((await rpcCall<{ ok: boolean; message: string }>(u, 'supply_get')).ok, true);
    const bal = await rpcCall<{ balance: string }>(urls[0]!, 'account_get', [b!.address]);
    for (const u of urls.slice(1)) assert.equal((await rpcCall<{ balance: string }>(u, 'account_get', [b!.address])).balance, bal.balance);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
