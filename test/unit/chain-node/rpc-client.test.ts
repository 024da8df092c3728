import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isConnectionReset, postJsonRpc, rpcCall, RpcCallError } from '../../../chain/node/rpc-client.js';

/** An HTTP server on loopback whose n-th request (from 1) is handled by `handle`; counts requests. */
async function withServer(handle: (n: number, req: IncomingMessage, res: ServerResponse) => void, body: (url: string, count: () => number) => Promise<void>): Promise<void> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    const i = n;
    req.resume();
    req.on('end', () => handle(i, req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    await body(`http://127.0.0.1:${port}`, () => n);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const answer = (res: ServerResponse, v: unknown): void => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(v));
};

test('rpcCall: a connection reset before the answer is sent again once, on a new connection', async () => {
  await withServer(
    (n, req, res) => (n === 1 ? req.socket.destroy() : answer(res, { jsonrpc: '2.0', id: 1, result: 'pong' })),
    async (url, count) => {
      assert.equal(await rpcCall<string>(url, 'ping'), 'pong');
      assert.equal(count(), 2);
    },
  );
});

test('rpcCall: a reset on the retry too is a transport error (no third attempt)', async () => {
  await withServer(
    (_n, req) => req.socket.destroy(),
    async (url, count) => {
      const err = await rpcCall(url, 'ping').then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.ok(isConnectionReset(err), `not a reset: ${String(err)}`);
      assert.ok(!(err instanceof RpcCallError));
      assert.equal(count(), 2);
    },
  );
});

test('rpcCall: a JSON-RPC error is an answer, never retried', async () => {
  await withServer(
    (_n, _req, res) => answer(res, { jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'nonce: too low', data: { rule: 'nonce' } } }),
    async (url, count) => {
      await assert.rejects(rpcCall(url, 'tx_submit', [{}]), (e: unknown) => e instanceof RpcCallError && e.code === -32000 && e.message === 'nonce: too low');
      assert.equal(count(), 1);
    },
  );
});

test('postJsonRpc: a timeout is not retried', async () => {
  await withServer(
    () => undefined, // never answers
    async (url, count) => {
      const err = await postJsonRpc(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, 150).then(
        () => assert.fail('resolved'),
        (e: unknown) => e,
      );
      assert.equal((err as Error).name, 'TimeoutError');
      assert.ok(!isConnectionReset(err));
      assert.equal(count(), 1);
    },
  );
});
