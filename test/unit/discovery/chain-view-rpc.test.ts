/** RpcChainView: a node that unregistered (status "unbonding") has no stake for discovery, over node_get and node_list alike. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RpcCallError } from '../../../chain/node/rpc-client.js';
import { RpcChainView, type RpcFn } from '../../../discovery/chain-view-rpc.js';
import { Directory } from '../../../discovery/directory.js';
import { CHAIN, T0, testRelay } from './fixtures.js';
import { ManualClock } from '../../../common/clock.js';

const DEPOSIT = '200000000000';

function call(handler: (method: string, params: unknown[]) => unknown): RpcFn {
  return (async (_url: string, method: string, params: unknown[] = []) => handler(method, params)) as RpcFn;
}

test('unbonding reads as stake 0 (node_get and node_list); active keeps its deposit', async () => {
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  const status = (a: unknown): string => (a === A ? 'unbonding' : 'active');
  const get = new RpcChainView('http://x', 1000, call((_m, p) => ({ role: 'relay', status: status(p[0]), deposit: DEPOSIT, jailed: false })));
  assert.equal((await get.nodeStatus(A))!.stake, 0n);
  assert.equal((await get.nodeStatus(B))!.stake, 200_000_000_000n);
  const list = new RpcChainView('http://x', 1000, call((m) => {
    if (m === 'node_get') throw new RpcCallError(-32601, 'method not found');
    return { nodes: [A, B].map((owner) => ({ owner, role: 'relay', status: status(owner), deposit: DEPOSIT, slashed: '0' })) };
  }));
  assert.equal((await list.nodeStatus(A))!.stake, 0n);
  assert.equal((await list.nodeStatus(B))!.stake, 200_000_000_000n);
});

test('a Directory over RpcChainView refuses an unbonding relay and evicts one that starts unbonding', async () => {
  const r = testRelay(1);
  let st = 'active';
  const chain = new RpcChainView('http://x', 1000, call(() => ({ role: 'relay', status: st, deposit: DEPOSIT, jailed: false })));
  const clock = new ManualClock(0, T0);
  const dir = new Directory({ chainId: CHAIN, chain, clock, chainTtlMs: 1_000, sweepIntervalMs: 500 });
  assert.equal((await dir.ingest(r.bytes(T0))).kind, 'added');
  st = 'unbonding';
  clock.advance(2_000);
  await dir.sweep();
  assert.equal(dir.candidates().length, 0);
  assert.equal(dir.stats().evicted.unstaked, 1);
  const fresh = new Directory({ chainId: CHAIN, chain, clock });
  const out = await fresh.ingest(r.bytes(T0 + 1));
  assert.deepEqual(out.kind === 'rejected' ? out.reason : out.kind, 'unstaked');
});
