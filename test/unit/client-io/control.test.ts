import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ControlError, controlRequest, ControlServer } from '../../../client/control.js';
import { silentLogger } from '../../../common/log.js';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'tva-ctl-'));
}

function rawExchange(path: string, text: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(text));
    s.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n').filter((l) => l.length > 0);
      if (lines.length >= text.split('\n').filter((l) => l.trim().length > 0).length) {
        s.destroy();
        resolve(lines);
      }
    });
    s.on('error', reject);
  });
}

test('status and disconnect round-trip; the disconnect reply comes after the handler finished', async () => {
  const d = dir();
  const path = join(d, 'sub', 'client.sock');
  let disconnected = 0;
  const events: string[] = [];
  const server = new ControlServer(
    path,
    {
      status: () => ({ state: 'up', bytesIn: 42 }),
      disconnect: async () => {
        await new Promise((r) => setTimeout(r, 20));
        disconnected++;
        events.push('handler done');
        return { restored: true };
      },
    },
    silentLogger(),
  );
  try {
    await server.listen();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(await controlRequest(path, { cmd: 'status' }), { ok: true, result: { state: 'up', bytesIn: 42 } });
    const r = await controlRequest(path, { cmd: 'disconnect' });
    events.push('reply');
    assert.deepEqual(r, { ok: true, result: { restored: true } });
    assert.equal(disconnected, 1);
    assert.deepEqual(events, ['handler done', 'reply']);
  } finally {
    await server.close();
    rmSync(d, { recursive: true, force: true });
  }
  assert.ok(!existsSync(path));
});

test('bad requests get ok:false with a reason; several requests on one connection answer in order', async () => {
  const d = dir();
  const path = join(d, 'c.sock');
  const server = new ControlServer(path, { status: () => 1, disconnect: async () => { throw new Error('nope'); } }, silentLogger());
  try {
    await server.listen();
    const lines = await rawExchange(path, 'not json\n{"cmd":"reboot"}\n{"cmd":"status"}\n{"cmd":"disconnect"}\n');
    const replies = lines.map((l) => JSON.parse(l) as { ok: boolean; error?: string; result?: unknown });
    assert.equal(replies.length, 4);
    assert.deepEqual(replies[0], { ok: false, error: 'request is not JSON' });
    assert.equal(replies[1]!.ok, false);
    assert.match(replies[1]!.error!, /unknown command "reboot"/);
    assert.deepEqual(replies[2], { ok: true, result: 1 });
    assert.deepEqual(replies[3], { ok: false, error: 'nope' });
  } finally {
    await server.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('a stale socket file is replaced; a live one means another client runs', async () => {
  const d = dir();
  const path = join(d, 'c.sock');
  writeFileSync(path, ''); // leftover from a killed run (nobody listens)
  const a = new ControlServer(path, { status: () => 'a', disconnect: async () => null }, silentLogger());
  try {
    await a.listen();
    assert.deepEqual(await controlRequest(path, { cmd: 'status' }), { ok: true, result: 'a' });
    const b = new ControlServer(path, { status: () => 'b', disconnect: async () => null }, silentLogger());
    await assert.rejects(b.listen(), (e: unknown) => e instanceof ControlError && /already running/.test(e.message));
    assert.deepEqual(await controlRequest(path, { cmd: 'status' }), { ok: true, result: 'a' });
  } finally {
    await a.close();
    rmSync(d, { recursive: true, force: true });
  }
});

test('controlRequest without a daemon fails with "no client is running"', async () => {
  const d = dir();
  try {
    await assert.rejects(controlRequest(join(d, 'none.sock'), { cmd: 'status' }), (e: unknown) => e instanceof ControlError && /no client is running/.test(e.message));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
