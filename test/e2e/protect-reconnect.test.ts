/**
 * End-to-end: `topvpn connect --reconnect` survives kill -9 of any relay of its circuit
 * (needs root). Five relays are known to the client (two of them exits):
 *
 *   client ══▶ entry ══▶ middle1 ══▶ exit ──▶ inet          (the path at connect)
 *              middle2 (spare)   middle3 (spare exit)
 *
 * While a ping stream (every 50 ms) and a plain TCP echo connection run from the client to
 * inet, one relay of the path is killed with SIGKILL. The client notices the silence
 * (liveness probes), marks the relay dead, builds a circuit that avoids it (a spare takes
 * its place) and carries traffic again. With the same exit (dead middle or entry) it presents
 * the exit's resumption token and keeps its inner address, so the TCP connection survives.
 * The gap (kill → first ping reply on the new circuit) is printed for each case.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distBin } from '../../common/paths.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, startRelay, type RelayNode, type UpEvent } from '../../deploy/topvpn.js';
import { INET_IP } from '../../deploy/topology.js';
import { httpGet, inetUrl, netnsUnavailable, parseJsonObject, type Proc, Testnet } from '../helpers/netns.js';
import { sleep } from '../helpers/wait.js';

const PREFIX = 'tn7r';
const ECHO_PORT = 7000;

/** Receive times (epoch s) of ping replies, from `ping -D` lines. */
function replyTimes(lines: readonly string[]): number[] {
  const out: number[] = [];
  for (const l of lines) {
    const m = /^\[(\d+\.\d+)\].*icmp_seq=\d+/.exec(l);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

const ECHO_SERVER = `import net from 'node:net';
let conns = 0;
net.createServer((s) => {
  conns++;
  console.log(JSON.stringify({ event: 'conn', conns, from: s.remoteAddress + ':' + s.remotePort }));
  s.on('error', () => {});
  s.pipe(s);
}).listen(Number(process.argv[2]), '0.0.0.0', () => console.log(JSON.stringify({ event: 'listening' })));
`;

/** Sends a numbered line every 100 ms for argv[4] s on ONE connection; prints every echo, then 'done' (or 'closed'). */
const ECHO_CLIENT = `import net from 'node:net';
const [host, port, secs] = process.argv.slice(2);
const s = net.connect({ host, port: Number(port) });
s.setNoDelay(true);
let sent = 0, got = 0, buf = '', finish;
const end = () => { console.log(JSON.stringify({ event: 'done', sent, got, localPort: s.localPort })); s.destroy(); process.exit(0); };
s.on('connect', () => {
  console.log(JSON.stringify({ event: 'connected', localAddress: s.localAddress, localPort: s.localPort }));
  const iv = setInterval(() => s.write(String(++sent) + '\\n'), 100);
  setTimeout(() => { clearInterval(iv); if (got >= sent) end(); else { finish = end; setTimeout(end, 20000); } }, Number(secs) * 1000);
});
s.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const n = Number(buf.slice(0, i));
    buf = buf.slice(i + 1);
    got++;
    console.log(JSON.stringify({ event: 'echo', n, t: Date.now() / 1000 }));
    if (finish && got >= sent) finish();
  }
});
s.on('error', (e) => console.log(JSON.stringify({ event: 'error', message: e.message })));
s.on('close', () => { console.log(JSON.stringify({ event: 'closed', sent, got })); process.exit(3); });
`;

describe('protect: reconnect around a dead relay (network namespaces)', { timeout: 180_000 }, () => {
  let net: Testnet;
  /** entry, middle1, middle2, middle3 (an exit), exit */
  let relays: RelayNode[];
  let echoServer: Proc;
  let echoClientScript: string;
  const serverConns: number[] = [];

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 5 });
    relays = await Promise.all(net.relays.map((h, i) => startRelay(net, h, { exit: i >= 3 })));
    const serverScript = join(net.dir, 'echo-server.mjs');
    echoClientScript = join(net.dir, 'echo-client.mjs');
    writeFileSync(serverScript, ECHO_SERVER);
    writeFileSync(echoClientScript, ECHO_CLIENT);
    echoServer = net.spawn(net.inet, [process.execPath, serverScript, String(ECHO_PORT)], { label: 'inet:echo' });
    echoServer.onLine((l) => {
      const o = parseJsonObject(l);
      if (o?.['event'] === 'conn') serverConns.push(Number(o['conns']));
    });
    await echoServer.waitForEvent('listening', 10_000);
  });

  after(async () => {
    await net?.teardown();
  });

  /** The five relays as a --relays file (entry first, the configured exit last; exits marked). */
  function relayList(): string {
    const [entry, m1, m2, m3, exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
    const file = join(net.dir, 'relays-5.json');
    writeFileSync(file, JSON.stringify([entry, m1, m2, m3, exit].map((r) => ({ endpoint: r.endpoint, publicKey: r.publicKey, exit: r.exit }))));
    return file;
  }

  /** Restarts a relay killed by an earlier case (same key, same role). */
  async function revive(i: number): Promise<void> {
    const r = relays[i]!;
    if (r.proc.running) return;
    relays[i] = await startRelay(net, r.host, { exit: r.exit, key: { file: r.keyFile, publicKey: r.publicKey } });
  }

  /**
   * Connects through entry, middle1, exit; kills relay `victim` under ping and TCP traffic;
   * checks the new path and returns what the client reported.
   */
  async function killAndResume(victim: RelayNode, label: string, expectPath: RelayNode[], expectExit: RelayNode): Promise<{ reconnected: Record<string, unknown>; echo: { sent: number; got: number; closed: boolean } }> {
    const control = join(net.dir, 'client.sock');
    const proc = net.spawn(
      net.client,
      [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', relayList(), '--hops', '3', '--control', control, '--tun', CLIENT_TUN, '--reconnect', '--json'],
      { label: 'client:connect' },
    );
    try {
      const up = (await proc.waitForEvent('up', 30_000)) as UpEvent;
      const session = new ClientSession(net, proc, up, control, CLIENT_TUN);
      const [entry, m1, , , exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
      const path0 = (await session.status())['path'] as Array<{ endpoint: string }>;
      assert.deepEqual(path0.map((p) => p.endpoint), [entry.endpoint, m1.endpoint, exit.endpoint]);

      const pingLines: string[] = [];
      const ping = net.spawn(net.client, ['ping', '-D', '-n', '-i', '0.05', '-W', '1', '-w', '25', INET_IP], { label: 'client:ping' });
      ping.onLine((l, s) => {
        if (s === 'stdout') pingLines.push(l);
      });
      const echoLines: Array<Record<string, unknown>> = [];
      const echo = net.spawn(net.client, [process.execPath, echoClientScript, INET_IP, String(ECHO_PORT), '12'], { label: 'client:echo' });
      echo.onLine((l, s) => {
        const o = s === 'stdout' ? parseJsonObject(l) : undefined;
        if (o) echoLines.push(o);
      });
      const connsBefore = serverConns.length;
      await echo.waitForEvent('connected', 10_000);
      await ping.waitForLine((l) => (/icmp_seq=\d+/.test(l) ? true : undefined), { timeoutMs: 10_000 });
      await sleep(1_500);
      assert.ok(replyTimes(pingLines).length >= 10, 'ping replies before the kill');

      const killedAt = Date.now() / 1000;
      victim.proc.signal('SIGKILL');
      assert.equal((await victim.proc.exited).signal, 'SIGKILL');
      const reconnecting = await proc.waitForEvent('reconnecting', 15_000);
      assert.equal(reconnecting['reason'], 'unresponsive');
      const reconnected = await proc.waitForEvent('reconnected', 30_000);

      let firstAfter: number | undefined;
      for (let i = 0; i < 100 && firstAfter === undefined; i++) {
        const t = replyTimes(pingLines);
        for (let j = 1; j < t.length && firstAfter === undefined; j++) if (t[j]! > killedAt && t[j]! - t[j - 1]! > 0.2) firstAfter = t[j]!;
        if (firstAfter === undefined) await sleep(100);
      }
      assert.ok(firstAfter !== undefined, `ping replies resumed after the kill (reconnected: ${JSON.stringify(reconnected)})`);
      const gapMs = Math.round((firstAfter - killedAt) * 1000);

      const path1 = (await session.status())['path'] as Array<{ endpoint: string }>;
      assert.deepEqual(path1.map((p) => p.endpoint), expectPath.map((r) => r.endpoint), `${label}: the new path avoids the dead relay`);
      assert.equal((JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string }).remote, expectExit.host.ip, 'HTTP flows on the new circuit');

      const end = await echo.waitForLine((l) => {
        const o = parseJsonObject(l);
        return o && (o['event'] === 'done' || o['event'] === 'closed') ? o : undefined;
      }, { timeoutMs: 40_000 });
      const echoes = echoLines.filter((o) => o['event'] === 'echo');
      const times = echoes.map((o) => Number(o['t']));
      let stall = 0;
      for (let i = 1; i < times.length; i++) stall = Math.max(stall, times[i]! - times[i - 1]!);
      process.stdout.write(
        `# ${label}: gap (kill -9 → first ping reply on the new circuit) ${gapMs} ms; new circuit built in ${String(reconnected['buildMs'])} ms; ` +
          `address resumed: ${String(reconnected['resumed'])}; TCP echo: ${String(end['event'])}, ${String(end['got'])}/${String(end['sent'])} echoed, longest stall ${Math.round(stall * 1000)} ms, server connections ${serverConns.length - connsBefore}\n`,
      );
      ping.signal('SIGINT');
      await ping.exited;
      const { result, exit: st } = await session.disconnect();
      assert.equal(result.code, 0, `disconnect: ${result.stderr.slice(0, 300)}`);
      assert.equal(st.code, 0);
      return {
        reconnected,
        echo: { sent: Number(end['sent']), got: Number(end['got']), closed: end['event'] === 'closed' || echoLines.some((o) => o['event'] === 'error') },
      };
    } finally {
      if (proc.running) proc.signal('SIGKILL');
      await proc.exited;
    }
  }

  test('kill -9 of the middle: a spare middle replaces it, same address, the TCP connection survives', async () => {
    const [entry, m1, m2, , exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
    const n0 = serverConns.length;
    const r = await killAndResume(m1, 'dead middle', [entry, m2, exit], exit);
    assert.equal(r.reconnected['resumed'], true, 'the exit gave the same inner address back');
    assert.equal(r.echo.closed, false, 'the TCP connection was never reset');
    assert.ok(r.echo.sent > 50, `lines sent ${r.echo.sent}`);
    assert.equal(r.echo.got, r.echo.sent, 'every line echoed, on the one connection');
    assert.equal(serverConns.length - n0, 1, 'the server saw one connection only');
  });

  test('kill -9 of the entry: a circuit through another entry, same exit and address', async () => {
    await revive(1);
    const [entry, m1, m2, , exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
    const r = await killAndResume(entry, 'dead entry', [m2, m1, exit], exit);
    assert.equal(r.reconnected['entry'], m2.endpoint);
    assert.equal(r.reconnected['resumed'], true);
    assert.equal(r.echo.closed, false, 'the TCP connection survived the new entry too');
    assert.equal(r.echo.got, r.echo.sent);
  });

  test('kill -9 of the exit: the spare exit replaces it', async () => {
    await revive(0);
    const [entry, m1, , m3, exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
    const r = await killAndResume(exit, 'dead exit', [entry, m1, m3], m3);
    assert.equal(r.reconnected['resumed'], false, 'a new exit cannot resume the old address');
  });
});
