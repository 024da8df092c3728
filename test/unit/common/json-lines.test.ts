import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonLinesServer, MAX_LINE, jsonLinesRequest } from '../../../common/json-lines.js';
import { silentLogger } from '../../../common/log.js';
import { RelayControlError, RelayControlServer, relayControlRequest } from '../../../relay/control.js';

class BusyError extends Error {}

function send(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(text));
    s.on('data', (d: string) => (buf += d));
    s.on('close', () => resolve(buf));
    s.on('error', reject);
    setTimeout(() => s.end(), 300);
  });
}

test('every request line gets one answer in order, including throwing and rejecting handlers', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tva-jl-'));
  const path = join(d, 'x.sock');
  const server = new JsonLinesServer({
    path,
    log: silentLogger(),
    dirMode: 0o700,
    busyError: () => new BusyError('busy'),
    handlers: {
      echo: (req) => req.v,
      boom: () => {
        throw new Error('sync failure');
      },
      later: async () => {
        await new Promise((r) => setTimeout(r, 30));
        throw new Error('async failure');
      },
    },
  });
  try {
    await server.listen();
    const out = await send(path, '{"cmd":"later"}\n{"cmd":"echo","v":7}\nnot json\n[1]\n{"cmd":"boom"}\n{"cmd":"toString"}\n');
    assert.deepEqual(
      out.trim().split('\n').map((l) => JSON.parse(l) as unknown),
      [
        { ok: false, error: 'async failure' },
        { ok: true, result: 7 },
        { ok: false, error: 'request is not JSON' },
        { ok: false, error: 'unknown command undefined (expected "echo" or "boom" or "later")' },
        { ok: false, error: 'sync failure' },
        { ok: false, error: 'unknown command "toString" (expected "echo" or "boom" or "later")' },
      ],
    );
    const long = await send(path, 'x'.repeat(MAX_LINE + 10));
    assert.deepEqual(JSON.parse(long.trim()), { ok: false, error: 'request line too long' });
    // A second server on a live socket is refused; the first keeps serving.
    const second = new JsonLinesServer({ path, log: silentLogger(), dirMode: 0o700, busyError: () => new BusyError('busy'), handlers: {} });
    await assert.rejects(second.listen(), BusyError);
    assert.deepEqual(await jsonLinesRequest(path, { cmd: 'echo', v: 'still' }, { timeoutMs: 2000, makeError: (m) => new Error(m), unreachable: () => 'x' }), { ok: true, result: 'still' });
  } finally {
    await server.close();
    assert.equal(existsSync(path), false);
    rmSync(d, { recursive: true, force: true });
  }
});

test('relay control socket: earnings/claim round-trip; a missing socket names the --control flag', async () => {
  const d = mkdtempSync(join(tmpdir(), 'tva-rc-'));
  const path = join(d, 'relay.sock');
  let claims = 0;
  const server = new RelayControlServer(path, { earnings: () => ({ served: '5' }), claim: async () => ({ round: ++claims }) }, silentLogger());
  try {
    await server.listen();
    assert.deepEqual(await relayControlRequest(path, 'earnings'), { ok: true, result: { served: '5' } });
    assert.deepEqual(await relayControlRequest(path, 'claim'), { ok: true, result: { round: 1 } });
  } finally {
    await server.close();
  }
  await assert.rejects(relayControlRequest(path, 'earnings'), (e: unknown) => e instanceof RelayControlError && /start the relay with --control/.test(e.message));
  rmSync(d, { recursive: true, force: true });
});
