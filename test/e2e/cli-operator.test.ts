/**
 * The operator/user commands of the built CLIs (dist/client/cli.js, dist/relay/cli.js): --json
 * output and exit codes (0 ok, 1 runtime failure, 2 usage/config), without a chain:
 * wallet create/import/address (wrong password = 1, no password source = 2), toprelay init
 * (commented relay.yaml, refuses to overwrite), `start` configured from relay.yaml with env
 * and flags on top, status/earnings read from its metrics, and the error paths (missing config,
 * unknown config key, bad flags, unreachable chain, relay not running).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CLIENT_CLI, Daemon, killAll, parseJsonLines, RELAY_CLI } from './cli-util.js';

const dir = mkdtempSync(join(tmpdir(), 'tvl-cliop-'));
after(() => {
  killAll();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Array<Record<string, unknown>>;
}

/** Runs a CLI with a clean environment (HOME/XDG under `dir`), stdin not a TTY. */
function cli(bin: string, args: string[], env: Record<string, string> = {}, input = ''): Run {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'xdg') };
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...base, ...env }, input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: parseJsonLines(r.stdout) };
}

function only(r: Run, event: string): Record<string, unknown> {
  const e = r.json.find((x) => x.event === event);
  assert.ok(e, `expected a ${event} event, got stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
  return e;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

const HEX64 = /^[0-9a-f]{64}$/;

test('topvpn wallet: create, address, import; password sources and exit codes', () => {
  const w = join(dir, 'w1.json');
  const created = cli(CLIENT_CLI, ['wallet', 'create', '--wallet', w, '--json'], { TOPVPN_WALLET_PASSWORD: 'correct horse' });
  assert.equal(created.status, 0, created.stderr);
  const ev = only(created, 'wallet-created');
  assert.match(String(ev.address), HEX64);
  assert.equal(statSync(w).mode & 0o777, 0o600);
  assert.ok(!readFileSync(w, 'utf8').includes('correct horse'));
  assert.ok(!created.stdout.includes('correct horse') && !created.stderr.includes('correct horse'), 'the password is never echoed');

  const addr = cli(CLIENT_CLI, ['wallet', 'address', '--wallet', w, '--json']);
  assert.equal(addr.status, 0, addr.stderr);
  assert.equal(only(addr, 'wallet-address').address, ev.address);

  // the default path is under $XDG_CONFIG_HOME/topvpn
  const def = cli(CLIENT_CLI, ['wallet', 'create', '--json'], { TOPVPN_WALLET_PASSWORD: 'pw' });
  assert.equal(def.status, 0, def.stderr);
  assert.equal(only(def, 'wallet-created').file, join(dir, 'xdg', 'topvpn', 'wallet.json'));

  // existing wallet: usage error (2), checked before any password is asked
  const again = cli(CLIENT_CLI, ['wallet', 'create', '--wallet', w, '--json']);
  assert.equal(again.status, 2);
  assert.equal(only(again, 'error').exitCode, 2);

  // no password source and no TTY: 2
  const nopw = cli(CLIENT_CLI, ['wallet', 'create', '--wallet', join(dir, 'w2.json'), '--json']);
  assert.equal(nopw.status, 2);
  assert.match(String(only(nopw, 'error').message), /TOPVPN_WALLET_PASSWORD/);

  // import from --secret-file with --password-file; the same seed gives the same address
  const seed = 'a'.repeat(64);
  writeFileSync(join(dir, 'seed'), `${seed}\n`);
  writeFileSync(join(dir, 'pw'), 'from-file\n');
  const imp = cli(CLIENT_CLI, ['wallet', 'import', '--wallet', join(dir, 'w3.json'), '--secret-file', join(dir, 'seed'), '--password-file', join(dir, 'pw'), '--json']);
  assert.equal(imp.status, 0, imp.stderr);
  const imp2 = cli(CLIENT_CLI, ['wallet', 'import', '--wallet', join(dir, 'w4.json'), '--json'], { TOPVPN_WALLET_PASSWORD: 'x' }, `${seed}\n`);
  assert.equal(imp2.status, 0, imp2.stderr);
  assert.equal(only(imp, 'wallet-imported').address, only(imp2, 'wallet-imported').address);
  const badSeed = cli(CLIENT_CLI, ['wallet', 'import', '--wallet', join(dir, 'w5.json'), '--json'], { TOPVPN_WALLET_PASSWORD: 'x' }, 'xyz\n');
  assert.equal(badSeed.status, 2, 'a malformed secret is a usage error');
  const badPwFile = cli(CLIENT_CLI, ['wallet', 'create', '--wallet', join(dir, 'w6.json'), '--password-file', join(dir, 'nope'), '--json']);
  assert.equal(badPwFile.status, 2);

  // missing wallet: 2
  const missing = cli(CLIENT_CLI, ['wallet', 'address', '--wallet', join(dir, 'absent.json'), '--json']);
  assert.equal(missing.status, 2);
  assert.equal(only(missing, 'error').error, 'UsageError');
});

test('topvpn: wrong wallet password exits 1, unreachable chain exits 1, bad flags exit 2', () => {
  const w = join(dir, 'wp.json');
  assert.equal(cli(CLIENT_CLI, ['wallet', 'create', '--wallet', w], { TOPVPN_WALLET_PASSWORD: 'right' }).status, 0);
  // a closed port: the password is checked first (wrong → 1, WrongPasswordError)
  const port = '127.0.0.1:9';
  const wrong = cli(CLIENT_CLI, ['channels', 'close', '--all', '--wallet', w, '--chain-rpc', `http://${port}`, '--json'], { TOPVPN_WALLET_PASSWORD: 'wrong' });
  assert.equal(wrong.status, 1);
  assert.equal(only(wrong, 'error').error, 'WrongPasswordError');
  const unreachable = cli(CLIENT_CLI, ['wallet', 'balance', '--wallet', w, '--chain-rpc', `http://${port}`, '--json']);
  assert.equal(unreachable.status, 1);
  assert.equal(only(unreachable, 'error').error, 'ChainUnreachableError');
  const list = cli(CLIENT_CLI, ['channels', '--wallet', w, '--chain-rpc', `http://${port}`, '--json']);
  assert.equal(list.status, 1, 'channels defaults to list; chain unreachable');

  for (const args of [
    ['wallet', 'create', '--bogus', '--json'],
    ['wallet', 'frobnicate', '--json'],
    ['wallet', 'balance', '--wallet', w, '--chain-rpc', 'not a url', '--json'],
    ['wallet', 'balance', '--wallet', w, '--json'],
    ['relays', '--chain-rpc', 'http://127.0.0.1:9', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRJevXNthToZsfFtfbav5Khfo2yXTvXkAhdbEP6Ky3Yyn', '--sort', 'colour', '--json'],
    ['relays', '--chain-rpc', 'http://127.0.0.1:9', '--json'],
    ['relays', '--chain-rpc', 'http://127.0.0.1:9', '--bootstrap', '/ip4/127.0.0.1/tcp/1', '--json'],
    ['relays', '--chain-rpc', 'http://127.0.0.1:9', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/x', '--exit-country', 'Germany', '--json'],
    ['channels', 'close', '--wallet', w, '--chain-rpc', 'http://127.0.0.1:9', '--json'],
    ['channels', 'close', 'abc', '--all', '--wallet', w, '--chain-rpc', 'http://127.0.0.1:9', '--json'],
    ['channels', 'list', '--scan', '0', '--wallet', w, '--chain-rpc', 'http://127.0.0.1:9', '--json'],
  ]) {
    const r = cli(CLIENT_CLI, args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(only(r, 'error').exitCode, 2, args.join(' '));
  }
});

test('toprelay init writes keys (0600) and a commented relay.yaml; refuses to overwrite without --force', () => {
  const d = join(dir, 'relay-a');
  const r = cli(RELAY_CLI, ['init', '--dir', d, '--endpoint', '198.18.0.1:51820', '--region', 'eu', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const ev = only(r, 'init');
  assert.match(String(ev.address), HEX64);
  assert.match(String(ev.onionPublicKey), HEX64);
  assert.match(String(ev.peerId), /^12D3KooW/);
  for (const f of ['onionKey', 'nodeKey', 'peerKey']) assert.equal(statSync(String(ev[f])).mode & 0o777, 0o600, f);
  const text = readFileSync(join(d, 'relay.yaml'), 'utf8');
  assert.ok(text.split('\n').filter((l) => l.startsWith('#')).length >= 10, 'the config explains itself in comments');
  const y = parseYaml(text) as Record<string, unknown>;
  assert.equal(y.key, ev.onionKey);
  assert.equal(y['node-key'], ev.nodeKey);
  assert.equal(y.endpoint, '198.18.0.1:51820');
  assert.equal(y.region, 'eu');
  assert.equal(y['chain-rpc'], undefined, 'chain-rpc stays commented out until given');
  const again = cli(RELAY_CLI, ['init', '--dir', d, '--json']);
  assert.equal(again.status, 2);
  const forced = cli(RELAY_CLI, ['init', '--dir', d, '--force', '--json']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.notEqual(only(forced, 'init').address, ev.address, '--force makes new identities');
  assert.equal(cli(RELAY_CLI, ['init', '--dir', join(dir, 'relay-b'), '--listen', 'nonsense', '--json']).status, 2);
  assert.equal(cli(RELAY_CLI, ['init', '--dir', join(dir, 'relay-b'), '--price-per-gib', '1.5', '--json']).status, 2);
});

test('toprelay start from relay.yaml (env and flags on top); status and earnings read its metrics', async () => {
  const d = join(dir, 'relay-c');
  const mport = await freePort();
  assert.equal(cli(RELAY_CLI, ['init', '--dir', d, '--listen', '127.0.0.1:1', '--metrics', `127.0.0.1:${mport}`, '--json']).status, 0);
  const cfg = join(d, 'relay.yaml');
  // file says listen 127.0.0.1:1, env says :0 (any port): env wins; --log-level flag on top
  const relay = new Daemon(RELAY_CLI, ['start', '--config', cfg, '--log-level', 'warn', '--json'], { env: { TOPRELAY_LISTEN: '127.0.0.1:0' } });
  const up = await relay.waitEvent('listening', 15_000);
  assert.notEqual(up.listen, '127.0.0.1:1', 'env beats the file');
  assert.equal(up.metrics, `http://127.0.0.1:${mport}/metrics`, 'metrics from the file');

  const st = cli(RELAY_CLI, ['status', '--config', cfg, '--sample', '0.2', '--json']);
  assert.equal(st.status, 0, st.stderr);
  const s = only(st, 'status');
  const rel = s.relay as Record<string, unknown>;
  assert.equal(rel.up, true);
  assert.equal(rel.circuitsActive, 0);
  assert.equal(typeof rel.throughputBps, 'number');
  const viaEnv = cli(RELAY_CLI, ['status', '--sample', '0', '--json'], { TOPRELAY_METRICS: `127.0.0.1:${mport}` });
  assert.equal(viaEnv.status, 0, viaEnv.stderr);
  const earn = cli(RELAY_CLI, ['earnings', '--config', cfg, '--json']);
  assert.equal(earn.status, 0, earn.stderr);
  const e = only(earn, 'earnings');
  for (const k of ['served', 'receipted', 'claimed', 'burned', 'pending']) assert.equal((e[k] as { value: string }).value, '0', k);

  // the control socket from relay.yaml: an unpaid relay has nothing to claim (runtime failure)
  const unpaid = cli(RELAY_CLI, ['claim', '--config', cfg, '--json']);
  assert.equal(unpaid.status, 1, unpaid.stderr);
  assert.match(String(only(unpaid, 'error').message), /unpaid/);
  assert.equal(statSync(join(d, 'relay.sock')).mode & 0o777, 0o600);

  relay.signal('SIGTERM');
  assert.equal(await relay.exited, 0);
  const noSock = cli(RELAY_CLI, ['claim', '--config', cfg, '--json']);
  assert.equal(noSock.status, 1);
  assert.equal(only(noSock, 'error').error, 'RelayControlError');
  const down = cli(RELAY_CLI, ['status', '--config', cfg, '--json']);
  assert.equal(down.status, 1, 'relay not running: runtime failure');
  assert.equal(only(down, 'error').error, 'RelayNotRunningError');
});

test('toprelay config errors exit 2: missing --config file, unknown key, bad flag; missing required values', () => {
  const missing = cli(RELAY_CLI, ['start', '--config', join(dir, 'absent.yaml'), '--json']);
  assert.equal(missing.status, 2);
  assert.match(String(only(missing, 'error').message), /not found/);
  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, 'listen: 127.0.0.1:0\nlisten-port: 5\n');
  const t = cli(RELAY_CLI, ['start', '--config', typo, '--json']);
  assert.equal(t.status, 2);
  assert.match(String(only(t, 'error').message), /unknown key "listen-port"/);
  const viaEnv = cli(RELAY_CLI, ['status', '--json'], { TOPRELAY_CONFIG: join(dir, 'absent2.yaml') });
  assert.equal(viaEnv.status, 2, '$TOPRELAY_CONFIG naming a missing file');
  const noKey = cli(RELAY_CLI, ['register', '--chain-rpc', 'http://127.0.0.1:9', '--json']);
  assert.equal(noKey.status, 2);
  assert.match(String(only(noKey, 'error').message), /--node-key/);
  assert.equal(cli(RELAY_CLI, ['unregister', '--bogus', '--json']).status, 2);
  assert.equal(cli(RELAY_CLI, ['claim', '--json']).status, 2, 'claim without a control socket configured');
  assert.equal(cli(RELAY_CLI, ['earnings', '--metrics', 'nope', '--json']).status, 2);
  const badEnvBool = cli(RELAY_CLI, ['start', '--listen', '127.0.0.1:0', '--key', 'k', '--json'], { TOPRELAY_EXIT: 'perhaps' });
  assert.equal(badEnvBool.status, 2);
});

test('topvpn connect takes config.yaml < $TOPVPN_* < flags (checked through its validation errors)', () => {
  const xdg = join(dir, 'xdg-connect');
  const env = { XDG_CONFIG_HOME: xdg };
  const none = cli(CLIENT_CLI, ['connect', '--json'], env);
  assert.equal(none.status, 2);
  assert.match(String(only(none, 'error').message), /--relays/);
  const fromEnv = cli(CLIENT_CLI, ['connect', '--json'], { ...env, TOPVPN_RELAYS: join(dir, 'env-relays.json') });
  assert.equal(fromEnv.status, 2);
  assert.match(String(only(fromEnv, 'error').message), /env-relays\.json/, 'a required option satisfied by the environment');
  const cdir = join(xdg, 'topvpn');
  spawnSync('mkdir', ['-p', cdir]);
  writeFileSync(join(cdir, 'config.yaml'), '# client defaults\nrelays: /file-relays.json\nhops: 7\n');
  const fileHops = cli(CLIENT_CLI, ['connect', '--json'], env);
  assert.equal(fileHops.status, 2);
  assert.match(String(only(fileHops, 'error').message), /--hops must be 1\.\.3, got 7/, 'the default config file is read');
  const envHops = cli(CLIENT_CLI, ['connect', '--json'], { ...env, TOPVPN_HOPS: '9' });
  assert.match(String(only(envHops, 'error').message), /got 9/, 'env beats the file');
  const flagHops = cli(CLIENT_CLI, ['connect', '--hops', '2', '--json'], { ...env, TOPVPN_HOPS: '9' });
  assert.match(String(only(flagHops, 'error').message), /file-relays\.json/, 'the flag beats env; relays still from the file');
  writeFileSync(join(cdir, 'config.yaml'), 'relays: /x.json\nhopz: 2\n');
  const typo = cli(CLIENT_CLI, ['connect', '--json'], env);
  assert.equal(typo.status, 2);
  assert.match(String(only(typo, 'error').message), /unknown key "hopz"/);
});

test('topvpn wallet create on a terminal prompts twice without echo (util-linux `script` provides the pty)', async () => {
  const w = join(dir, 'tty.json');
  const { spawn } = await import('node:child_process');
  const c = spawn('script', ['-qc', `${process.execPath} ${CLIENT_CLI} wallet create --wallet ${w}`, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: join(dir, 'home'), TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((r) => c.on('exit', r)); // attached at once: the child may exit before we look
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const waitFor = async (re: RegExp): Promise<void> => {
    for (let i = 0; i < 600 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, re);
  };
  await waitFor(/new wallet password: /);
  c.stdin.write('tty-secret\r');
  await waitFor(/repeat password: /);
  c.stdin.write('tty-secret\r');
  await waitFor(/address [0-9a-f]{64}/);
  c.stdin.end();
  await exited;
  assert.ok(!out.includes('tty-secret'), `the password was echoed: ${JSON.stringify(out)}`);
  const unlocked = cli(CLIENT_CLI, ['channels', 'close', '--all', '--wallet', w, '--chain-rpc', 'http://127.0.0.1:1', '--json'], { TOPVPN_WALLET_PASSWORD: 'tty-secret' });
  assert.equal(only(unlocked, 'error').error, 'ChainUnreachableError', 'the prompted password unlocks the wallet (the chain is what fails)');
});
