/**
 * End to end: nodes outside the genesis node directory join a running devnet, are elected and
 * serve. 9 processes: 1 shard × 4 validators, 3 auditors (= beacon committee), epochs of 10
 * blocks, and 2 outsiders: not in genesis.json's directory, each knows node 0 as a bootstrap
 * peer. They start after the others, sync every chain and register by tx (p2p endpoint
 * /ip4/…/tcp/…/p2p/<peer id of its key> + RPC URL) with 10× the minimum stake. A third
 * registration carries a malformed multiaddr and a well-formed but unreachable one: it is
 * skipped/backed off and breaks nothing. Every node learns the outsiders' addresses from the
 * beacon registry — the two outsiders know each other only from there and get connected — the
 * next election seats an outsider in shard-0's validator group, it signs that shard's QCs,
 * transfers (some submitted through it) keep finalizing, and every node, the outsiders
 * included, holds the same blocks, state roots, balances and a sound supply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { SPARE_DEPOSIT } from '../../chain/devnet/genesis.js';
import type { GenesisFile } from '../../chain/node/config.js';
import { generateKeyPair } from '../../chain/node/keys.js';
import { p2pEndpointFor, peerIdStringOf } from '../../chain/node/peer-book.js';
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import { DEVNET_PARAMS, signTx, UNIT } from '../../chain/state/index.js';
import { waitFor as waitForDefault, waitUntil } from '../helpers/wait.js';
import { allActive, allFinalAt, allReached, assertSameBalance, assertSameBlocks, assertSameCommittee, assertSupplyOk, certifiedBlock, chainOf, finalTxHeights, firstSeatedHeight } from '../helpers/chain-rpc.js';

const waitFor = (what: string, cond: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> => waitForDefault(what, cond, timeoutMs);
const L = 10;
const pick = (r: { source: string; connected: boolean } | undefined): { source: string; connected: boolean } | undefined => (r ? { source: r.source, connected: r.connected } : undefined);

test('devnet processes: an outsider joins through a bootstrap peer, registers with its p2p endpoint, is elected, signs QCs; all nodes agree', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-outsider-'));
  const d = await Devnet.create({ dir, shards: 1, group: 4, auditors: 3, outsiders: 2, outsiderStake: 10n * SPARE_DEPOSIT, accounts: 2, election: { epochBlocks: L }, timing: { baseTimeoutMs: 1500, minBlockIntervalMs: 100, idleBlockMs: 300 } });
  try {
    const outsiders = d.nodes.filter((n) => n.role === 'outsider validator');
    assert.equal(outsiders.length, 2);
    const genesis = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as GenesisFile;
    for (const o of outsiders) assert.ok(!genesis.nodes.some((n) => n.address === o.address), 'an outsider is not in the genesis directory');
    const members = d.nodes.filter((n) => !outsiders.includes(n));
    await Promise.all(members.map((n) => d.startNode(n.index)));
    const memberUrls = members.map((n) => n.rpc);
    await waitFor('shard-0 final on every directory node', () => allFinalAt(memberUrls, 3));

    // A registration with a malformed and an unreachable (well-formed, bound to its consensus key) p2p endpoint.
    const [a, b] = d.accounts;
    const ghost = generateKeyPair();
    const badEndpoints = ['/ip4/127.0.0.1/tcp/notaport/p2p/x', p2pEndpointFor('/ip4/127.0.0.1/tcp/1', ghost.address)];
    const badReg = signTx({ chainId: d.chainId, chain: 'shard-0', from: a!.address, nonce: 0, fee: UNIT / 100n, op: { type: 'register', role: 'validator', consensusKey: ghost.address, onionKey: null, endpoints: badEndpoints, pricePerGiB: 0n, region: 'x', deposit: DEVNET_PARAMS.minDeposit.validator } }, Buffer.from(a!.seedHex, 'hex'));
    await rpcCall<string>(memberUrls[0]!, 'tx_submit', [badReg]);

    // The outsiders start late, from nothing but genesis + a bootstrap peer, and catch up.
    await Promise.all(outsiders.map((o) => d.startNode(o.index)));
    const urls = d.rpcUrls();
    await assert.rejects(rpcCall(memberUrls[0]!, 'node_get', [outsiders[0]!.address]), (e: unknown) => e instanceof RpcCallError && e.code === -32001, 'not registered yet');
    const regHashes = await d.registerOutsiders();
    assert.equal(regHashes.length, 2);
    await waitFor('outsiders (and the bad registration) active on the beacon of every node', () => allActive(urls, [...outsiders.map((o) => o.address), a!.address]));
    for (const o of outsiders) {
      const reg = await rpcCall<{ endpoints: string[]; deposit: string }>(memberUrls[0]!, 'node_get', [o.address]);
      assert.ok(reg.endpoints[0]!.endsWith(`/p2p/${peerIdStringOf(o.address)}`), 'registered p2p endpoint carries the peer id of its key');
      assert.equal(BigInt(reg.deposit), 10n * SPARE_DEPOSIT);
    }
    // Each outsider dials every other node: the 7 of the directory and the other outsider, which
    // it knows only from the beacon registry (the unreachable registered endpoint never connects).
    await waitFor('each outsider connected to all 8 other nodes', async () => {
      for (const o of outsiders) if ((await rpcCall<{ peers: number }>(o.rpc, 'chain_status')).peers !== 8) return false;
      return true;
    });

    // A directory node's peer table: the outsiders from the registry and up, the ghost's dead endpoint down with failures.
    const table = await rpcCall<Array<{ address: string; source: string; connected: boolean; dialFailures: number }>>(memberUrls[0]!, 'net_peers');
    for (const o of outsiders) assert.deepEqual(pick(table.find((r) => r.address === o.address)), { source: 'registry', connected: true }, 'outsider in the peer table');
    const ghostRow = table.find((r) => r.address === ghost.address);
    assert.ok(ghostRow && ghostRow.source === 'registry' && !ghostRow.connected && ghostRow.dialFailures > 0, `unreachable registry peer: ${JSON.stringify(ghostRow)}`);

    let S = 0;
    let outsider = outsiders[0]!;
    await waitFor('an election seating an outsider', async () => {
      for (const o of outsiders) {
        const s = (await firstSeatedHeight(memberUrls[0]!, 'shard-0', o.address, L)) ?? 0;
        if (s > 0 && (S === 0 || s < S)) [S, outsider] = [s, o];
      }
      return S > 0;
    });
    // every node, the outsiders too, derived the same committee
    const after = await assertSameCommittee(urls, 'shard-0', S);
    assert.equal(after.validators.length, 4);

    await waitFor('every node past the handover', () => allReached(urls, 'height', S));
    // Transfers keep finalizing: two a → b through the outsider's RPC, one b → a through node 0.
    const transfer = async (from: typeof a, to: typeof a, nonce: number, amount: bigint, via: string): Promise<string> =>
      rpcCall<string>(via, 'tx_submit', [signTx({ chainId: d.chainId, chain: 'shard-0', from: from!.address, nonce, fee: UNIT / 100n, op: { type: 'transfer', to: to!.address, amount } }, Buffer.from(from!.seedHex, 'hex'))]);
    const nonceA = (await rpcCall<{ nonce: number }>(memberUrls[0]!, 'account_get', [a!.address])).nonce;
    const nonceB = (await rpcCall<{ nonce: number }>(memberUrls[0]!, 'account_get', [b!.address])).nonce;
    const hashes = [await transfer(a, b, nonceA, 3n * UNIT, outsider.rpc), await transfer(a, b, nonceA + 1, 4n * UNIT, outsider.rpc), await transfer(b, a, nonceB, 5n * UNIT, memberUrls[0]!)];
    // a node not answering counts as "not yet", as in waitFor
    const lastTx = Math.max(...(await waitUntil('transfers final on every node', () => finalTxHeights(urls, hashes).catch(() => undefined), { timeoutMs: 90_000, intervalMs: 250 })));

    // The outsider signs QCs of shard-0 in its epoch (it is one of 4; a QC needs 3).
    const target = Math.max(S + L - 1, lastTx + 1);
    await waitFor(`shard-0 final at ${target} on every node`, () => allFinalAt(urls, target));
    let signed = 0;
    for (let height = S; height <= target; height++) {
      const { committee: g, signers } = await certifiedBlock(memberUrls[0]!, 'shard-0', height, 3);
      if (height < S + L) assert.ok(g.validators.includes(outsider.address), `outsider seated at ${height}`);
      if (signers.includes(outsider.address)) signed++;
    }
    assert.ok(signed > 0, `the outsider's vote is in ${signed} QCs of heights ${S}..${target}`);
    await assertSameBlocks(urls, 'shard-0', 1, target);
    const beaconTop = Math.min(...(await Promise.all(urls.map(async (u) => (await chainOf(u, 'beacon')).height))));
    await assertSameBlocks(urls, 'beacon', Math.max(1, beaconTop - 5), beaconTop);
    await assertSupplyOk(urls);
    // The bad registration was logged and skipped, not fatal.
    const log0 = readFileSync(join(members[0]!.dir, 'node.log'), 'utf8');
    assert.match(log0, /registry endpoint skipped/, 'the malformed endpoint is logged');
    assert.match(log0, /peer unreachable; backing off/, 'the unreachable endpoint is logged');
    await assertSameBalance(urls, b!.address);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
