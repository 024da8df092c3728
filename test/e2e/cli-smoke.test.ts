/**
 * Netns smoke test of the built binaries (run under `flock /tmp/topvpn-heavy.lock`):
 *
 *   tva-c-PID (client)  198.18.61.2 ── 198.18.61.1  tva-r-PID (relay, exit)  198.18.62.1 ── 198.18.62.2  tva-s-PID (server)
 *
 * One relay as exit (1 hop). The client's traffic to the server goes through the tunnel and
 * leaves the exit masqueraded; routes and the namespace's private resolv.conf are checked
 * before, during and after, including recovery after the client is killed with -9.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCommand } from '../../relay/system.js';
import { CLIENT_CLI, Daemon, killAll, RELAY_CLI, runCli } from './cli-util.js';

const pid = process.pid;
const NS = { c: `tva-c-${pid}`, r: `tva-r-${pid}`, s: `tva-s-${pid}` };
const ETC = join('/etc/netns', NS.c);
const ORIGINAL_RESOLV = 'nameserver 198.18.61.53\n';
const SERVER = '198.18.62.2';
const BIG = 2 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'tva-smoke-'));
const ctl = join(dir, 'client.sock');
let pub = '';
let relay: Daemon;
let relayArgs: string[] = [];
let server: Daemon;
let hostResolv = '';

const inNs = (ns: string, argv: string[]): string => runCommand(['ip', 'netns', 'exec', ns, ...argv]);
const clientRoutes = (): string => runCommand(['ip', '-n', NS.c, 'route', 'show']);
const clientResolv = (): string => inNs(NS.c, ['cat', '/etc/resolv.conf']);

function curl(path: string, maxSeconds = 8): { code: number; body: string } {
  try {
    return { code: 0, body: inNs(NS.c, ['curl', '-sS', '-m', String(maxSeconds), `http://${SERVER}:8080${path}`]) };
  } catch (err) {
    return { code: (err as { status?: number }).status ?? -1, body: '' };
  }
}

const SERVER_JS = `
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';
const big = Buffer.alloc(${BIG});
for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 255;
createServer((req, res) => {
  if (req.url === '/big') { res.end(big); return; }
  res.end('hello from ' + req.socket.remoteAddress + '\\n');
}).listen(8080, '${SERVER}', () => console.log(JSON.stringify({ event: 'listening' })));
const u = createSocket('udp4');
u.on('message', (m, r) => u.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
u.bind(7007, '${SERVER}');
`;

before(() => {
  hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
  for (const ns of Object.values(NS)) {
    runCommand(['ip', 'netns', 'add', ns]);
    runCommand(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const sh = (line: string): string => runCommand(line.split(' '));
  sh(`ip link add tvac0 netns ${NS.c} type veth peer name tvar0 netns ${NS.r}`);
  sh(`ip link add tvar1 netns ${NS.r} type veth peer name tvas0 netns ${NS.s}`);
  sh(`ip -n ${NS.c} addr add 198.18.61.2/24 dev tvac0`);
  sh(`ip -n ${NS.c} link set tvac0 up`);
  sh(`ip -n ${NS.c} route add default via 198.18.61.1`);
  sh(`ip -n ${NS.r} addr add 198.18.61.1/24 dev tvar0`);
  sh(`ip -n ${NS.r} link set tvar0 up`);
  sh(`ip -n ${NS.r} addr add 198.18.62.1/24 dev tvar1`);
  sh(`ip -n ${NS.r} link set tvar1 up`);
  sh(`ip -n ${NS.s} addr add ${SERVER}/24 dev tvas0`);
  sh(`ip -n ${NS.s} link set tvas0 up`);
  // The server has no route back to the client pool: replies only work through the exit's NAT.
  mkdirSync(ETC, { recursive: true });
  writeFileSync(join(ETC, 'resolv.conf'), ORIGINAL_RESOLV);
  writeFileSync(join(dir, 'server.mjs'), SERVER_JS);
});

after(() => {
  killAll();
  for (const ns of Object.values(NS)) {
    try {
      runCommand(['ip', 'netns', 'del', ns]);
    } catch {
      /* already gone */
    }
  }
  rmSync(ETC, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv, 'the host resolver was never touched');
});

