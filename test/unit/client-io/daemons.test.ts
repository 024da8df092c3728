/**
 * Wiring of both daemons without touching the system: a ClientDaemon and an exit
 * RelayDaemon talk real UDP over loopback, each with a MemoryTun, and a recording
 * CommandRunner stands in for ip/nft/sysctl. Checks the commands each daemon issues, that
 * IP packets cross the tunnel both ways byte for byte, status and the control socket, and
 * that disconnect/stop undo what start did.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { controlRequest } from '../../../client/control.js';
import { ClientDaemon, type ClientEvent } from '../../../client/daemon.js';
import { complementOf } from '../../../client/routes.js';
import { silentLogger } from '../../../common/log.js';
import { parseRelayStartFlags } from '../../../relay/config.js';
import { RelayDaemon } from '../../../relay/daemon.js';
import { generateKeyPair } from '../../../relay/keys.js';
import { readSysctl } from '../../../relay/system.js';
import { MemoryTun } from '../../../tun/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'tva-daemons-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function recorder(answers: (argv: string[]) => string | undefined = () => undefined): { calls: string[]; run: (argv: string[], input?: string) => string } {
  const calls: string[] = [];
  return {
    calls,
    run: (argv, input) => {
      calls.push(argv.join(' ') + (input ? `\n${input}` : ''));
      return answers(argv) ?? '';
    },
  };
}

function ip4(a: string): number[] {
  return a.split('.').map(Number);
}

/** A minimal IPv4/UDP packet (checksums zero: nothing here verifies them). */
function udpPacket(src: string, dst: string, sport: number, dport: number, payload: string): Buffer {
  const body = Buffer.from(payload);
  const p = Buffer.alloc(28 + body.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(ip4(src)).copy(p, 12);
  Buffer.from(ip4(dst)).copy(p, 16);
  p.writeUInt16BE(sport, 20);
  p.writeUInt16BE(dport, 22);
  p.writeUInt16BE(8 + body.length, 24);
  body.copy(p, 28);
  return p;
}

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('client and exit daemons: set-up commands, packets both ways, status, control disconnect, tear-down', async () => {
  const key = generateKeyPair();
  let relayTun: MemoryTun | undefined;
  const relayCmds = recorder();
  const cfg = parseRelayStartFlags({ listen: '127.0.0.1:0', key: 'unused', exit: true, exitPool: '198.19.7.0/24', exitAllow: '198.18.0.0/15', dns: '198.18.0.53', tun: 'tvx9', nftTable: 'tva_exit', statsInterval: '0', metrics: '127.0.0.1:0' });
  const relay = new RelayDaemon(cfg, key, {
    log: silentLogger(),
    run: relayCmds.run,
    openTun: (o) => (relayTun = new MemoryTun(o)),
  });
  const listening = await relay.start();
  assert.equal(listening.exit, true);
  assert.equal(listening.address, '198.19.7.1');
  assert.equal(relayTun!.mtu, 1439);
  assert.ok(relayCmds.calls.includes('ip addr add 198.19.7.1/24 dev tvx9'));
  assert.ok(relayCmds.calls.includes('ip link set dev tvx9 mtu 1439 up'));
  const nft = relayCmds.calls.find((c) => c.startsWith('nft -f -'));
  assert.ok(nft && /ip saddr 198\.19\.7\.0\/24 oifname != "tvx9" counter masquerade/.test(nft), nft);
  const forwardingWasOff = readSysctl('net.ipv4.ip_forward') !== '1';
  assert.equal(relayCmds.calls.includes('sysctl -q -w net.ipv4.ip_forward=1'), forwardingWasOff);

  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 10.0.0.53\n');
  let clientTun: MemoryTun | undefined;
  const clientCmds = recorder((argv) => {
    const c = argv.join(' ');
    if (c.startsWith('ip -j route get')) return JSON.stringify([{ dst: argv[4], gateway: '198.18.0.1', dev: 'eth9' }]);
    if (c.startsWith('ip -j route show match')) return JSON.stringify([{ dst: 'default', gateway: '198.18.0.1', dev: 'eth9' }]);
    return undefined;
  });
  const events: ClientEvent[] = [];
  const ctl = join(dir, 'ctl', 'client.sock');
  const client = new ClientDaemon({
    path: [{ endpoint: { host: '127.0.0.1', port: Number(listening.listen.split(':')[1]) }, publicKey: key.publicKey }],
    tunName: 'tvpn9',
    controlPath: ctl,
    stateDir: join(dir, 'state'),
    dns: 'auto',
    resolvConf: resolv,
    resolvConfExplicit: true,
    log: silentLogger(),
    run: clientCmds.run,
    openTun: (o) => (clientTun = new MemoryTun(o)),
    onEvent: (e) => events.push(e),
    metrics: { host: '127.0.0.1', port: 0 },
  });
  const up = await client.connect();
  assert.match(up.address, /^198\.19\.7\.\d+$/);
  assert.notEqual(up.address, '198.19.7.1');
  assert.equal(up.prefixLen, 24);
  assert.equal(up.mtu, 1439);
  assert.deepEqual(up.dns, ['198.18.0.53']);
  assert.ok(events.some((e) => e.event === 'progress' && e.phase === 'exit'));
  assert.equal(events.at(-1)?.event, 'up');
  // The entry (127.0.0.1) is reached by the default route here: its complement goes via the TUN.
  assert.equal(up.routes, 'exclude-entry');
  const complement = complementOf('127.0.0.1').map((p) => `${p} dev tvpn9 metric 9999`);
  assert.deepEqual(
    clientCmds.calls.filter((c) => /^ip (addr|link|route) /.test(c)),
    [`ip addr add ${up.address}/24 dev tvpn9`, 'ip link set dev tvpn9 mtu 1439 up', ...complement.map((r) => `ip route add ${r}`)],
  );
  assert.equal(readFileSync(resolv, 'utf8').includes('nameserver 198.18.0.53'), true);

  // Client → exit.
  const out = udpPacket(up.address, '198.18.99.9', 40000, 53, 'question');
  clientTun!.inject([out]);
  await until(() => relayTun!.written.length > 0, 'packet at the exit TUN');
  assert.deepEqual(relayTun!.written[0], out);
  // Exit → client.
  const back = udpPacket('198.18.99.9', up.address, 53, 40000, 'answer!');
  relayTun!.inject([back]);
  await until(() => clientTun!.written.length > 0, 'packet at the client TUN');
  assert.deepEqual(clientTun!.written[0], back);

  // Both daemons' Prometheus endpoints reflect the traffic at scrape time.
  assert.match(String(listening.metrics), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const relayText = await (await fetch(String(listening.metrics))).text();
  assert.match(relayText, /^topvpn_relay_exit_packets_total\{direction="to_internet"\} 1$/m);
  assert.match(relayText, /^topvpn_relay_exit_packets_total\{direction="from_internet"\} 1$/m);
  assert.match(relayText, /^topvpn_relay_circuits_active 1$/m);
  const clientText = await (await fetch(String(up.metrics))).text();
  assert.match(clientText, /^topvpn_client_circuits_built_total 1$/m);
  assert.match(clientText, /^topvpn_client_circuit_hops 1$/m);
  assert.match(clientText, /^topvpn_client_circuit_build_seconds_count 1$/m);

  const st = await controlRequest(ctl, { cmd: 'status' });
  assert.equal(st.ok, true);
  const s = (st as { result: Record<string, unknown> }).result;
  assert.equal(s.state, 'up');
  assert.equal(s.bytesOut, out.length);
  assert.equal(s.bytesIn, back.length);
  assert.equal(s.packetsIn, 1);
  assert.equal(s.address, up.address);

  const bye = await controlRequest(ctl, { cmd: 'disconnect' });
  assert.equal(bye.ok, true);
  await client.done;
  assert.equal(readFileSync(resolv, 'utf8'), 'nameserver 10.0.0.53\n');
  assert.deepEqual(
    clientCmds.calls.filter((c) => c.startsWith('ip route del')),
    complement.reverse().map((r) => `ip route del ${r}`),
  );
  assert.equal(clientTun!.isClosed, true);
  assert.equal(events.at(-1)?.event, 'down');
  await assert.rejects(controlRequest(ctl, { cmd: 'status' }), /no client is running/);

  await relay.stop();
  assert.equal(relayTun!.isClosed, true);
  assert.ok(relayCmds.calls.includes('nft delete table ip tva_exit'));
  assert.equal(relayCmds.calls.includes('sysctl -q -w net.ipv4.ip_forward=0'), forwardingWasOff);
});

interface Pair {
  relay: RelayDaemon;
  relayTun: () => MemoryTun;
  relayCmds: ReturnType<typeof recorder>;
  clientCmds: ReturnType<typeof recorder>;
  client: ClientDaemon;
  clientTun: () => MemoryTun;
  fatal: Error[];
  events: ClientEvent[];
  /** Starts another exit relay with the same key on the same port (a relay restart). */
  restartRelay(): Promise<{ relay: RelayDaemon; tun: () => MemoryTun }>;
}

async function pair(opts: { reconnect?: boolean; killSwitch?: boolean } = {}): Promise<Pair> {
  const key = generateKeyPair();
  let ct: MemoryTun | undefined;
  const fatal: Error[] = [];
  const events: ClientEvent[] = [];
  const relayCmds = recorder();
  const startRelay = async (port: number): Promise<{ relay: RelayDaemon; tun: () => MemoryTun; port: number }> => {
    let rt: MemoryTun | undefined;
    const cfg = parseRelayStartFlags({ listen: `127.0.0.1:${port}`, key: 'unused', exit: true, exitPool: '198.19.8.0/24', tun: 'tvx8', statsInterval: '0' });
    const relay = new RelayDaemon(cfg, key, { log: silentLogger(), run: relayCmds.run, openTun: (o) => (rt = new MemoryTun(o)), onFatal: (e) => fatal.push(e) });
    const l = await relay.start();
    return { relay, tun: () => rt!, port: Number(l.listen.split(':')[1]) };
  };
  const first = await startRelay(0);
  const clientCmds = recorder((argv) => (argv.join(' ').startsWith('ip -j route get') ? '[{"dst":"127.0.0.1","dev":"lo","type":"local"}]' : undefined));
  const client = new ClientDaemon({
    path: [{ endpoint: { host: '127.0.0.1', port: first.port }, publicKey: key.publicKey }],
    tunName: 'tvpn8',
    controlPath: join(dir, `ctl-${Math.random().toString(36).slice(2)}.sock`),
    stateDir: join(dir, `state-${Math.random().toString(36).slice(2)}`),
    dns: 'off',
    resolvConf: join(dir, 'unused.conf'),
    resolvConfExplicit: true,
    reconnect: opts.reconnect === true,
    killSwitch: opts.killSwitch === true,
    log: silentLogger(),
    run: clientCmds.run,
    openTun: (o) => (ct = new MemoryTun(o)),
    onEvent: (e) => events.push(e),
  });
  await client.connect();
  return {
    relay: first.relay,
    relayTun: first.tun,
    relayCmds,
    clientCmds,
    client,
    clientTun: () => ct!,
    fatal,
    events,
    restartRelay: async () => {
      const r = await startRelay(first.port);
      return { relay: r.relay, tun: r.tun };
    },
  };
}

test('a relay that stops tears the circuit down: the client restores and reports a failure', async () => {
  const p = await pair();
  await p.relay.stop();
  await p.client.done;
  assert.equal(p.client.failure, 'circuit down: destroyed');
  assert.equal(p.clientTun().isClosed, true);
  assert.equal(p.client.status().state, 'down');
});

test('a vanished TUN stops the daemon that owns it (client: disconnect with failure; relay: onFatal after tear-down)', async () => {
  const p = await pair();
  p.clientTun().vanish();
  await p.client.done;
  assert.match(p.client.failure ?? '', /^tun error/);
  p.relayTun().vanish();
  await until(() => p.fatal.length > 0, 'relay onFatal');
  assert.ok(p.relayCmds.calls.includes('nft delete table ip topvpn_exit'));
  assert.equal(p.relayTun().isClosed, true);
});

test('--reconnect: when the relay restarts, the client rebuilds the circuit and traffic flows again', async () => {
  const p = await pair({ reconnect: true });
  await p.relay.stop();
  await until(() => p.events.some((e) => e.event === 'reconnecting'), 'reconnecting event');
  assert.equal(p.client.status().state, 'reconnecting');
  assert.equal(p.clientTun().isClosed, false, 'the TUN (and routes) stay while reconnecting');
  const second = await p.restartRelay();
  await until(() => p.events.some((e) => e.event === 'reconnected'), 'reconnected event', 8_000);
  const st = p.client.status();
  assert.equal(st.state, 'up');
  assert.equal(st.reconnects, 1);
  const now = st.address!;
  assert.match(now, /^198\.19\.8\.\d+$/);
  const out = udpPacket(now, '198.18.99.9', 40001, 53, 'after the restart');
  p.clientTun().inject([out]);
  await until(() => second.tun().written.length > 0, 'packet at the new exit');
  assert.deepEqual(second.tun().written[0], out);
  const back = udpPacket('198.18.99.9', now, 53, 40001, 'reply');
  second.tun().inject([back]);
  await until(() => p.clientTun().written.some((b) => b.equals(back)), 'reply at the client');
  await p.client.disconnect('test');
  await p.client.done;
  assert.equal(p.client.failure, undefined);
  await second.relay.stop();
});

test('--kill-switch: removed by an asked-for disconnect, kept (fail closed) when the tunnel fails', async () => {
  const del = 'nft delete table inet topvpn_killswitch';
  const asked = await pair({ killSwitch: true });
  assert.ok(asked.clientCmds.calls.some((c) => c.startsWith('nft -f -') && c.includes('table inet topvpn_killswitch')));
  const before = asked.clientCmds.calls.filter((c) => c === del).length; // the stale-state sweep at connect is not a removal of ours
  await asked.client.disconnect('SIGTERM');
  await asked.client.done;
  assert.equal(asked.clientCmds.calls.filter((c) => c === del).length, before + 1);
  assert.equal(asked.events.at(-1)?.event, 'down');
  assert.equal((asked.events.at(-1) as { killSwitchKept: boolean }).killSwitchKept, false);
  await asked.relay.stop();

  const failed = await pair({ killSwitch: true });
  const before2 = failed.clientCmds.calls.filter((c) => c === del).length;
  await failed.relay.stop(); // DESTROY: the circuit goes down on its own
  await failed.client.done;
  assert.equal(failed.client.failure, 'circuit down: destroyed');
  assert.equal(failed.clientCmds.calls.filter((c) => c === del).length, before2, 'the kill switch stays');
  assert.equal((failed.events.at(-1) as { killSwitchKept: boolean }).killSwitchKept, true);
});
