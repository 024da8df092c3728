/**
 * chain/devnet options used by the namespaced testnet (deploy/chain-net.ts): `host` is the
 * address every node binds and advertises; `wrap` is a command prefix the node process runs
 * under (there `ip netns exec <ns>`; here `env VAR=1`, which execs the node too, so the PID
 * the launcher tracks is the node's own and stopping by PID stops the node). And the Unix-socket
 * RPC path the orchestrator uses to reach nodes inside a namespace (deploy/unix-proxy.ts,
 * unixRpcCall in deploy/chain-net.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { distBin } from '../../common/paths.js';
import { unixRpcCall } from '../../deploy/chain-net.js';
import { parseMap, ProxyArgError } from '../../deploy/unix-proxy.js';

test('Devnet host: genesis, node configs and RPC URLs use it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvq-dnhost-'));
  try {
    const d = await Devnet.create({ dir, shards: 1, group: 1, auditors: 1, accounts: 1, host: '198.18.0.200', basePort: 30000 });
    assert.deepEqual(d.rpcUrls(), ['http://198.18.0.200:30001', 'http://198.18.0.200:30003']);
    const g = JSON.parse(readFileSync(join(dir, 'genesis.json'), 'utf8')) as { nodes: Array<{ p2p: string; rpc: string }> };
    assert.deepEqual(g.nodes.map((n) => n.p2p), ['/ip4/198.18.0.200/tcp/30000', '/ip4/198.18.0.200/tcp/30002']);
    const cfg = JSON.parse(readFileSync(join(dir, 'node-1', 'config.json'), 'utf8')) as { rpcHost: string; rpcPort: number };
    assert.equal(cfg.rpcHost, '198.18.0.200');
    assert.equal(cfg.rpcPort, 30003);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Devnet wrap: nodes run under the prefix, the tracked PID is the node, stop() ends it', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvq-dnwrap-'));
  const d = await Devnet.create({ dir, shards: 1, group: 1, auditors: 1, accounts: 1, logLevel: 'warn', wrap: ['env', 'TOPVPN_DEVNET_WRAPPED=1'] });
  try {
    await d.start();
    const pids = d.pids();
    assert.equal(pids.length, 2);
    for (const pid of pids) {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('TOPVPN_DEVNET_WRAPPED=1'), 'the node process runs under the wrapper');
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /chain\/cli\.js\0start/);
    }
    const st = await rpcCall<{ chainId: string }>(d.rpcUrls()[0]!, 'chain_status');
    assert.equal(st.chainId, d.chainId);
    await d.stop();
    assert.deepEqual(d.pids(), []);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unix-proxy + unixRpcCall: the orchestrator reaches a TCP JSON-RPC server through a Unix socket', { timeout: 30_000 }, async () => {
  assert.deepEqual(parseMap('/tmp/a.sock=198.18.0.200:30001'), { socket: '/tmp/a.sock', host: '198.18.0.200', port: 30001 });
  for (const bad of ['/tmp/a.sock', '/tmp/a.sock=host:1', '/tmp/a.sock=1.2.3.4:0', '=1.2.3.4:1']) assert.throws(() => parseMap(bad), ProxyArgError, bad);
  const dir = mkdtempSync(join(tmpdir(), 'tvq-uproxy-'));
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(j.method === 'echo' ? { jsonrpc: '2.0', id: j.id, result: j.params } : { jsonrpc: '2.0', id: j.id, error: { code: -32601, message: 'no such method' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const sock = join(dir, 'rpc.sock');
  const proxy = spawn(process.execPath, [distBin('deploy/unix-proxy'), '--map', `${sock}=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      proxy.stdout!.once('data', (d: Buffer) => (d.toString().includes('"listening"') ? resolve() : reject(new Error(d.toString()))));
      proxy.once('exit', (c) => reject(new Error(`proxy exited ${c}`)));
    });
    assert.deepEqual(await unixRpcCall(sock, 'echo', [1, 'two', 3n]), [1, 'two', '3']);
    await assert.rejects(unixRpcCall(sock, 'nope'), (e: unknown) => e instanceof RpcCallError && e.code === -32601);
  } finally {
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