test('the exit relay comes up with its TUN and nft table', async () => {
  const key = join(dir, 'relay.key');
  const k = runCli(RELAY_CLI, ['keygen', '--out', key, '--json']);
  assert.equal(k.status, 0, k.stderr);
  pub = String(k.json[0]!.publicKey);
  server = new Daemon(join(dir, 'server.mjs'), [], { netns: NS.s });
  await server.waitEvent('listening');
  relayArgs = ['start', '--listen', '198.18.61.1:51820', '--key', key, '--exit', '--exit-pool', '198.19.61.0/24', '--exit-allow', '198.18.0.0/15', '--egress', 'tvar1', '--dns', SERVER, '--tun', 'tvx0', '--json'];
  relay = new Daemon(RELAY_CLI, relayArgs, { netns: NS.r });
  const ev = await relay.waitEvent('listening');
  assert.equal(ev.exit, true);
  assert.equal(ev.publicKey, pub);
  assert.equal(ev.address, '198.19.61.1');
  assert.equal(ev.pool, '198.19.61.0/24');
  assert.equal(ev.mtu, 1439);
  assert.match(runCommand(['ip', '-n', NS.r, 'addr', 'show', 'tvx0']), /inet 198\.19\.61\.1\/24/);
  assert.match(inNs(NS.r, ['nft', 'list', 'table', 'ip', 'topvpn_exit']), /oifname "tvar1" .*masquerade/);
  assert.equal(inNs(NS.r, ['sysctl', '-n', 'net.ipv4.ip_forward']).trim(), '1');
});

