/**
 * Byzantine validators as real node processes (chain/node/test-hooks.ts, switched on per process
 * by TOPVPN_TEST_BYZANTINE + TOPVPN_TEST_HOOKS=devnet): node 1 (shard-0) equivocates, node 5
 * (shard-1) proposes invalid blocks, node 9 (auditor + beacon) withholds its votes and audit
 * shares, under transfer and channel load. Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runByzantine } from '../../bench/faults-byzantine.js';
import { Devnet, DevnetError } from '../../chain/devnet/devnet.js';

test('one Byzantine validator per committee: safety and finality hold, the equivocator is slashed and jailed by the honest nodes, supply holds', { timeout: 170_000 }, async () => {
  const r = await runByzantine({ plan: { 1: ['equivocate'], 5: ['invalid-proposal'], 9: ['withhold'] }, durationMs: 20_000, afterJailMs: 5000, seed: 5 });
  assert.deepEqual(r.failures, []);
  const by = new Map(r.byzantine.map((n) => [n.node, n]));
  // safety: no two final blocks at one height on any chain; one state root per chain everywhere
  assert.equal(r.conflicting_finals, 0);
  assert.ok(r.final_blocks_checked > 0);
  assert.equal(r.state_roots_agree, true);
  // liveness, also once the offender is jailed
  for (const c of ['beacon', 'shard-0', 'shard-1']) {
    assert.ok((r.finality_progress[c] ?? 0) > 0, c);
    assert.ok((r.finality_after_jail[c] ?? 0) > 0, c);
  }
  // equivocation → evidence → slash tx by an honest node → jailed with a burned deposit, on every node
  const eq = by.get(1)!;
  assert.equal(r.slashed, 1);
  assert.equal(eq.slashed_everywhere, true);
  assert.ok(BigInt(eq.slashed_amount ?? '0') > 0n);
  assert.ok(eq.evidence_nodes >= 1);
  assert.ok(eq.slash_txs >= 1);
  assert.ok(eq.slash_reporters.length >= 1 && eq.slash_reporters.every((i) => i >= 0 && ![1, 5, 9].includes(i)), JSON.stringify(eq));
  // the other hooks ran and had no effect on what became final
  const inv = by.get(5)!;
  assert.ok(inv.hook_log_lines > 0);
  assert.equal(inv.final_blocks_proposed, 0);
  assert.equal(inv.slashed_amount, '0', 'invalid proposals are refused, not slashable evidence');
  const wh = by.get(9)!;
  assert.ok(wh.hook_log_lines > 0);
  assert.equal(wh.signatures_in_certificates, 0);
  // money
  assert.equal(r.supply_violations, 0);
  assert.equal(r.lost_txs, 0);
  assert.equal(r.reordered_txs, 0);
  assert.ok(r.txs_final > 0 && r.tx_checks >= 12 * r.txs_final);
});

test('a node process given TOPVPN_TEST_BYZANTINE without TOPVPN_TEST_HOOKS=devnet refuses to start', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvz-byz-gate-'));
  const d = await Devnet.create({ dir, shards: 1, group: 1, auditors: 1, accounts: 2, logLevel: 'warn', envFor: () => ({ TOPVPN_TEST_BYZANTINE: 'equivocate' }) });
  try {
    await assert.rejects(d.startNode(0), DevnetError);
    // the node's stderr is piped into node.log; the exit event may come before the last write lands
    const logFile = join(d.nodes[0]!.dir, 'node.log');
    for (let i = 0; i < 50 && !/refused without/.test(readFileSync(logFile, 'utf8')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(readFileSync(logFile, 'utf8'), /TOPVPN_TEST_BYZANTINE is a test-only fault injection; refused without TOPVPN_TEST_HOOKS=devnet/);
    assert.equal(d.nodes[0]!.proc, null);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
