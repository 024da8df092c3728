/**
 * JSON-RPC over HTTP(S) with a new TCP connection per call (no keep-alive pool): the client's
 * chain calls. A pooled connection opened through the tunnel keeps the tunnel's source address
 * and dies with it; while the tunnel is down (a re-path) or gone (closing channels after a
 * failure) every call must leave on a fresh socket the routes of that moment choose.
 * Same contract as chain/node/rpc-client.ts rpcCall: `result`, RpcCallError for a JSON-RPC
 * error, Error for transport failures and the timeout.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { jsonRpcBody, RpcCallError } from '../../chain/node/rpc-client.js';
import type { RpcCallFn } from '../../relay/payments/chain-rpc.js';

let nextId = 1;

export class RpcTransportError extends Error {
  override readonly name = 'RpcTransportError';
}

export const freshRpcCall: RpcCallFn = <T = unknown>(url: string, method: string, params: unknown[] | Record<string, unknown> = [], timeoutMs = 10_000): Promise<T> => {
  const body = jsonRpcBody({ jsonrpc: '2.0', id: nextId++, method, params });
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<T>((resolve, reject) => {
    const req = request(u, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => reject(new RpcTransportError(`${method}: ${e.message}`)));
      res.on('end', () => {
        let j: { result?: T; error?: { code: number; message: string; data?: unknown } };
        try {
          j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof j;
        } catch {
          reject(new RpcTransportError(`${method}: HTTP ${res.statusCode ?? '?'} without a JSON-RPC body`));
          return;
        }
        if (j.error) reject(new RpcCallError(j.error.code, j.error.message, j.error.data));
        else resolve(j.result as T);
      });
    });
    req.on('timeout', () => req.destroy(new RpcTransportError(`${method}: no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof RpcTransportError ? e : new RpcTransportError(`${method}: ${e.message}`)));
    req.end(body);
  });
};
