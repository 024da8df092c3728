/**
 * ClientDaemon --reconnect around a dead entry and a dead exit, without touching the system:
 * relays are RelayEngines on loopback UDP sockets (127.0.0.1 .. 127.0.0.4) that can be made
 * silent; a CommandRunner emulates `ip route get` from the routes the daemon added (so the
 * complement of the entry really covers every other relay), and records nft and ip calls.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ClientDaemon, type ClientEvent } from '../../../client/daemon.js';
import { complementOf } from '../../../client/routes.js';
import type { RelaySpec } from '../../../client/relay-list.js';
import { SystemClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { cidrContains, parseCidr4, parseIpv4 } from '../../../protocol/ipv4.js';
import { RelayEngine } from '../../../relay/engine.js';
import { parseExitPolicy } from '../../../relay/exit-policy.js';
import { generateKeyPair } from '../../../relay/keys.js';
import { MemoryTun } from '../../../tun/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'tn7-repath-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface TestRelay {
  spec: RelaySpec;
  engine: RelayEngine;
  written: Buffer[];
  muted: boolean;
  close(): Promise<void>;
}

/** A relay on `host` (an exit with `pool`) that drops everything while `muted`. */
async function relay(host: string, pool?: string, exitFlag?: boolean, dns?: string): Promise<TestRelay> {
  const key = generateKeyPair();
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, host, () => r()));
  const written: Buffer[] = [];
  const t: TestRelay = {
    spec: { endpoint: { host, port: sock.address().port }, publicKey: key.publicKey, ...(exitFlag !== undefined ? { exit: exitFlag } : {}) },
    engine: new RelayEngine({
      clock: new SystemClock(),
      log: silentLogger(),
      identity: { staticSecret: key.secretKey, staticPublic: key.publicKey },
      send: (to, p) => {
        if (!t.muted) sock.send(p, to.port, to.host);
      },
      ...(pool ? { exit: { write: (ps: Buffer[]) => written.push(...ps), policy: parseExitPolicy(['accept 198.18.0.0/15:*', 'reject *:*']), pool, ...(dns ? { dns } : {}) } } : {}),
    }),
    written,
    muted: false,
    close: async () => {
      t.engine.stop();
      await new Promise<void>((r) => sock.close(() => r()));
    },
  };
  sock.on('message', (m, from) => {
    if (!t.muted) t.engine.onDatagram(m, { host: from.address, port: from.port });
  });
  t.engine.start();
  return t;
}

/** ip/nft/sysctl stand-in: `ip -j route get` answers from the routes added so far. */
function system(tun: string): { calls: string[]; run: (argv: string[], input?: string) => string } {
  const routes = new Set<string>();
  const calls: string[] = [];
  return {
    calls,
    run: (argv, input) => {
      const c = argv.join(' ');
      calls.push(c + (input ? `\n${input}` : ''));
      if (c.startsWith('ip route add ') && argv[4] === 'dev') routes.add(argv[3]!);
      if (c.startsWith('ip route del ')) routes.delete(argv[3]!);
      if (c.startsWith('ip -j route get')) {
        const ip = parseIpv4(argv[4]!);
        const viaTun = [...routes].some((r) => cidrContains(parseCidr4(r), ip));
        return JSON.stringify([viaTun ? { dst: argv[4], dev: tun } : { dst: argv[4], gateway: '10.9.9.1', dev: 'eth9' }]);
      }
      if (c.startsWith('ip -j route show match')) return JSON.stringify([{ dst: 'default', gateway: '10.9.9.1', dev: 'eth9' }]);
      return '';
    },
  };
}

