/**
 * End-to-end: with `--kill-switch` nothing leaves the client's outer link except the
 * circuit's own UDP to its entry relay (needs root). tcpdump on the client's eth0 while
 * "temptations" run (DNS to the system resolver and to a foreign one, ping and HTTP to inet
 * by route and bound to eth0, IPv6 ping and HTTP), in four phases:
 *   control   no VPN: the temptations do appear on the wire (the detector works);
 *   session   connected, kill switch on;
 *   reconnect kill -9 of the middle relay while tempting, until the circuit is rebuilt;
 *   new entry kill -9 of the entry relay: the kill switch moves to the spare that replaces it;
 *   crashed   kill -9 of the client daemon: the kill switch stays, nothing leaks;
 * ARP is checked too (the kill switch's `arp` table): the client may ask for and answer only
 * its entry relay (the next hop here: all hosts share one link).
 * and after `topvpn reset` the link is open again.
 * IPv6 is enabled on the client and inet for this suite (2001:2::/48, the IPv6 benchmarking
 * prefix), with a v6 default route on the client, so an IPv6 leak would be visible.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distBin } from '../../common/paths.js';
import { readPcap } from '../../deploy/pcap.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, startRelays, writeRelayList, type RelayNode, type UpEvent } from '../../deploy/topvpn.js';
import { INET_IP, RELAY_PORT } from '../../deploy/topology.js';
import { KILL_SWITCH_TABLE } from '../../client/killswitch.js';
import { httpGet, inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';
import { sleep } from '../helpers/wait.js';

const PREFIX = 'tn7l';
const V6_CLIENT = '2001:2::10';
const V6_INET = '2001:2::100';
/** A resolver that is not the tunnel's: queries to it must never leave the client in clear. */
const FOREIGN_DNS = '198.18.0.53';

interface Verdict {
  /** IPv4/IPv6 frames the client sent or received other than its UDP with the entry relay. */
  violations: string[];
  /** ARP requests or replies from the client about any address but an entry's (its next hop). */
  arpOther: string[];
  /** ARP frames from the client about an entry. */
  arpEntry: number;
  ipv6FromClient: number;
  toEntry: number;
  frames: number;
}

