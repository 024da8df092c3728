/** client/payments/rpc-fresh.ts: JSON-RPC with one TCP connection per call. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { RpcCallError } from '../../../chain/node/rpc-client.js';
import { freshRpcCall, RpcTransportError } from '../../../client/payments/rpc-fresh.js';

let server: Server;
let url = '';
const sockets = new Set<unknown>();
let requests = 0;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests++;
      const j = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      if (j.method === 'hang') return; // never answers
      if (j.method === 'garbage') return void res.end('<html>');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(j.method === 'echo' ? { jsonrpc: '2.0', id: j.id, result: j.params } : { jsonrpc: '2.0', id: j.id, error: { code: -32000, message: 'refused', data: { rule: 'x' } } }));
    });
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('result, bigint params, JSON-RPC errors as RpcCallError, one connection per call', async () => {
  assert.deepEqual(await freshRpcCall(url, 'echo', [1, 2n, 'x']), [1, '2', 'x']);
  await assert.rejects(freshRpcCall(url, 'nope'), (e: unknown) => e instanceof RpcCallError && e.code === -32000 && (e.data as { rule: string }).rule === 'x');
  for (let i = 0; i < 3; i++) await freshRpcCall(url, 'echo', []);
  assert.equal(requests, 5);
  assert.equal(sockets.size, 5, 'no connection reused');
});

test('transport failures: no JSON body, timeout, refused connection', async () => {
  await assert.rejects(freshRpcCall(url, 'garbage'), RpcTransportError);
  await assert.rejects(freshRpcCall(url, 'hang', [], 300), (e: unknown) => e instanceof RpcTransportError && /within 300 ms/.test((e as Error).message));
  await assert.rejects(freshRpcCall('http://127.0.0.1:1', 'echo'), RpcTransportError);
});
