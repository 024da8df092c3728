/**
 * A chain devnet inside the testnet: every node process runs in the chain host's namespace
 * (`<prefix>-chain`, 198.18.0.200 on the testnet bridge; Testnet.create({chain: true})), so
 * relays and the client reach the nodes' JSON-RPC at http://198.18.0.200:<port> over the
 * underlay, with no route or firewall change anywhere. The orchestrator, which stays in the root
 * namespace, reaches the same RPC ports through Unix sockets (deploy/unix-proxy.ts runs in the
 * chain namespace): `call` is an RpcCallFn taking the nodes' ordinary URLs.
 *
 *   const chain = await ChainNet.start(net, { shards: 2, group: 4 });
 *   chain.urls;                        // RPC URLs as seen from the namespaces
 *   await chain.call(chain.urls[0], 'supply_get');
 *   await chain.stop();                // nodes by PID (the testnet teardown kills leftovers)
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { distBin } from '../common/paths.js';
import { Devnet } from '../chain/devnet/devnet.js';
import { jsonRpcBody, RpcCallError } from '../chain/node/rpc-client.js';
import type { RpcCallFn } from '../relay/payments/chain-rpc.js';
import type { Proc } from './procs.js';
import type { Testnet } from './testnet.js';
import { CHAIN_IP } from './topology.js';

export class ChainNetError extends Error {
  override readonly name = 'ChainNetError';
}

export interface ChainNetOptions {
  shards?: number;
  group?: number;
  auditors?: number;
  /** Funded accounts made at genesis (1,000,000 TOP each). */
  accounts?: number;
  logLevel?: string;
  /** First node port (p2p = base + 2i, RPC = base + 2i + 1); the chain namespace is fresh, so any range is free. */
  basePort?: number;
  onProgress?: (msg: string) => void;
}

let rpcId = 1;

/** JSON-RPC 2.0 over HTTP on a Unix socket (bigints sent as decimal strings). */
export function unixRpcCall(socketPath: string, method: string, params: unknown[] | Record<string, unknown> = [], timeoutMs = 10_000): Promise<unknown> {
  const body = jsonRpcBody({ jsonrpc: '2.0', id: rpcId++, method, params });
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
          if (j.error) reject(new RpcCallError(j.error.code, j.error.message, j.error.data));
          else resolve(j.result);
        } catch (err) {
          reject(new ChainNetError(`${method}: bad response (${(err as Error).message})`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new ChainNetError(`${method}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export class ChainNet {
  private stopped = false;

  private constructor(
    readonly devnet: Devnet,
    private readonly sockets: ReadonlyMap<string, string>,
    private readonly proxy: Proc,
  ) {}

  static async start(net: Testnet, o: ChainNetOptions = {}): Promise<ChainNet> {
    const host = net.host('chain');
    const say = o.onProgress ?? (() => {});
    const devnet = await Devnet.create({
      dir: join(net.dir, 'chain'),
      shards: o.shards ?? 2,
      group: o.group ?? 4,
      auditors: o.auditors ?? o.group ?? 4,
      accounts: o.accounts ?? 4,
      host: CHAIN_IP,
      basePort: o.basePort ?? 30000,
      wrap: ['ip', 'netns', 'exec', host.ns],
      logLevel: o.logLevel ?? 'warn',
    });
    say(`chain: starting ${devnet.nodes.length} node processes in ${host.ns} (${devnet.shards} shards)`);
    try {
      await devnet.start();
    } catch (err) {
      await devnet.stop();
      throw err;
    }
    const sockets = new Map(devnet.nodes.map((n) => [n.rpc, join(net.dir, `rpc-${n.index}.sock`)]));
    const maps = devnet.nodes.flatMap((n) => ['--map', `${sockets.get(n.rpc)!}=${new URL(n.rpc).hostname}:${new URL(n.rpc).port}`]);
    const proxy = net.spawn(host, [process.execPath, distBin('deploy/unix-proxy'), ...maps], { label: 'chain:rpc-proxy' });
    try {
      await proxy.waitForEvent('listening', 15_000);
    } catch (err) {
      await devnet.stop();
      throw err;
    }
    return new ChainNet(devnet, sockets, proxy);
  }

  /** Node RPC URLs as seen from the testnet hosts. */
  get urls(): string[] {
    return this.devnet.rpcUrls();
  }

  /** An RpcCallFn for the orchestrator (root namespace): the URL picks the node's Unix socket. */
  readonly call: RpcCallFn = async <T = unknown>(url: string, method: string, params?: unknown[] | Record<string, unknown>, timeoutMs?: number): Promise<T> => {
    const sock = this.sockets.get(url.replace(/\/$/, ''));
    if (!sock) throw new ChainNetError(`no node at ${url}`);
    return (await unixRpcCall(sock, method, params ?? [], timeoutMs)) as T;
  };

  /** Final height of `chain` on node `url`. */
  async finalHeight(url: string, chain: string): Promise<number> {
    const s = await this.call<{ chains: Array<{ chain: string; finalHeight: number }> }>(url, 'chain_status');
    const c = s.chains.find((x) => x.chain === chain);
    if (!c) throw new ChainNetError(`node ${url} has no chain ${chain}`);
    return c.finalHeight;
  }

  /** Resolves once every chain (beacon and each shard) has `height` final blocks on node 0. */
  async waitReady(height = 2, timeoutMs = 120_000): Promise<void> {
    const chains = ['beacon', ...Array.from({ length: this.devnet.shards }, (_, i) => `shard-${i}`)];
    await waitFor('first final blocks', async () => {
      for (const c of chains) if ((await this.finalHeight(this.urls[0]!, c)) < height) return false;
      return true;
    }, timeoutMs);
  }

  /** Stops the RPC proxy and every node (SIGTERM, SIGKILL after the grace period). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.proxy.stop(2000);
    await this.devnet.stop();
  }
}

/** Polls `cond` every 250 ms (errors count as "not yet") until true or `timeoutMs`. */
export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new ChainNetError(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
