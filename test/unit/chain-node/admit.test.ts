/**
 * Tx admission parses untrusted fields with typed errors: a field of the wrong type or shape
 * raises MalformedTxError (a TxRejected naming the field), which tx_submit maps to a -32000
 * error with `data.field`; a stale channel claim is never admitted from gossip (claims.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChainNode, MalformedTxError, TxRejected } from '../../../chain/node/node.js';
import { MemoryHub, MemoryNetwork } from '../../../chain/node/net.js';
import { MemoryStore } from '../../../chain/node/store.js';
import { makeDevnetGenesis } from '../../../chain/devnet/genesis.js';
import { registerMethods } from '../../../chain/node/rpc-methods.js';
import { RpcServer } from '../../../chain/node/rpc.js';
import { isStaleClaim } from '../../../chain/node/claims.js';
import { silentLogger } from '../../../common/log.js';
import { homeChain, signTx, txHash, UNIT, type SignedTx, type Tx } from '../../../chain/state/index.js';
import type { Channel } from '../../../chain/state/types.js';
import { StateMap } from '../../../chain/state/state-map.js';

function setup(): { node: ChainNode; good: () => Tx; seed: Buffer } {
  const dk = makeDevnetGenesis({ shards: 2, group: 4, auditors: 4, accounts: 2, basePort: 1 });
  const hub = new MemoryHub();
  const node = new ChainNode({ genesis: dk.genesis, key: dk.nodeKeys[0]!, net: new MemoryNetwork(dk.nodeKeys[0]!.address, hub), store: new MemoryStore(), log: silentLogger() });
  const a = dk.accounts[0]!;
  const good = (): Tx => ({ chainId: dk.genesis.chainId, chain: homeChain(a.address, 2) as Tx['chain'], from: a.address, nonce: 0, fee: UNIT / 100n, op: { type: 'transfer', to: dk.accounts[1]!.address, amount: UNIT } });
  return { node, good, seed: Buffer.from(a.seedHex, 'hex') };
}

/** A signed tx with one field replaced by an arbitrary (wrongly typed) JSON value. */
function mutate(tx: Tx, seed: Buffer, path: string, value: unknown): SignedTx {
  const stx = signTx(tx, seed);
  const copy = { ...stx, tx: { ...stx.tx, op: { ...stx.tx.op } } } as unknown as { tx: Record<string, unknown> & { op: Record<string, unknown> } };
  if (path.startsWith('op.')) copy.tx.op[path.slice(3)] = value;
  else copy.tx[path] = value;
  return copy as unknown as SignedTx;
}

test('admit: wrongly typed fields raise MalformedTxError naming the field (never a String() of the value)', () => {
  const { node, good, seed } = setup();
  const cases: Array<[string, unknown]> = [
    ['chainId', 7],
    ['chainId', { toString: 'x' }],
    ['chain', ['shard-0']],
    ['from', 'nothex'],
    ['nonce', -1],
    ['fee', '10'],
    ['op.amount', '5'],
    ['op.amount', 0n],
    ['op.to', { a: 1 }],
  ];
  for (const [field, value] of cases) {
    assert.throws(
      () => node.submitTx(mutate(good(), seed, field, value)),
      (e: unknown) => e instanceof MalformedTxError && e instanceof TxRejected && e.name === 'MalformedTxError' && e.field === field && e.message.includes(field),
      `field ${field} = ${typeof value}`,
    );
  }
  const noOp = { ...signTx(good(), seed) } as unknown as { tx: Record<string, unknown> };
  noOp.tx = { ...noOp.tx, op: null };
  assert.throws(() => node.submitTx(noOp as unknown as SignedTx), (e: unknown) => e instanceof MalformedTxError && e.field === 'op');
  assert.throws(() => node.submitTx(null as unknown as SignedTx), (e: unknown) => e instanceof MalformedTxError && e.field === 'tx');
  // A well-formed tx passes the shape check (and is admitted).
  assert.match(node.submitTx(signTx(good(), seed)), /^[0-9a-f]{64}$/);
});

