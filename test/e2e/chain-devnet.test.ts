/**
 * End to end: a devnet of 12 separate node processes (2 shards × 4 validators, 4 auditors
 * that also form the beacon committee) on 127.0.0.1. Transfers within and across shards,
 * a validator and an auditor killed (SIGKILL) while finality continues, both restarted from
 * their LevelDB and caught up from peers; balances and the supply invariant checked on every node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import { NODE_HEAP_FLAGS } from '../../chain/node/heap-flags.js';
import { homeChain, UNIT } from '../../chain/state/index.js';
import { writeKeyFile } from '../../chain/node/keys.js';
import { execFile } from 'node:child_process';
import { distBin } from '../../common/paths.js';
import { waitFor } from '../helpers/wait.js';
import { allFinalAt, assertSupplyOk, balanceOf, chainOf, devnetTransfer as transfer, type ChainStatusView } from '../helpers/chain-rpc.js';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [distBin('chain/cli'), ...args], { timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const finalOf = async (url: string, chain: string): Promise<number> => (await chainOf(url, chain)).finalHeight;

test('devnet of node processes: intra/cross-shard transfers final, kill + restart a validator and an auditor, supply holds everywhere', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-devnet-'));
  const d = await Devnet.create({ dir, shards: 2, group: 4, auditors: 4, accounts: 8 });
  try {
    await d.start();
    assert.equal(d.pids().length, 12);
    // Every node runs with the heap settings (they only work on the node command line).
    for (const pid of d.pids()) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const f of NODE_HEAP_FLAGS) assert.ok(argv.includes(f), `node ${pid} runs without ${f}: ${argv.join(' ')}`);
    }
    const urls = d.rpcUrls();
    await waitFor('every node sees final blocks on every chain', async () => {
      for (const c of ['beacon', 'shard-0', 'shard-1']) if (!(await allFinalAt(urls, 2, c))) return false;
      return true;
    });

    const s0 = d.accounts.filter((a) => homeChain(a.address, 2) === 'shard-0');
    const s1 = d.accounts.filter((a) => homeChain(a.address, 2) === 'shard-1');
    const [a, b] = s0;
    const [x, y] = s1;
    const bal0 = new Map<string, bigint>();
    for (const k of [a!, b!, x!, y!]) bal0.set(k.address, await balanceOf(urls[0]!, k.address));
    const fee = UNIT / 100n;

    // Malformed input gets JSON-RPC errors; a bad tx names the rule it breaks.
    const res = await fetch(urls[3]!, { method: 'POST', body: '{not json' });
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32700);
    await assert.rejects(rpcCall(urls[3]!, 'no_such_method'), (e: unknown) => e instanceof RpcCallError && e.code === -32601);
    await assert.rejects(rpcCall(urls[3]!, 'tx_submit', [{ tx: { from: a!.address } }]), (e: unknown) => e instanceof RpcCallError && e.code === -32000);
    const forged = transfer(d, a!, b!.address, 1n, 0);
    await assert.rejects(rpcCall(urls[3]!, 'tx_submit', [{ ...forged, signature: 'ab'.repeat(64) }]), (e: unknown) => e instanceof RpcCallError && /^signature:/.test(e.message));

    // node_get: a genesis-registered auditor as the beacon sees it; a user account is no node.
    const aud = await rpcCall<{ address: string; role: string; deposit: string; stake: string; jailed: boolean; keys: { consensus: string } }>(urls[3]!, 'node_get', [d.nodes[8]!.address]);
    assert.deepEqual([aud.address, aud.role, aud.deposit, aud.stake, aud.jailed, aud.keys.consensus], [d.nodes[8]!.address, 'auditor', (1_000_000n * UNIT).toString(), (1_000_000n * UNIT).toString(), false, d.nodes[8]!.address]);
    await assert.rejects(rpcCall(urls[3]!, 'node_get', [a!.address]), (e: unknown) => e instanceof RpcCallError && e.code === -32001);

    // intra-shard a → b and cross-shard a → x, x → y (intra shard-1), y → a (cross), via different nodes
    const h1 = await rpcCall<string>(urls[0]!, 'tx_submit', [transfer(d, a!, b!.address, 10n, 0)]);
    const h2 = await rpcCall<string>(urls[9]!, 'tx_submit', [transfer(d, a!, x!.address, 20n, 1)]);
    await rpcCall<string>(urls[5]!, 'tx_submit', [transfer(d, x!, y!.address, 3n, 0)]);
    await rpcCall<string>(urls[6]!, 'tx_submit', [transfer(d, y!, a!.address, 4n, 0)]);
    const expect = new Map<string, bigint>([
      [a!.address, bal0.get(a!.address)! - 30n * UNIT - 2n * fee + 4n * UNIT],
      [b!.address, bal0.get(b!.address)! + 10n * UNIT],
      [x!.address, bal0.get(x!.address)! + 20n * UNIT - 3n * UNIT - fee],
      [y!.address, bal0.get(y!.address)! + 3n * UNIT - 4n * UNIT - fee],
    ]);
    const balancesMatch = async (nodeUrls: string[]): Promise<boolean> => {
      for (const u of nodeUrls) for (const [addr, v] of expect) if ((await balanceOf(u, addr)) !== v) return false;
      return true;
    };
    await waitFor('transfers applied on every node', () => balancesMatch(urls));
    await waitFor('both txs final', async () => {
      const t1 = await rpcCall<{ status: string }>(urls[2]!, 'tx_get', [h1]);
      const t2 = await rpcCall<{ status: string }>(urls[10]!, 'tx_get', [h2]);
      return t1.status === 'final' && t2.status === 'final';
    });

    // A different tx reusing a spent nonce is refused, naming the rule.
    await assert.rejects(rpcCall(urls[1]!, 'tx_submit', [transfer(d, a!, b!.address, 11n, 0)]), (e: unknown) => e instanceof RpcCallError && /^nonce:/.test(e.message));

    // Prometheus metrics on the RPC port.
    const metrics = await (await fetch(`${urls[7]}/metrics`)).text();
    assert.match(metrics, /topchain_final_height\{chain="shard-0"\} [1-9]/);
    assert.match(metrics, /topchain_supply_ok 1/);

    // The CLI against a node: status, balance, send --wait, and its exit codes.
    const st = await cli(['--rpc', urls[4]!, '--json', 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal((JSON.parse(st.stdout) as ChainStatusView).chains.length, 3);
    // Peers: every other node, dialed at the p2p endpoint its genesis registration carries, and up.
    const peers = await cli(['--rpc', urls[4]!, '--json', 'peers']);
    assert.equal(peers.code, 0, peers.stderr);
    const rows = JSON.parse(peers.stdout) as Array<{ address: string; source: string; multiaddr: string; connected: boolean }>;
    const others = d.nodes.filter((n) => n.rpc !== urls[4]).map((n) => n.address).sort();
    assert.deepEqual(rows.map((r) => r.address).sort(), others);
    for (const r of rows) assert.deepEqual([r.source, r.connected], ['registry', true], `peer ${r.address.slice(0, 8)}`);
    const human = await cli(['--rpc', urls[4]!, 'peers']);
    assert.match(human.stdout, new RegExp(`^${others.length}/${others.length} peers up`));
    const keyFile = join(dir, 'cli-key.json');
    writeKeyFile(keyFile, x!);
    const sent = await cli(['--rpc', urls[4]!, '--json', 'send', b!.address, '2.5', '--key', keyFile, '--wait']);
    assert.equal(sent.code, 0, sent.stderr + sent.stdout);
    assert.match((JSON.parse(sent.stdout) as { hash: string }).hash, /^[0-9a-f]{64}$/);
    expect.set(x!.address, expect.get(x!.address)! - 2_500_000n - fee);
    expect.set(b!.address, expect.get(b!.address)! + 2_500_000n);
    const bal = await cli(['--rpc', urls[2]!, '--json', 'balance', x!.address]);
    assert.equal(bal.code, 0);
    assert.equal(BigInt((JSON.parse(bal.stdout) as { balance: string }).balance), expect.get(x!.address));
    const tooMuch = await cli(['--rpc', urls[4]!, '--json', 'send', b!.address, '999999999', '--key', keyFile]);
    assert.equal(tooMuch.code, 1);
    assert.match(tooMuch.stdout, /transfer: balance/);
    assert.equal((await cli(['--rpc', urls[4]!, 'send', b!.address])).code, 2);
    assert.equal((await cli(['--rpc', urls[4]!, 'send', b!.address, '1.2345678', '--key', keyFile])).code, 2);
    await waitFor('CLI transfer applied on every node', () => balancesMatch(urls));

    // Crash a shard-0 validator and an auditor (also a beacon member).
    const vIdx = 0;
    const aIdx = 11;
    await d.kill(vIdx);
    await d.kill(aIdx);
    const live = urls.filter((_, i) => i !== vIdx && i !== aIdx);
    const f0 = await finalOf(live[0]!, 'shard-0');
    const f1 = await finalOf(live[0]!, 'shard-1');
    const fb = await finalOf(live[0]!, 'beacon');
    await rpcCall<string>(live[2]!, 'tx_submit', [transfer(d, b!, y!.address, 5n, 0)]);
    expect.set(b!.address, expect.get(b!.address)! - 5n * UNIT - fee);
    expect.set(y!.address, expect.get(y!.address)! + 5n * UNIT);
    await waitFor('finality continues on every chain with one validator and one auditor down', async () => {
      for (const u of live) {
        if ((await finalOf(u, 'shard-0')) < f0 + 5 || (await finalOf(u, 'shard-1')) < f1 + 5 || (await finalOf(u, 'beacon')) < fb + 5) return false;
      }
      return true;
    });
    await waitFor('cross-shard transfer applied while nodes are down', () => balancesMatch(live));

    // Restart both: they load their LevelDB state and catch up from peers.
    await d.startNode(vIdx);
    await d.startNode(aIdx);
    const restarted = [urls[vIdx]!, urls[aIdx]!];
    const target = await finalOf(live[0]!, 'shard-0');
    await waitFor('restarted nodes catch up', async () => {
      for (const u of restarted) if ((await finalOf(u, 'shard-0')) < target || (await finalOf(u, 'shard-1')) < f1 + 5) return false;
      return balancesMatch(restarted);
    });
    // The restarted validator takes part again: shard-0 keeps finalizing with everyone up.
    const t2 = await finalOf(urls[vIdx]!, 'shard-0');
    await waitFor('shard-0 finality after restart', async () => (await finalOf(urls[vIdx]!, 'shard-0')) >= t2 + 5);

    await assertSupplyOk(urls);
    assert.ok(await balancesMatch(urls));
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
