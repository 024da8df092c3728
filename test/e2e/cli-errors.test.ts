/**
 * The built CLIs' --json output and exit codes (0 ok, 1 runtime failure, 2 usage/config),
 * without network namespaces: key generation, bad flags, missing key file, malformed relay
 * lists, and a plain (non-exit) relay's start/stop on loopback.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLIENT_CLI, Daemon, killAll, RELAY_CLI, runCli } from './cli-util.js';

const dir = mkdtempSync(join(tmpdir(), 'tva-cli-'));
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

function errorOf(r: ReturnType<typeof runCli>): Record<string, unknown> {
  const e = r.json.find((x) => x.event === 'error');
  assert.ok(e, `expected an error event on stdout, got ${JSON.stringify(r.stdout)}`);
  return e;
}

test('relay keygen --json writes a 0600 key file and prints its public key; refuses to overwrite', () => {
  const key = join(dir, 'k1.json');
  const r = runCli(RELAY_CLI, ['keygen', '--out', key, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const ev = r.json[0]!;
  assert.equal(ev.event, 'keygen');
  assert.match(String(ev.publicKey), /^[0-9a-f]{64}$/);
  assert.equal(statSync(key).mode & 0o777, 0o600);
  assert.equal((JSON.parse(readFileSync(key, 'utf8')) as { publicKey: string }).publicKey, ev.publicKey);
  const again = runCli(RELAY_CLI, ['keygen', '--out', key, '--json']);
  assert.equal(again.status, 2);
  assert.match(String(errorOf(again).message), /already exists/);
  const plain = runCli(RELAY_CLI, ['keygen', '--out', key, '--force']);
  assert.equal(plain.status, 0);
  assert.match(plain.stdout, /^[0-9a-f]{64}\n$/);
  assert.notEqual(plain.stdout.trim(), ev.publicKey);
});

test('relay start: usage and configuration errors exit 2 with a JSON error naming the problem', () => {
  const key = join(dir, 'k2.json');
  runCli(RELAY_CLI, ['keygen', '--out', key]);
  const cases: Array<[string[], RegExp]> = [
    [['start', '--key', key, '--json'], /--listen/],
    [['start', '--listen', '127.0.0.1:1', '--key', join(dir, 'missing.json'), '--json'], /does not exist/],
    [['start', '--listen', '127.0.0.1', '--key', key, '--json'], /HOST:PORT/],
    [['start', '--listen', '127.0.0.1:1', '--key', key, '--bogus', '--json'], /unknown option '--bogus'/],
    [['start', '--listen', '127.0.0.1:1', '--key', key, '--exit-pool', '198.19.0.0/16', '--json'], /only make sense with --exit/],
    [['start', '--listen', '127.0.0.1:1', '--key', key, '--exit', '--exit-allow', '198.18.0.1/15', '--json'], /host bits set/],
    [['nonsense', '--json'], /unknown command/],
  ];
  for (const [args, re] of cases) {
    const r = runCli(RELAY_CLI, args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(String(errorOf(r).message), re, args.join(' '));
    assert.match(r.stderr, /^toprelay: /m);
  }
  const none = runCli(RELAY_CLI, []);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /toprelay: a command is required/);
  const badKey = join(dir, 'bad.json');
  writeFileSync(badKey, '{"secretKey":"00","publicKey":"11"}');
  const r = runCli(RELAY_CLI, ['start', '--listen', '127.0.0.1:1', '--key', badKey, '--json']);
  assert.equal(r.status, 2);
  assert.equal(errorOf(r).error, 'KeyFileError');
});

test('relay start (no exit) prints "listening", answers on UDP, stops on SIGTERM with exit 0', async () => {
  const key = join(dir, 'k3.json');
  const pub = runCli(RELAY_CLI, ['keygen', '--out', key]).stdout.trim();
  const relay = new Daemon(RELAY_CLI, ['start', '--listen', '127.0.0.1:0', '--key', key, '--metrics', '127.0.0.1:0', '--json']);
  const ev = await relay.waitEvent('listening');
  assert.equal(ev.publicKey, pub);
  assert.equal(ev.exit, false);
  const metrics = await (await fetch(String(ev.metrics))).text();
  assert.match(metrics, /^topvpn_relay_up 1$/m);
  assert.match(metrics, /^topvpn_relay_info\{region="[^"]*",exit="false"\} 1$/m);
  const m = /^127\.0\.0\.1:(\d+)$/.exec(String(ev.listen));
  assert.ok(m, String(ev.listen));
  // A port taken by this relay cannot be bound by a second one: a runtime failure (exit 1).
  const second = runCli(RELAY_CLI, ['start', '--listen', `127.0.0.1:${m[1]}`, '--key', key, '--json']);
  assert.equal(second.status, 1, second.stderr);
  assert.match(String(errorOf(second).message), /EADDRINUSE/);
  // Garbage datagrams are dropped without killing the relay.
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.send(Buffer.from('not a topvpn packet'), Number(m[1]), '127.0.0.1', () => resolve()));
  sock.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(relay.running);
  relay.signal('SIGTERM');
  assert.equal(await relay.exited, 0);
  assert.ok(relay.events.some((e) => e.event === 'stopped'));
});

test('client connect: malformed relay lists and bad flags exit 2 before touching the system', () => {
  const K = 'ab'.repeat(32);
  const ctl = join(dir, 'ctl', 'c.sock');
  const relaysFile = join(dir, 'relays.json');
  writeFileSync(relaysFile, JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: 'zz' }]));
  const cases: Array<[string[], RegExp, string]> = [
    [['connect', '--relays', `198.18.0.11:51820${K}`, '--hops', '1'], /expected host:port@pubhex/, 'RelayListError'],
    [['connect', '--relays', `198.18.0.11:51820@${K}`, '--hops', '3'], /needs at least 3 relays/, 'RelayListError'],
    [['connect', '--relays', `198.18.0.11:51820@${K}`, '--hops', '9'], /--hops must be 1\.\.3/, 'ConfigError'],
    [['connect', '--relays', join(dir, 'none.json'), '--hops', '1'], /no such file/, 'RelayListError'],
    [['connect', '--relays', relaysFile, '--hops', '1'], /relays\.json\[0\]: publicKey must be 64 hex/, 'RelayListError'],
    [['connect', '--relays', `198.18.0.11:51820@${K}`, '--hops', '1', '--dns', 'x'], /--dns/, 'ConfigError'],
    [['connect', '--hops', '1'], /--relays/, 'UsageError'],
  ];
  for (const [args, re, kind] of cases) {
    const r = runCli(CLIENT_CLI, [...args, '--control', ctl, '--json']);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    const e = errorOf(r);
    assert.match(String(e.message), re, args.join(' '));
    assert.equal(e.error, kind);
  }
  assert.throws(() => statSync(ctl), /ENOENT/, 'no control socket was created');
});

test('client status / disconnect without a running client exit 1 with a JSON error', () => {
  for (const cmd of ['status', 'disconnect']) {
    const r = runCli(CLIENT_CLI, [cmd, '--control', join(dir, 'nobody.sock'), '--json']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(String(errorOf(r).message), /no client is running/);
  }
  const h = runCli(CLIENT_CLI, ['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /connect/);
});