async function until(cond: () => boolean, what: string, ms = 8_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function udp(src: string, dst: string, payload: string): Buffer {
  const body = Buffer.from(payload);
  const p = Buffer.alloc(28 + body.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(53, 22);
  p.writeUInt16BE(8 + body.length, 24);
  body.copy(p, 28);
  return p;
}

test('a dead entry, then a dead exit, are replaced from the relay list; kill switch, routes and address follow', async () => {
  const a = await relay('127.0.0.1');
  const b = await relay('127.0.0.2');
  const x = await relay('127.0.0.3', '198.19.7.0/24', true, '198.19.7.1');
  const y = await relay('127.0.0.4', '198.19.9.0/24', true, '198.19.9.1');
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 10.255.255.53\n');
  const sys = system('tvpn8');
  const events: ClientEvent[] = [];
  let tun: MemoryTun | undefined;
  const client = new ClientDaemon({
    path: [a.spec, x.spec],
    spares: [b.spec, y.spec],
    tunName: 'tvpn8',
    controlPath: join(dir, 'ctl', 'client.sock'),
    stateDir: join(dir, 'state'),
    dns: 'auto',
    resolvConf,
    resolvConfExplicit: true,
    killSwitch: true,
    reconnect: true,
    log: silentLogger(),
    run: sys.run,
    openTun: (o) => (tun = new MemoryTun(o)),
    onEvent: (e) => events.push(e),
  });
  // Keeps traffic flowing (liveness only judges a circuit that is sent to).
  let pump: NodeJS.Timeout | undefined;
  try {
    const up = await client.connect();
    assert.equal(up.routes, 'exclude-entry');
    assert.match(readFileSync(resolvConf, 'utf8'), /nameserver 198\.19\.7\.1\n$/, 'the first exit\'s resolver');
    const nft = (): string => sys.calls.filter((c) => c.startsWith('nft -f -')).at(-1) ?? '';
    assert.match(nft(), new RegExp(`ip daddr 127\\.0\\.0\\.1 udp dport ${a.spec.endpoint.port} accept`));
    assert.match(nft(), /arp daddr ip \{ 10\.9\.9\.1 \} accept/, 'ARP only for the gateway towards the entry');
    pump = setInterval(() => tun!.inject([udp(client.status().address!, '198.18.99.9', 'ping')]), 50);

    // The entry goes silent: B (the spare) becomes the entry; same exit, same address.
    a.muted = true;
    await until(() => events.some((e) => e.event === 'reconnected'), 'reconnected after the dead entry');
    const rc1 = events.find((e) => e.event === 'reconnecting')!;
    assert.deepEqual((rc1 as { replaced?: unknown }).replaced, { hop: 0, role: 'entry', from: `127.0.0.1:${a.spec.endpoint.port}`, to: `127.0.0.2:${b.spec.endpoint.port}` });
    const r1 = events.find((e) => e.event === 'reconnected') as Extract<ClientEvent, { event: 'reconnected' }>;
    assert.equal(r1.resumed, true);
    assert.equal(r1.address, up.address);
    assert.equal(r1.entry, `127.0.0.2:${b.spec.endpoint.port}`);
    assert.deepEqual(client.status().path.map((p) => p.endpoint), [`127.0.0.2:${b.spec.endpoint.port}`, `127.0.0.3:${x.spec.endpoint.port}`]);
    assert.match(nft(), new RegExp(`ip daddr 127\\.0\\.0\\.2 udp dport ${b.spec.endpoint.port} accept`), 'the kill switch follows the new entry');
    assert.doesNotMatch(nft(), /127\.0\.0\.1/);
    for (const r of complementOf('127.0.0.2')) assert.ok(sys.calls.includes(`ip route add ${r} dev tvpn8 metric 9999`), `route ${r}`);
    assert.ok(sys.calls.includes(`ip route del ${complementOf('127.0.0.1')[31]} dev tvpn8 metric 9999`), 'the old complement is gone');
    const n = x.written.length;
    await until(() => x.written.length > n, 'traffic at the exit through the new entry');
    assert.equal(x.written.at(-1)!.subarray(12, 16).join('.'), up.address, 'the exit accepts the resumed source address');

    // The exit goes silent: Y (the spare exit) replaces it; a new address from its pool.
    x.muted = true;
    await until(() => events.filter((e) => e.event === 'reconnected').length === 2, 'reconnected after the dead exit');
    const r2 = events.filter((e) => e.event === 'reconnected')[1] as Extract<ClientEvent, { event: 'reconnected' }>;
    assert.equal(r2.resumed, false);
    assert.match(r2.address, /^198\.19\.9\.\d+$/);
    assert.deepEqual(client.status().path.map((p) => p.endpoint), [`127.0.0.2:${b.spec.endpoint.port}`, `127.0.0.4:${y.spec.endpoint.port}`]);
    assert.ok(sys.calls.includes(`ip addr add ${r2.address}/24 dev tvpn8`), 'the TUN is re-addressed');
    await until(() => y.written.length > 0, 'traffic at the new exit');
    assert.match(readFileSync(resolvConf, 'utf8'), /nameserver 198\.19\.9\.1\n$/, 'the resolver follows the new exit');
    assert.doesNotMatch(readFileSync(resolvConf, 'utf8'), /198\.19\.7\.1/);
  } finally {
    clearInterval(pump);
    await client.disconnect('test');
    await client.done;
    assert.equal(readFileSync(resolvConf, 'utf8'), 'nameserver 10.255.255.53\n', 'the original resolver is back');
    for (const r of [a, b, x, y]) await r.close();
  }
});
