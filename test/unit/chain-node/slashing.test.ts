import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { evidenceKey, homeChain, UNIT } from '../../../chain/state/index.js';
import { registerMethods } from '../../../chain/node/rpc-methods.js';
import { RpcServer } from '../../../chain/node/rpc.js';
import { MemoryNetwork } from '../../../chain/node/net.js';
import { silentLogger } from '../../../common/log.js';

async function rpc(url: string, method: string, params: unknown[]): Promise<{ result?: Record<string, unknown>; error?: { code: number; message: string } }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return (await r.json()) as { result?: Record<string, unknown>; error?: { code: number; message: string } };
}

test('in-memory cluster: a validator that double-votes is reported by an honest validator, jailed on the beacon with 5% of its deposit burned; supply holds; node_get shows it', async () => {
  // Node 1 validates shard-0 and double-votes once there (test-only hook).
  const c = await startCluster({ accounts: 2, byzantine: { 1: { equivocateOn: 'shard-0' } }, slashReportStaggerMs: 3000 });
  try {
    const { dk, nodes } = c;
    const offender = dk.nodeKeys[1]!.address;
    const deposit = 500_000n * UNIT;
    const burn = (deposit * 500n) / 10_000n;
    const burnedBefore = nodes[0]!.runtime('beacon').state.burned;
    assert.equal(nodes[0]!.runtime('beacon').state.nodes[offender]!.status, 'active');

    await waitFor('offender jailed on every node', () => nodes.every((n) => n.runtime('beacon').state.nodes[offender]?.status === 'jailed'), 40_000);

    // Evidence was detected by honest shard-0 validators, and only they (votes go to the group).
    const holders = nodes.filter((n) => n.runtime('shard-0').evidence.length > 0);
    assert.ok(holders.length >= 1);
    for (const n of holders) {
      assert.ok(dk.genesis.committees['shard-0']!.validators.includes(n.self));
      assert.notEqual(n.self, offender);
      assert.equal(n.runtime('shard-0').evidence[0]!.a.signer, offender);
    }
    const key = evidenceKey(holders[0]!.runtime('shard-0').evidence[0]!);
    const reporters = nodes.filter((n) => n.slashReports.has(key));
    assert.ok(reporters.length >= 1, 'somebody sent a slash tx');
    for (const n of reporters) assert.ok(holders.includes(n));

    for (const n of nodes) {
      const b = n.runtime('beacon').state;
      const rec = b.nodes[offender]!;
      // One slash per offence, however many reports: exactly 5% burned from the deposit.
      assert.equal(rec.slashed, burn);
      assert.equal(rec.deposit, deposit - burn);
      assert.equal(Object.keys(b.slashedEvidence).length, 1);
      assert.ok(b.slashedEvidence[key] !== undefined);
      assert.ok(b.burned - burnedBefore >= burn);
      const rep = n.supply();
      assert.ok(rep.ok, rep.message);
    }
    // The reporter paid the tx fee from its own account on its home shard.
    const reporter = reporters[0]!;
    const home = homeChain(reporter.self, dk.genesis.shards);
    await waitFor('slash tx final', () => reporter.runtime(home).state.accounts.get(reporter.self)!.nonce >= 1);
    assert.equal(reporter.runtime(home).state.accounts.get(reporter.self)!.balance, 1_000n * UNIT - reporter.params.minFee * BigInt(reporter.runtime(home).state.accounts.get(reporter.self)!.nonce));

    // shard-0 keeps finalizing with the jailed node still in its (fixed) group.
    const f0 = nodes[0]!.runtime('shard-0').finalHeight;
    await waitFor('shard-0 finalizes after the slash', () => nodes[0]!.runtime('shard-0').finalHeight >= f0 + 3);

    // node_get over JSON-RPC.
    const server = new RpcServer(silentLogger());
    registerMethods(server, nodes[0]!, new MemoryNetwork(nodes[0]!.self, c.hub), { rpcUrl: '', p2p: [] });
    const { port } = await server.listen('127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${port}`;
      const got = (await rpc(url, 'node_get', [offender])).result!;
      assert.equal(got.address, offender);
      assert.equal(got.role, 'validator');
      assert.equal(got.jailed, true);
      assert.equal(got.status, 'jailed');
      assert.equal(got.deposit, (deposit - burn).toString());
      assert.equal(got.votes, '0');
      assert.equal(got.stake, (deposit - burn).toString());
      assert.equal(got.slashed, burn.toString());
      assert.equal(got.unbondingUntil, undefined);
      assert.deepEqual((got.keys as { consensus: string }).consensus, offender);
      const honest = (await rpc(url, 'node_get', [dk.nodeKeys[0]!.address])).result!;
      assert.equal(honest.jailed, false);
      assert.equal(honest.deposit, deposit.toString());
      assert.equal((await rpc(url, 'node_get', ['ab'.repeat(32)])).error?.code, -32001);
      assert.equal((await rpc(url, 'node_get', ['nothex'])).error?.code, -32602);
    } finally {
      await server.close();
    }
  } finally {
    await c.stopAll();
  }
});
