/**
 * A genesis made by the deploy generator (bootstrap) and node configs rendered by its
 * systemd renderer start a real two-node chain (`topchain start --config`, one validator
 * and one auditor on 127.0.0.1) that finalizes blocks and serves /metrics on its RPC port,
 * which is where the generated Prometheus configs scrape it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { distBin } from '../../../common/paths.js';
import { DEFAULT_DEPLOY_CONFIG, type DeployConfig } from '../../../deploy/gen-config.js';
import { bootstrap } from '../../../deploy/gen-genesis.js';
import { validatorNodeConfig } from '../../../deploy/gen-systemd.js';
import { prometheusConfig, deployTargets } from '../../../deploy/gen-prometheus.js';

async function freePorts(n: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<import('node:net').Server>((res) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: gave up (${String(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('generated genesis + node configs boot a finalizing chain that serves /metrics', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvk-chainboot-'));
  const procs: ChildProcess[] = [];
  try {
    const [p0, r0, p1, r1] = await freePorts(4);
    const cfg: DeployConfig = {
      ...DEFAULT_DEPLOY_CONFIG,
      dataRoot: join(dir, 'data'),
      configRoot: join(dir, 'boot'),
      validators: [
        { name: 'v0', host: '127.0.0.1', p2pPort: p0!, rpcPort: r0!, role: 'validator', shard: 0 },
        { name: 'a0', host: '127.0.0.1', p2pPort: p1!, rpcPort: r1!, role: 'auditor' },
      ],
    };
    bootstrap(cfg, 'systemd', join(dir, 'boot'), { genesisTime: Date.now() });
    for (const v of cfg.validators) {
      // The rendered config, with the key where bootstrap put it (a server keeps it in the state dir).
      const c = { ...(JSON.parse(validatorNodeConfig(cfg, v)) as Record<string, unknown>), dataDir: join(dir, 'boot', v.name), keyFile: join(dir, 'boot', v.name, 'key.json') };
      writeFileSync(join(dir, `${v.name}.config.json`), JSON.stringify(c));
      const p = spawn(process.execPath, [distBin('chain/cli'), 'start', '--config', join(dir, `${v.name}.config.json`)], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, TOPVPN_LOG_LEVEL: 'warn' } });
      procs.push(p);
    }
    const metrics = await until('shard-0 finality on v0', async () => {
      const res = await fetch(`http://127.0.0.1:${r0}/metrics`);
      const text = await res.text();
      const m = /^topchain_final_height\{chain="shard-0"\} (\d+)/m.exec(text);
      return m && Number(m[1]) >= 2 ? text : undefined;
    });
    assert.match(metrics, /^topchain_up 1$/m);
    // The Prometheus config for these nodes points at exactly these RPC ports.
    const yml = prometheusConfig(deployTargets(cfg));
    assert.ok(yml.includes(`127.0.0.1:${r0}`) && yml.includes(`127.0.0.1:${r1}`));
    const status = (await (await fetch(`http://127.0.0.1:${r1}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_status', params: [] }) })).json()) as { result: { peers: number; chains: Array<{ chain: string; finalHeight: number }> } };
    assert.ok(status.result.peers >= 1, 'the auditor found the validator through the genesis multiaddrs');
    assert.ok(status.result.chains.find((c) => c.chain === 'shard-0')!.finalHeight >= 1);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null ? Promise.resolve() : new Promise((r) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.once('exit', () => (clearTimeout(t), r(undefined)));
    }))));
    rmSync(dir, { recursive: true, force: true });
  }
});