/** Classifies every frame of a capture on the client's eth0. */
function judge(pcap: string, clientMac: string, clientIp: string, entryIps: string | string[]): Verdict {
  const entries = new Set(Array.isArray(entryIps) ? entryIps : [entryIps]);
  const v: Verdict = { violations: [], arpOther: [], arpEntry: 0, ipv6FromClient: 0, toEntry: 0, frames: 0 };
  const mac = (b: Buffer, o: number): string => [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const ip4 = (b: Buffer, o: number): string => [...b.subarray(o, o + 4)].join('.');
  for (const rec of readPcap(readFileSync(pcap))) {
    const f = rec.data;
    if (f.length < 14) continue;
    v.frames++;
    const src = mac(f, 6);
    const type = f.readUInt16BE(12);
    const fromClient = src === clientMac;
    if (type === 0x0806) {
      // ARP: the client may resolve (and answer) its entry, the next hop, only.
      const op = f.readUInt16BE(20);
      const target = ip4(f, 38);
      if (fromClient && entries.has(target)) v.arpEntry++;
      else if (fromClient) v.arpOther.push(op === 1 ? `ARP who-has ${target}` : `ARP ${op === 2 ? 'reply' : `op ${op}`} to ${target}`);
      continue;
    }
    if (type === 0x86dd) {
      if (fromClient) {
        v.ipv6FromClient++;
        v.violations.push(`IPv6 from the client (next header ${f[20]})`);
      }
      continue;
    }
    if (type !== 0x0800) {
      if (fromClient) v.violations.push(`ethertype 0x${type.toString(16)}`);
      continue;
    }
    const ihl = (f[14]! & 0x0f) * 4;
    const proto = f[23]!;
    const s = ip4(f, 26);
    const d = ip4(f, 30);
    const sport = f.readUInt16BE(14 + ihl);
    const dport = f.readUInt16BE(14 + ihl + 2);
    const out = s === clientIp && entries.has(d) && proto === 17 && dport === RELAY_PORT;
    // Inbound from an entry: its UDP, or ICMP errors about the client's packets to it (a dead entry's "port unreachable").
    const back = entries.has(s) && d === clientIp && ((proto === 17 && sport === RELAY_PORT) || (proto === 1 && f[14 + ihl] === 3));
    // inet's own ping of the client (a temptation): not a leak unless the client answers it.
    const probe = s === INET_IP && d === clientIp && proto === 1 && f[14 + ihl] === 8;
    if (out) v.toEntry++;
    if (!out && !back && !probe && (s === clientIp || d === clientIp || fromClient)) v.violations.push(`IPv4 ${s}:${sport} → ${d}:${dport} proto ${proto}`);
  }
  return v;
}

describe('protect: no leaks with the kill switch (network namespaces)', { timeout: 240_000 }, () => {
  let net: Testnet;
  let relays: RelayNode[];
  let clientMac: string;
  let dnsScript: string;

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 5 });
    relays = await startRelays(net); // entry, middle1, middle2, middle3, exit
    for (const [h, addr] of [[net.client, V6_CLIENT], [net.inet, V6_INET]] as const) {
      await net.exec(h, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0', 'net.ipv6.conf.eth0.disable_ipv6=0', 'net.ipv6.conf.eth0.accept_ra=0', 'net.ipv6.conf.eth0.router_solicitations=0']);
      await net.exec(h, ['ip', '-6', 'addr', 'add', `${addr}/64`, 'dev', 'eth0', 'nodad']);
    }
    await net.exec(net.client, ['ip', '-6', 'route', 'add', 'default', 'via', V6_INET, 'dev', 'eth0']);
    const link = JSON.parse((await net.exec(net.client, ['ip', '-j', 'link', 'show', 'eth0'])).stdout) as Array<{ address: string }>;
    clientMac = link[0]!.address;
    dnsScript = join(net.dir, 'dns-query.mjs');
    // One A query for leak-check.example to each server given on the command line (UDP 53); never waits for answers.
    writeFileSync(
      dnsScript,
      `import dgram from 'node:dgram';
const name = Buffer.concat(['leak-check', 'example'].map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])));
const q = Buffer.concat([Buffer.from('123401000001000000000000', 'hex'), name, Buffer.from('0000010001', 'hex')]);
const s = dgram.createSocket('udp4');
s.on('error', () => {});
let left = process.argv.length - 2;
for (const h of process.argv.slice(2)) s.send(q, 53, h, () => { if (--left === 0) setTimeout(() => process.exit(0), 300); });
setTimeout(() => process.exit(0), 2000);
`,
    );
  });

  after(async () => {
    await net?.teardown();
  });

  /** Everything that would leak without protection; results are ignored (most fail by design). */
  async function tempt(): Promise<void> {
    const x = (argv: string[]): Promise<unknown> => net.exec(net.client, argv, { allowFail: true, timeoutMs: 10_000 });
    await Promise.all([
      x([process.execPath, dnsScript, INET_IP, FOREIGN_DNS]),
      x(['timeout', '3', 'getent', 'hosts', 'leak-check.example']),
      x(['ping', '-c', '2', '-i', '0.3', '-W', '1', INET_IP]),
      x(['ping', '-c', '2', '-i', '0.3', '-W', '1', '-I', 'eth0', INET_IP]),
      x(['curl', '-sS', '--max-time', '2', '--interface', 'eth0', inetUrl('/ip')]),
      x(['ping', '-6', '-c', '2', '-i', '0.3', '-W', '1', V6_INET]),
      x(['curl', '-sS', '--max-time', '2', `http://[${V6_INET}]/ip`]),
      // inet forgets the client's MAC and pings it: an unprotected client answers inet's ARP.
      (async () => {
        await net.exec(net.inet, ['ip', 'neigh', 'flush', 'dev', 'eth0'], { allowFail: true });
        await net.exec(net.inet, ['ping', '-c', '1', '-W', '1', clientIp()], { allowFail: true, timeoutMs: 5_000 });
      })(),
    ]);
  }

  const entryIp = (): string => relays[0]!.host.ip;
  const clientIp = (): string => net.client.ip;

  test('control: without the VPN the temptations are on the wire (v4 and v6)', async () => {
    const cap = await net.capture(net.client, 'eth0', tempt);
    const v = judge(cap.pcap, clientMac, clientIp(), entryIp());
    assert.ok(v.violations.some((s) => s.includes(`→ ${INET_IP}`)), `IPv4 to inet seen: ${v.violations.slice(0, 5).join('; ')}`);
    assert.ok(v.ipv6FromClient > 0, 'IPv6 from the client seen');
    assert.ok(v.arpOther.some((a) => a.includes(INET_IP)), `ARP with inet seen: ${v.arpOther.join('; ')}`);
  });

  test('kill switch: session, reconnect and crash leak nothing; reset opens the link again', async () => {
    const [entry, middle1, middle2, middle3, exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
    const list = writeRelayList(net, [entry, middle1, middle2, middle3, exit], 'relays-spare.json');
    const control = join(net.dir, 'client.sock');
    const proc = net.spawn(
      net.client,
      [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', list, '--hops', '3', '--control', control, '--tun', CLIENT_TUN, '--kill-switch', '--reconnect', '--json'],
      { label: 'client:connect' },
    );
    const up = (await proc.waitForEvent('up', 30_000)) as UpEvent;
    assert.equal(up['killSwitch'], true);
    const session = new ClientSession(net, proc, up, control, CLIENT_TUN);

    // Phase: session.
    const s1 = await net.capture(net.client, 'eth0', async () => {
      // Forget every neighbour: the circuit must resolve its next hop again, through the arp table.
      await net.exec(net.client, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
      await tempt();
      return httpGet(net, net.client, inetUrl('/ip'));
    });
    assert.equal((JSON.parse(s1.result!) as { remote: string }).remote, exit.host.ip, 'traffic flows through the tunnel');
    const v1 = judge(s1.pcap, clientMac, clientIp(), entryIp());
    process.stdout.write(`# session: ${v1.frames} frames, ${v1.toEntry} to the entry, ${v1.violations.length} IP violations; ARP about the entry ${v1.arpEntry}, about others: [${v1.arpOther.join(', ')}]\n`);
    assert.deepEqual(v1.violations, [], 'session: only the circuit to the entry');
    assert.deepEqual(v1.arpOther, [], 'session: ARP only for the next hop');
    assert.ok(v1.arpEntry > 0, 'session: the next hop was resolved (ARP for it passes)');
    assert.ok(v1.toEntry > 0, 'session: the circuit crossed the link');

    // Phase: reconnect (kill -9 of the middle while tempting, until the new circuit carries traffic).
    const s2 = await net.capture(net.client, 'eth0', async () => {
      middle1.proc.signal('SIGKILL');
      await middle1.proc.exited;
      await tempt();
      await proc.waitForEvent('reconnected', 30_000);
      await tempt();
      return httpGet(net, net.client, inetUrl('/ip'));
    });
    assert.equal((JSON.parse(s2.result!) as { remote: string }).remote, exit.host.ip, 'traffic flows again after the reconnect');
    const path = (await session.status())['path'] as Array<{ endpoint: string }>;
    assert.equal(path[1]?.endpoint, middle2.endpoint, 'rebuilt through the spare middle');
    const v2 = judge(s2.pcap, clientMac, clientIp(), entryIp());
    process.stdout.write(`# reconnect: ${v2.frames} frames, ${v2.toEntry} to the entry, ${v2.violations.length} IP violations; ARP about the entry ${v2.arpEntry}, about others: [${v2.arpOther.join(', ')}]\n`);
    assert.deepEqual(v2.violations, [], 'reconnect: only the circuit to the entry');
    assert.deepEqual(v2.arpOther, [], 'reconnect: ARP only for the next hop');

    // Phase: the entry dies; a spare (middle3) becomes the entry and the kill switch follows it.
    const s2b = await net.capture(net.client, 'eth0', async () => {
      entry.proc.signal('SIGKILL');
      await entry.proc.exited;
      await tempt();
      await proc.waitForLine((l) => (/"event":"reconnected"/.test(l) && l.includes(middle3.endpoint) ? true : undefined), { timeoutMs: 30_000 });
      await tempt();
      return httpGet(net, net.client, inetUrl('/ip'));
    });
    assert.equal((JSON.parse(s2b.result!) as { remote: string }).remote, exit.host.ip, 'traffic flows through the new entry');
    const path2 = (await session.status())['path'] as Array<{ endpoint: string }>;
    assert.deepEqual(path2.map((p) => p.endpoint), [middle3.endpoint, middle2.endpoint, exit.endpoint], 'the dead entry was replaced');
    const ks = (await net.exec(net.client, ['nft', 'list', 'ruleset'])).stdout;
    assert.match(ks, new RegExp(`ip daddr ${middle3.host.ip.replace(/\./g, '\\.')} udp dport ${RELAY_PORT} accept`), 'the kill switch admits the new entry');
    assert.match(ks, new RegExp(`arp daddr ip ${middle3.host.ip.replace(/\./g, '\\.')} accept`), 'ARP is allowed for the new next hop');
    assert.doesNotMatch(ks, new RegExp(`${entry.host.ip.replace(/\./g, '\\.')}\\b`), 'and no longer for the dead entry');
    const v2b = judge(s2b.pcap, clientMac, clientIp(), [entry.host.ip, middle3.host.ip]);
    process.stdout.write(`# new entry: ${v2b.frames} frames, ${v2b.toEntry} to an entry, ${v2b.violations.length} IP violations; ARP about entries ${v2b.arpEntry}, about others: [${v2b.arpOther.join(', ')}]\n`);
    assert.deepEqual(v2b.violations, [], 'new entry: only circuits to the old or new entry');
    assert.deepEqual(v2b.arpOther, [], 'new entry: ARP only for an entry');

    // Phase: the client daemon dies (kill -9): the kill switch stays.
    const s3 = await net.capture(net.client, 'eth0', async () => {
      proc.signal('SIGKILL');
      await proc.exited;
      await sleep(300);
      await tempt();
    });
    const v3 = judge(s3.pcap, clientMac, clientIp(), middle3.host.ip);
    process.stdout.write(`# crashed: ${v3.frames} frames, ${v3.violations.length} IP violations; ARP about the entry ${v3.arpEntry}, about others: [${v3.arpOther.join(', ')}]\n`);
    assert.deepEqual(v3.violations, [], 'after kill -9 of the client: nothing leaks');
    assert.deepEqual(v3.arpOther, [], 'after kill -9 of the client: no ARP but for the next hop');
    for (const family of ['inet', 'arp']) {
      const table = await net.exec(net.client, ['nft', 'list', 'table', family, KILL_SWITCH_TABLE], { allowFail: true });
      assert.equal(table.code, 0, `the kill switch (${family} table) is still in place`);
    }

    // reset removes it: the same temptation now reaches the wire.
    const r = await net.exec(net.client, [process.execPath, distBin(CLIENT_CLI), 'reset', '--control', control, '--json'], { allowFail: true, timeoutMs: 15_000 });
    assert.equal(r.code, 0, `reset: ${r.stderr.slice(0, 300)}`);
    assert.equal((await net.exec(net.client, ['nft', 'list', 'tables'])).stdout.includes(KILL_SWITCH_TABLE), false, 'reset removed both tables');
    const s4 = await net.capture(net.client, 'eth0', tempt);
    const v4 = judge(s4.pcap, clientMac, clientIp(), entryIp());
    assert.ok(v4.violations.some((s) => s.includes(`→ ${INET_IP}`)), 'after reset the link is open again');
  });
});