test('tx_submit: a malformed field is a -32000 error with data.field', async () => {
  const { node, good, seed } = setup();
  const rpc = new RpcServer(silentLogger());
  registerMethods(rpc, node, node.opts.net, { rpcUrl: '', p2p: [] });
  const { port } = await rpc.listen('127.0.0.1', 0);
  try {
    const stx = signTx(good(), seed);
    const wire = { tx: { ...stx.tx, chainId: 12, fee: stx.tx.fee.toString(), op: { ...stx.tx.op, amount: UNIT.toString() } }, signature: stx.signature };
    const r = await fetch(`http://127.0.0.1:${port}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tx_submit', params: [wire] }) });
    const body = (await r.json()) as { error: { code: number; message: string; data: { rule: string; field: string } } };
    assert.equal(body.error.code, -32000);
    assert.equal(body.error.data.field, 'chainId');
    assert.match(body.error.message, /^tx: chainId: must be a string/);
  } finally {
    await rpc.close();
  }
});

test('isStaleClaim: a claim at or below the channel\'s claimed seq (or on a finalized channel) is stale; unknown channels are not', () => {
  const ch = (seq: number, status: Channel['status'] = 'open'): Channel => ({ id: 'c1', payer: 'p', relay: 'r', deposit: 10n, claimed: 1n, seq, cumulativeBytes: 0n, status, openedAt: 0, closesAt: null });
  const claim = (seq: unknown): SignedTx => ({ tx: { op: { type: 'channel-claim', channelId: 'c1', receipt: { seq } } } }) as unknown as SignedTx;
  for (let s = 0; s <= 6; s++) assert.equal(isStaleClaim({ channels: StateMap.fromRecord({ c1: ch(3) }) }, claim(s)), s <= 3, `seq ${s}`);
  assert.equal(isStaleClaim({ channels: StateMap.fromRecord({ c1: ch(3, 'finalized') }) }, claim(9)), true);
  assert.equal(isStaleClaim({ channels: StateMap.fromRecord({ c1: ch(3) }) }, claim('9')), true, 'a non-integer seq can never apply');
  assert.equal(isStaleClaim({ channels: StateMap.fromRecord({}) }, claim(1)), false);
  assert.equal(isStaleClaim({ channels: StateMap.fromRecord({ c1: ch(3) }) }, { tx: { op: { type: 'transfer' } } } as unknown as SignedTx), false);
});

test('account_get: pendingNonce is the next nonce after the sender\'s txs in this validator\'s pool, or forwarded by this node; nonce stays the committed one', async () => {
  const dk = makeDevnetGenesis({ shards: 2, group: 4, auditors: 4, accounts: 8, basePort: 1 });
  const hub = new MemoryHub();
  const node = new ChainNode({ genesis: dk.genesis, key: dk.nodeKeys[0]!, net: new MemoryNetwork(dk.nodeKeys[0]!.address, hub), store: new MemoryStore(), log: silentLogger() });
  assert.equal(node.runtime('shard-0').isValidator, true, 'node 0 validates shard-0');
  const a = dk.accounts.find((x) => homeChain(x.address, 2) === 'shard-0')!;
  const b = dk.accounts.find((x) => homeChain(x.address, 2) === 'shard-1')!;
  const seed = Buffer.from(a.seedHex, 'hex');
  const tx = (nonce: number): Tx => ({ chainId: dk.genesis.chainId, chain: 'shard-0', from: a.address, nonce, fee: UNIT / 100n, op: { type: 'transfer', to: b.address, amount: UNIT } });
  const rpc = new RpcServer(silentLogger());
  registerMethods(rpc, node, node.opts.net, { rpcUrl: '', p2p: [] });
  const { port } = await rpc.listen('127.0.0.1', 0);
  const get = async (address: string): Promise<{ nonce: number; pendingNonce: number }> => {
    const r = await fetch(`http://127.0.0.1:${port}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'account_get', params: [address] }) });
    return ((await r.json()) as { result: { nonce: number; pendingNonce: number } }).result;
  };
  try {
    const before = await get(a.address);
    assert.deepEqual([before.nonce, before.pendingNonce], [0, 0]);
    node.submitTx(signTx(tx(0), seed));
    node.submitTx(signTx(tx(1), seed));
    const after = await get(a.address);
    assert.equal(after.nonce, 0, 'nothing committed');
    assert.equal(after.pendingNonce, 2, 'nonces 0 and 1 are held');
    // A tx signed with the committed nonce now collides; one with pendingNonce is admitted.
    assert.throws(() => node.submitTx(signTx({ ...tx(0), fee: UNIT / 50n }, seed)), /already pending/);
    assert.match(node.submitTx(signTx(tx(after.pendingNonce), seed)), /^[0-9a-f]{64}$/);
    // shard-1 is not validated here: no pool, but the slots this node forwarded count.
    const other = await get(b.address);
    assert.equal(node.runtime('shard-1').isValidator, false);
    assert.deepEqual([other.nonce, other.pendingNonce], [0, 0]);
    const seedB = Buffer.from(b.seedHex, 'hex');
    const txB = (nonce: number, fee = UNIT / 100n): Tx => ({ chainId: dk.genesis.chainId, chain: 'shard-1', from: b.address, nonce, fee, op: { type: 'transfer', to: a.address, amount: UNIT } });
    const h0 = node.submitTx(signTx(txB(0), seedB));
    assert.equal(node.submitTx(signTx(txB(0), seedB)), h0, 'the same tx again is accepted (and forwarded again)');
    assert.deepEqual([(await get(b.address)).nonce, (await get(b.address)).pendingNonce], [0, 1], 'forwarded nonce 0 is held');
    assert.throws(() => node.submitTx(signTx(txB(0, UNIT / 50n), seedB)), /already pending/, 'another tx in a forwarded slot is refused here, as the validators would');
    node.submitTx(signTx(txB(1), seedB));
    assert.equal((await get(b.address)).pendingNonce, 2);
  } finally {
    await rpc.close();
  }
});

test('verifyTx: a (tx, signature) is checked once per node; the same tx with another signature is checked afresh', () => {
  const dk = makeDevnetGenesis({ shards: 2, group: 4, auditors: 4, accounts: 8, basePort: 1 });
  const node = new ChainNode({ genesis: dk.genesis, key: dk.nodeKeys[0]!, net: new MemoryNetwork(dk.nodeKeys[0]!.address, new MemoryHub()), store: new MemoryStore(), log: silentLogger() });
  const a = dk.accounts.find((x) => homeChain(x.address, 2) === 'shard-0')!;
  const stx = signTx({ chainId: dk.genesis.chainId, chain: 'shard-0', from: a.address, nonce: 0, fee: UNIT / 100n, op: { type: 'transfer', to: a.address, amount: UNIT } }, Buffer.from(a.seedHex, 'hex'));
  const hash = txHash(stx.tx);
  const before = node.txVerifications;
  assert.equal(node.verifyTx(stx, hash), true);
  assert.equal(node.verifyTx({ ...stx }, hash), true, 'another object of the same signed tx');
  assert.equal(node.txVerifications - before, 1, 'verified once');
  const forged = { ...stx, signature: (stx.signature[0] === '0' ? '1' : '0') + stx.signature.slice(1) };
  assert.equal(node.verifyTx(forged, hash), false, 'a forged signature on the same tx is checked, and fails');
  assert.equal(node.verifyTx(forged, hash), false);
  assert.equal(node.txVerifications - before, 2, 'the forged one once');
  assert.equal(node.verifyTx(stx, hash), true, 'the genuine one again (checked afresh: the forged one replaced its entry)');
  assert.equal(node.txVerifications - before, 3);
});
