/**
 * The TCP endpoint (IPv4 address, port) of the chain RPC URL: what the kill switch admits so
 * that channel txs reach the chain while the tunnel is down. A host name is resolved once
 * (IPv4); the default port follows the scheme (http/ws 80, https/wss 443).
 */
import { lookup } from 'node:dns/promises';
import { isIPv4 } from 'node:net';
import type { Endpoint } from '../../relay/addr.js';

export class RpcEndpointError extends Error {
  override readonly name = 'RpcEndpointError';
}

export async function rpcEndpoint(url: string): Promise<Endpoint> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RpcEndpointError(`not a URL: ${url}`);
  }
  const secure = u.protocol === 'https:' || u.protocol === 'wss:';
  const port = u.port !== '' ? Number(u.port) : secure ? 443 : 80;
  const host = u.hostname;
  if (isIPv4(host)) return { host, port };
  if (host.startsWith('[')) throw new RpcEndpointError(`chain RPC ${url}: IPv6 is not supported by the kill switch`);
  try {
    const { address } = await lookup(host, { family: 4 });
    return { host: address, port };
  } catch (err) {
    throw new RpcEndpointError(`chain RPC ${url}: cannot resolve ${host} (${(err as Error).message})`);
  }
}
