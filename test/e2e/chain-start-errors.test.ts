/**
 * A node process that cannot start says why: the devnet's start error carries the node's last
 * log lines, and a taken RPC port is a one-line `rpc: cannot listen on HOST:PORT: EADDRINUSE`
 * (exit 1), not a crash trace. Stopping a devnet while its nodes are still starting returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Devnet, DevnetError } from '../../chain/devnet/devnet.js';

/** Listens on a free port below the ephemeral range (where the devnet's ports come from). */
async function occupy(): Promise<{ server: Server; port: number }> {
  for (let i = 0; i < 50; i++) {
    const port = 20001 + 2 * Math.floor(Math.random() * 5000);
    const server = createServer();
    const ok = await new Promise<boolean>((res) => {
      server.once('error', () => res(false));
      server.listen(port, '127.0.0.1', () => res(true));
    });
    if (ok) return { server, port };
  }
  throw new Error('no free port to occupy');
}

test('devnet: a node whose RPC port is taken exits 1 and the start error names the port and the cause', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-starterr-'));
  const { server, port } = await occupy();
  const d = await Devnet.create({ dir, shards: 1, group: 4, auditors: 1, basePort: port - 1, logLevel: 'warn' });
  try {
    await assert.rejects(d.start(), (e: unknown) => {
      assert.ok(e instanceof DevnetError, String(e));
      assert.match(e.message, /^node 0 exited \(code 1, signal null\) before starting/);
      assert.ok(e.message.includes(`topchain: rpc: cannot listen on 127.0.0.1:${port}: EADDRINUSE`), e.message);
      return true;
    });
  } finally {
    await d.stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('devnet: stop() returns when a node prints "started" while it is being stopped', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-stoprace-'));
  // Stands in for node 0: announces "started" only on SIGTERM, then takes 300 ms to exit, so the
  // start completes while stop() is already waiting for the exit.
  const fake = ['sh', '-c', 'trap \'echo "{\\"event\\":\\"started\\"}"; sleep 0.3; exit 0\' TERM; while :; do sleep 0.05; done', 'fake-node'];
  const d = await Devnet.create({ dir, shards: 1, group: 4, auditors: 1, logLevel: 'warn', wrapFor: (i) => (i === 0 ? fake : []) });
  try {
    const starting = d.startNode(0);
    await new Promise((r) => setTimeout(r, 200)); // the trap is installed
    await d.stopNode(0, 5_000);
    await starting; // it did print "started"
    assert.deepEqual(d.pids(), []);
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
