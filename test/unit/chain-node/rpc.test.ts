import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { RpcServer, RpcError, RpcListenError, RPC_TX_REJECTED } from '../../../chain/node/rpc.js';
import { silentLogger } from '../../../common/log.js';

async function post(url: string, body: string): Promise<unknown> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const t = await r.text();
  return t ? JSON.parse(t) : undefined;
}

test('JSON-RPC server: results, batches, named errors, malformed input never crashes, WS subscriptions', async () => {
  const rpc = new RpcServer(silentLogger());
  rpc.register('add', (p) => {
    const [a, b] = p as number[];
    return BigInt(a!) + BigInt(b!);
  });
  rpc.register('reject', () => {
    throw new RpcError(RPC_TX_REJECTED, 'nonce: too low', { rule: 'nonce' });
  });
  rpc.register('boom', () => {
    throw new TypeError('oops');
  });
  const { port } = await rpc.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  try {
    assert.deepEqual(await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'add', params: [2, 3] })), { jsonrpc: '2.0', id: 1, result: '5' });
    assert.equal(((await post(url, '{bad')) as { error: { code: number } }).error.code, -32700);
    assert.equal(((await post(url, '"str"')) as { error: { code: number } }).error.code, -32600);
    assert.equal(((await post(url, '[]')) as { error: { code: number } }).error.code, -32600);
    assert.equal(((await post(url, JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'add' }))) as { error: { code: number } }).error.code, -32600);
    assert.equal(((await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'nope' }))) as { error: { code: number } }).error.code, -32601);
    assert.equal(((await post(url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'add', params: 7 }))) as { error: { code: number } }).error.code, -32602);
    const rej = (await post(url, JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'reject' }))) as { id: string; error: { code: number; message: string; data: { rule: string } } };
    assert.deepEqual([rej.id, rej.error.code, rej.error.message, rej.error.data.rule], ['x', -32000, 'nonce: too low', 'nonce']);
    assert.equal(((await post(url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'boom' }))) as { error: { code: number } }).error.code, -32603);
    // notification: no response body
    assert.equal(await post(url, JSON.stringify({ jsonrpc: '2.0', method: 'add', params: [1, 1] })), undefined);
    const batch = (await post(url, JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'add', params: [1, 2] }, { jsonrpc: '2.0', id: 2, method: 'nope' }, 5]))) as Array<{ id: number | null }>;
    assert.equal(batch.length, 3);
    // still serving after all that
    assert.deepEqual(await post(url, JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'add', params: [4, 4] })), { jsonrpc: '2.0', id: 9, result: '8' });

    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => ws.once('open', r));
    const msgs: Array<{ id?: number; result?: unknown; method?: string; params?: { subscription: string; result: unknown } }> = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: ['newBlocks'] }));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'subscribe', params: ['nonsense'] }));
    ws.send('garbage');
    const until = async (n: number): Promise<void> => {
      for (let i = 0; i < 200 && msgs.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(3);
    const subId = msgs.find((m) => m.id === 1)!.result as string;
    assert.match(subId, /^s\d+$/);
    rpc.publish('newBlocks', { chain: 'shard-0', height: 7n });
    rpc.publish('finalBlocks', { chain: 'shard-0', height: 7 });
    await until(4);
    const note = msgs.find((m) => m.method === 'subscription')!;
    assert.deepEqual(note.params, { subscription: subId, topic: 'newBlocks', result: { chain: 'shard-0', height: '7' } });
    assert.equal(msgs.filter((m) => m.method === 'subscription').length, 1);
    ws.close();
  } finally {
    await rpc.close();
  }
});

test('a port already in use is an RpcListenError naming host, port and cause; the first server keeps serving', async () => {
  const a = new RpcServer(silentLogger());
  a.register('ping', () => 'pong');
  const { port } = await a.listen('127.0.0.1', 0);
  const b = new RpcServer(silentLogger());
  try {
    await assert.rejects(b.listen('127.0.0.1', port), (e: unknown) => e instanceof RpcListenError && e.message === `rpc: cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    await b.close(); // nothing bound: closing is a no-op
    assert.deepEqual(await post(`http://127.0.0.1:${port}`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })), { jsonrpc: '2.0', id: 1, result: 'pong' });
  } finally {
    await a.close();
  }
});