test('connect (1 hop): routes, DNS and traffic through the tunnel; status; disconnect restores', async () => {
  const routesBefore = clientRoutes();
  assert.equal(curl('/', 2).code, 28, 'without the tunnel the server is unreachable (it has no route back)');
  const client = new Daemon(CLIENT_CLI, ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', ctl, '--json'], { netns: NS.c });
  const up = await client.waitEvent('up');
  assert.ok(client.events.some((e) => e.event === 'progress' && e.phase === 'exit'));
  assert.match(String(up.address), /^198\.19\.61\.\d+$/);
  assert.notEqual(up.address, '198.19.61.1');
  assert.equal(up.hops, 1);
  assert.equal(up.mtu, 1439);
  assert.ok(Number(up.buildMs) > 0);
  assert.deepEqual(up.dns, [SERVER]);
  // The entry is on the client's LAN (198.18.61.0/24): 0/1 + 128/1 via the TUN leave it direct.
  assert.equal(up.routes, 'def1');
  const routes = clientRoutes();
  assert.match(routes, /^0\.0\.0\.0\/1 dev tvpn0/m);
  assert.match(routes, /^128\.0\.0\.0\/1 dev tvpn0/m);
  assert.match(routes, /^default via 198\.18\.61\.1 dev tvac0/m);
  assert.match(inNs(NS.c, ['ip', 'route', 'get', '198.18.61.1']), /dev tvac0/);
  assert.match(inNs(NS.c, ['ip', 'route', 'get', SERVER]), /dev tvpn0/);
  assert.match(clientResolv(), new RegExp(`^nameserver ${SERVER.replace(/\./g, '\\.')}$`, 'm'));

  const hello = curl('/');
  assert.equal(hello.code, 0);
  assert.equal(hello.body, 'hello from 198.18.62.1\n', 'the exit masqueraded the client');
  const big = inNs(NS.c, ['sh', '-c', `curl -sS -m 30 http://${SERVER}:8080/big | sha256sum`]).split(' ')[0];
  const expect = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i++) expect[i] = (i * 7 + (i >> 11)) & 255;
  assert.equal(big, createHash('sha256').update(expect).digest('hex'));
  const echo = inNs(NS.c, [process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(m.toString());process.exit(0)});s.send('ping-udp',7007,'${SERVER}');setTimeout(()=>process.exit(3),5000)`]);
  assert.equal(echo.trim(), 'echo:ping-udp');

  // A second client on the same control socket refuses to start and touches nothing.
  const dup = runCli(CLIENT_CLI, ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', ctl, '--tun', 'tvpn1', '--json'], { netns: NS.c });
  assert.equal(dup.status, 1, dup.stderr);
  assert.match(String(dup.json.find((x) => x.event === 'error')?.message), /already running/);
  assert.equal(clientRoutes(), routes);
  assert.match(clientResolv(), new RegExp(`^nameserver ${SERVER.replace(/\./g, '\\.')}$`, 'm'));

  const rs = runCli(CLIENT_CLI, ['reset', '--control', ctl, '--json'], { netns: NS.c });
  assert.equal(rs.status, 1, 'reset refuses while a client runs');
  assert.match(String(rs.json.find((x) => x.event === 'error')?.message), /a client is running/);

  const st = runCli(CLIENT_CLI, ['status', '--control', ctl, '--json'], { netns: NS.c });
  assert.equal(st.status, 0, st.stderr);
  const s = st.json[0]!;
  assert.equal(s.state, 'up');
  assert.equal(s.hops, 1);
  assert.equal(s.address, up.address);
  assert.ok(Number(s.bytesIn) >= BIG, `bytesIn ${s.bytesIn}`);
  assert.ok(Number(s.bytesOut) > 0);
  assert.ok(Number(s.uptimeMs) > 0);
  assert.equal(s.buildMs, up.buildMs);
  assert.deepEqual((s.path as Array<{ endpoint: string }>).map((p) => p.endpoint), ['198.18.61.1:51820']);
  assert.ok(typeof (s.drops as Record<string, number>).tunWrite === 'number');
  const human = runCli(CLIENT_CLI, ['status', '--control', ctl], { netns: NS.c });
  assert.equal(human.status, 0);
  assert.match(human.stdout, /state: +up 198\.19\.61\.\d+ on tvpn0/);

  const d = runCli(CLIENT_CLI, ['disconnect', '--control', ctl, '--json'], { netns: NS.c });
  assert.equal(d.status, 0, d.stderr);
  assert.equal(d.json[0]!.event, 'disconnected');
  assert.equal(await client.exited, 0);
  assert.ok(client.events.some((e) => e.event === 'down'));
  assert.equal(clientRoutes(), routesBefore);
  assert.equal(clientResolv(), ORIGINAL_RESOLV);
  assert.match(runCommand(['ip', '-n', NS.c, 'link']), /tvac0/);
  assert.doesNotMatch(runCommand(['ip', '-n', NS.c, 'link']), /tvpn0/);
});

test('after kill -9 the next connect restores the stale DNS backup and routes; SIGTERM restores too', async () => {
  const routesBefore = clientRoutes();
  const args = ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', ctl, '--json'];
  const first = new Daemon(CLIENT_CLI, args, { netns: NS.c });
  await first.waitEvent('up');
  first.signal('SIGKILL');
  await first.exited;
  assert.match(clientResolv(), /nameserver 198\.18\.62\.2/, 'a crash leaves the resolver changed');
  assert.equal(clientRoutes(), routesBefore, 'but no route: they all went with the TUN');
  const second = new Daemon(CLIENT_CLI, args, { netns: NS.c });
  await second.waitEvent('up');
  assert.equal(curl('/').body, 'hello from 198.18.62.1\n');
  second.signal('SIGTERM');
  assert.equal(await second.exited, 0);
  assert.equal(clientResolv(), ORIGINAL_RESOLV);
  assert.equal(clientRoutes(), routesBefore);
});

test('--kill-switch: only the tunnel and the entry flow pass; it stays after kill -9 (fail closed) until `reset`', async () => {
  const routesBefore = clientRoutes();
  const direct = (): string => {
    // TCP to the relay's address on a closed port goes direct (pinned route), outside the tunnel:
    // ECONNREFUSED when it gets there, EPERM when the local kill switch drops it.
    const js = "const s=require('net').connect(9,'198.18.61.1');s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(0)},3000)";
    return inNs(NS.c, [process.execPath, '-e', js]).trim();
  };
  assert.equal(direct(), 'ECONNREFUSED', 'without a kill switch the relay host answers with a reset');
  const args = ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', ctl, '--kill-switch', '--json'];
  const c = new Daemon(CLIENT_CLI, args, { netns: NS.c });
  try {
    const up = await c.waitEvent('up');
    assert.equal(up.killSwitch, true);
    assert.match(inNs(NS.c, ['nft', 'list', 'table', 'inet', 'topvpn_killswitch']), /policy drop/);
    assert.equal(curl('/').body, 'hello from 198.18.62.1\n', 'the tunnel still works');
    assert.ok(['EPERM', 'timeout'].includes(direct()), 'direct traffic is dropped locally');
  } finally {
    c.signal('SIGKILL');
    await c.exited;
  }
  // Fail closed: the TUN and its routes are gone, the kill switch is not.
  assert.doesNotMatch(runCommand(['ip', '-n', NS.c, 'link']), /tvpn0/);
  assert.notEqual(curl('/', 2).code, 0);
  const r = runCli(CLIENT_CLI, ['reset', '--control', ctl, '--json'], { netns: NS.c });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.json[0], { event: 'reset', dnsRestored: true, staleRoutes: 2, killSwitchRemoved: true });
  assert.doesNotMatch(inNs(NS.c, ['nft', 'list', 'tables']), /topvpn_killswitch/);
  assert.equal(clientRoutes(), routesBefore);
  assert.equal(clientResolv(), ORIGINAL_RESOLV);
  assert.equal(direct(), 'ECONNREFUSED');
});

test('in a namespace without its own resolv.conf, connect --dns refuses (exit 2) instead of changing the host resolver', () => {
  const r = runCli(CLIENT_CLI, ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', join(dir, 'r.sock'), '--dns', '198.18.62.2', '--json'], { netns: NS.r });
  assert.equal(r.status, 2, r.stderr);
  const e = r.json.find((x) => x.event === 'error')!;
  assert.equal(e.error, 'DnsSafetyError');
  assert.match(String(e.message), new RegExp(`network namespace ${NS.r}`));
  assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv);
  assert.doesNotMatch(runCommand(['ip', '-n', NS.r, 'link']), /tvpn0/);
});

test('a relay that does not answer: connect fails with exit 1 and leaves routes and DNS as they were', async () => {
  const routesBefore = clientRoutes();
  const r = runCli(CLIENT_CLI, ['connect', '--relays', `198.18.61.1:51999@${pub}`, '--hops', '1', '--control', join(dir, 'noanswer.sock'), '--json'], { netns: NS.c, timeoutMs: 30_000 });
  assert.equal(r.status, 1, r.stderr);
  const e = r.json.find((x) => x.event === 'error')!;
  assert.equal(e.error, 'CircuitBuildError');
  assert.match(String(e.message), /hop 0: timeout/);
  assert.equal(clientRoutes(), routesBefore);
  assert.equal(clientResolv(), ORIGINAL_RESOLV);
});

test('an exit relay killed with -9 restarts cleanly over its leftover nft table', async () => {
  relay.signal('SIGKILL');
  await relay.exited;
  assert.match(inNs(NS.r, ['nft', 'list', 'tables']), /topvpn_exit/, 'kill -9 leaves the table');
  assert.doesNotMatch(runCommand(['ip', '-n', NS.r, 'link']), /tvx0/, 'the TUN dies with the process');
  relay = new Daemon(RELAY_CLI, relayArgs, { netns: NS.r });
  await relay.waitEvent('listening');
  assert.equal(inNs(NS.r, ['nft', 'list', 'table', 'ip', 'topvpn_exit']).match(/masquerade/g)?.length, 1);
  const c = new Daemon(CLIENT_CLI, ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', ctl, '--json'], { netns: NS.c });
  try {
    await c.waitEvent('up');
    assert.equal(curl('/').body, 'hello from 198.18.62.1\n');
  } finally {
    c.signal('SIGTERM');
    assert.equal(await c.exited, 0);
  }
});

test('--reconnect: the client survives a relay restart (routes and DNS stay, the circuit is rebuilt)', async () => {
  const c = new Daemon(CLIENT_CLI, ['connect', '--relays', `198.18.61.1:51820@${pub}`, '--hops', '1', '--control', ctl, '--reconnect', '--json'], { netns: NS.c });
  try {
    const first = await c.waitEvent('up');
    const routesUp = clientRoutes();
    relay.signal('SIGTERM');
    assert.equal(await relay.exited, 0);
    await c.waitEvent('reconnecting');
    assert.equal(clientRoutes(), routesUp, 'routes stay while reconnecting');
    assert.match(clientResolv(), /nameserver 198\.18\.62\.2/);
    relay = new Daemon(RELAY_CLI, relayArgs, { netns: NS.r });
    await relay.waitEvent('listening');
    const again = await c.waitEvent('reconnected', 15_000);
    assert.match(String(again.address), /^198\.19\.61\.\d+$/);
    const inet = [...runCommand(['ip', '-n', NS.c, '-4', 'addr', 'show', 'tvpn0']).matchAll(/inet (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(inet, [`${String(again.address)}/24`], 'the TUN carries exactly the new address');
    assert.equal(clientRoutes(), routesUp.replace(/src 198\.19\.61\.\d+/, `src ${String(again.address)}`), 'and the same routes');
    assert.equal(curl('/').body, 'hello from 198.18.62.1\n');
    const st = runCli(CLIENT_CLI, ['status', '--control', ctl, '--json'], { netns: NS.c });
    assert.equal(st.json[0]!.reconnects, 1);
    assert.equal(st.json[0]!.address, again.address);
    // The restarted exit's pool starts afresh: the client is usually re-addressed (.3 → .2).
    process.stderr.write(`# reconnect: address ${String(first.address)} -> ${String(again.address)}\n`);
  } finally {
    c.signal('SIGTERM');
    assert.equal(await c.exited, 0);
  }
  assert.equal(clientResolv(), ORIGINAL_RESOLV);
});

test('the relay stops on SIGTERM (exit 0) and removes its TUN and nft table', async () => {
  relay.signal('SIGTERM');
  assert.equal(await relay.exited, 0);
  assert.doesNotMatch(inNs(NS.r, ['nft', 'list', 'tables']), /topvpn_exit/);
  assert.doesNotMatch(runCommand(['ip', '-n', NS.r, 'link']), /tvx0/);
  server.signal('SIGTERM');
  await server.exited;
});
