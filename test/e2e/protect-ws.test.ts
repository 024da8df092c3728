/**
 * End-to-end: the client reaches its entry relay over WebSocket (`--transport ws`), also
 * from a network that drops all UDP (needs root).
 *
 *   client ══WebSocket (TCP :8443)══▶ entry ══UDP══▶ middle ══UDP══▶ exit ──▶ inet
 *
 * The entry runs `--ws-listen` (ws:// first, then wss:// with a self-signed certificate the
 * client trusts via --ws-ca); relays keep talking UDP to each other.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { distBin } from '../../common/paths.js';
import { readPcap } from '../../deploy/pcap.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, RELAY_CLI, relayStartArgs, startRelay, writeRelayList, type RelayNode, type UpEvent } from '../../deploy/topvpn.js';
import { httpGet, inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';

const PREFIX = 'tn7w';
const WS_PORT = 8443;

describe('protect: WebSocket transport (network namespaces)', { timeout: 240_000 }, () => {
  let net: Testnet;
  let relays: RelayNode[];

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 3 });
    const [e, m, x] = net.relays as [typeof net.client, typeof net.client, typeof net.client];
    relays = await Promise.all([
      startRelay(net, e, { extraArgs: ['--ws-listen', `${e.ip}:${WS_PORT}`] }),
      startRelay(net, m),
      startRelay(net, x, { exit: true }),
    ]);
  });

  after(async () => {
    await net?.teardown();
  });

  async function connectWs(url: string, extra: string[] = []): Promise<ClientSession> {
    const list = writeRelayList(net, relays, `relays-ws-${relays[0]!.publicKey.slice(0, 8)}.json`);
    const control = join(net.dir, 'client.sock');
    const proc = net.spawn(
      net.client,
      [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', list, '--hops', '3', '--control', control, '--tun', CLIENT_TUN, '--transport', 'ws', '--ws-url', url, ...extra, '--json'],
      { label: 'client:connect-ws' },
    );
    const up = (await proc.waitForEvent('up', 30_000)) as UpEvent;
    return new ClientSession(net, proc, up, control, CLIENT_TUN);
  }

  async function disconnect(s: ClientSession): Promise<void> {
    const { result, exit } = await s.disconnect();
    assert.equal(result.code, 0, `disconnect: ${result.stderr.slice(0, 300)}`);
    assert.equal(exit.code, 0);
  }

  test('connect + HTTP over ws://: the client link carries only TCP to the entry\'s WebSocket port', async () => {
    const s = await connectWs(`ws://${relays[0]!.host.ip}:${WS_PORT}`);
    assert.equal(s.up['mtu'], 1280, 'inner MTU lowered for TCP transport');
    const cap = await net.capture(net.client, 'eth0', () => httpGet(net, net.client, inetUrl('/ip')));
    assert.equal((JSON.parse(cap.result!) as { remote: string }).remote, relays[2]!.host.ip, 'HTTP went through the circuit');
    let tcp = 0;
    const other: string[] = [];
    for (const r of readPcap(readFileSync(cap.pcap))) {
      const f = r.data;
      if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) continue;
      const ihl = (f[14]! & 0x0f) * 4;
      const proto = f[23]!;
      const dst = [...f.subarray(30, 34)].join('.');
      const src = [...f.subarray(26, 30)].join('.');
      const sport = f.readUInt16BE(14 + ihl);
      const dport = f.readUInt16BE(14 + ihl + 2);
      const ok = proto === 6 && ((dst === relays[0]!.host.ip && dport === WS_PORT) || (src === relays[0]!.host.ip && sport === WS_PORT));
      if (ok) tcp++;
      else other.push(`${src}:${sport} → ${dst}:${dport} proto ${proto}`);
    }
    assert.ok(tcp > 0, 'TCP to the WebSocket port seen');
    assert.deepEqual(other, [], 'nothing but the WebSocket connection on the client link');
    const st = await s.status();
    assert.ok((st['udp'] as { datagramsOut: number }).datagramsOut > 0, 'the transport counted packets');
    await disconnect(s);
  });

  test('with all UDP dropped by nftables: UDP cannot connect, WebSocket can (with the kill switch on)', async () => {
    const table = 'tvw_block_udp';
    execFileSync('ip', ['netns', 'exec', net.client.ns, 'nft', '-f', '-'], {
      input: `table inet ${table} {\n chain output { type filter hook output priority 0; meta l4proto udp counter drop; }\n chain input { type filter hook input priority 0; meta l4proto udp counter drop; }\n}\n`,
    });
    try {
      const list = writeRelayList(net, relays, 'relays-udp.json');
      const r = await net.exec(
        net.client,
        [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', list, '--hops', '3', '--control', join(net.dir, 'udp.sock'), '--tun', CLIENT_TUN, '--json'],
        { allowFail: true, timeoutMs: 40_000 },
      );
      assert.notEqual(r.code, 0, 'the UDP client fails when UDP is blocked (control)');
      // With the kill switch on: its table lets only the TCP flow to the entry's WebSocket port out.
      const s = await connectWs(`ws://${relays[0]!.host.ip}:${WS_PORT}`, ['--kill-switch']);
      const ks = await net.exec(net.client, ['nft', 'list', 'table', 'inet', 'topvpn_killswitch']);
      assert.match(ks.stdout, new RegExp(`ip daddr ${relays[0]!.host.ip.replace(/\./g, '\\.')} tcp dport ${WS_PORT} accept`), 'the kill switch admits the WebSocket flow');
      assert.equal((JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string }).remote, relays[2]!.host.ip);
      await disconnect(s);
      const gone = await net.exec(net.client, ['nft', 'list', 'table', 'inet', 'topvpn_killswitch'], { allowFail: true });
      assert.notEqual(gone.code, 0, 'disconnect removed the kill switch');
      const counters = await net.exec(net.client, ['nft', 'list', 'table', 'inet', table]);
      assert.match(counters.stdout, /counter packets [1-9]/, 'the block really dropped UDP');
    } finally {
      await net.exec(net.client, ['nft', 'delete', 'table', 'inet', table], { allowFail: true });
    }
  });

  test('wss:// with the relay\'s self-signed certificate trusted via --ws-ca', async () => {
    const e = relays[0]!.host;
    const cert = join(net.dir, 'ws-cert.pem');
    const key = join(net.dir, 'ws-key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${e.ip}`, '-addext', `subjectAltName=IP:${e.ip}`], { stdio: 'ignore' });
    // Restart the entry with the same relay key, now serving wss://.
    const old = relays[0]!;
    await old.proc.stop();
    const proc = net.spawn(e, [process.execPath, distBin(RELAY_CLI), ...relayStartArgs(e, old.keyFile, false), '--ws-listen', `${e.ip}:${WS_PORT}`, '--ws-cert', cert, '--ws-key', key], { label: 'entry:relay-wss' });
    const listening = await proc.waitForEvent('listening', 20_000);
    assert.equal(listening['ws'], `wss://${e.ip}:${WS_PORT}`);
    relays[0] = { ...old, proc };
    const s = await connectWs(`wss://${e.ip}:${WS_PORT}`, ['--ws-ca', cert]);
    assert.equal((JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string }).remote, relays[2]!.host.ip);
    await disconnect(s);
  });
});
