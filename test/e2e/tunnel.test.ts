/**
 * End-to-end: a real client and three real relays, each in its own network namespace,
 * carrying HTTP from the client to the "internet" host (needs root; CI runs as root).
 *
 *                            tvb-sw (bridge br0)
 *        ┌─────────────┬─────────────┼─────────────┬─────────────┐
 *     tvb-client    tvb-entry     tvb-middle    tvb-exit      tvb-inet
 *     .10/32        .11           .12           .13 --exit    .100
 *     topvpn        relay         relay         relay + NAT   HTTP :80, iperf3
 *     connect       ▲ capture     ▲ capture     ▲ capture (control: plaintext here)
 *
 *   client ══UDP══▶ entry ══UDP══▶ middle ══UDP══▶ exit ──plain IP (NAT)──▶ inet
 *   (198.18.0.x underlay; the exit hands out inner addresses from 198.19.0.0/24)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distBin } from '../../common/paths.js';
import { findEmbeddedIpv4, ipv4Packets } from '../../deploy/pcap.js';
import { CLIENT_CLI, CLIENT_TUN, connectClient, startRelays, type ClientSession, type RelayNode } from '../../deploy/topvpn.js';
import { INET_IP } from '../../deploy/topology.js';
import { etcNetnsDir } from '../../deploy/netns.js';
import { httpGet, inetUrl, linkNames, netnsUnavailable, routeSnapshot, Testnet } from '../helpers/netns.js';
import { waitUntil } from '../helpers/wait.js';

const PREFIX = 'tvb';

describe('tunnel end to end (network namespaces)', { timeout: 240_000 }, () => {
  let net: Testnet;
  let relays: RelayNode[];
  let routesBefore: string;
  let routesOnlyBefore: string;
  let linksBefore: string[];
  let resolvBefore: string;

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 3 });
    routesBefore = await routeSnapshot(net, net.client);
    routesOnlyBefore = await routeSnapshot(net, net.client, { rules: false });
    linksBefore = await linkNames(net, net.client);
    resolvBefore = readFileSync(join(etcNetnsDir(net.client.ns), 'resolv.conf'), 'utf8');
    relays = await startRelays(net);
  });

  after(async () => {
    await net?.teardown();
  });

  /**
   * The tunnel device is gone, the client's interfaces are as before, and so are its routes
   * (all tables) and, unless `rules` is false, its policy rules.
   */
  async function assertClientRestored(what: string, opts: { rules?: boolean } = {}): Promise<void> {
    await waitUntil(`${CLIENT_TUN} to disappear (${what})`, async () => !(await linkNames(net, net.client)).includes(CLIENT_TUN), { timeoutMs: 10_000 });
    assert.deepEqual(await linkNames(net, net.client), linksBefore, `interfaces after ${what}`);
    if (opts.rules === false) assert.equal(await routeSnapshot(net, net.client, { rules: false }), routesOnlyBefore, `routes after ${what}`);
    else assert.equal(await routeSnapshot(net, net.client), routesBefore, `routes and rules after ${what}`);
  }

  test('a bad relay list is a usage error (exit code 2) and changes nothing', async () => {
    const cases: Record<string, string> = {
      'not-json.json': '{ this is not json',
      'bad-key.json': JSON.stringify([{ endpoint: relays[0]?.endpoint, publicKey: 'abcd' }]),
      'bad-endpoint.json': JSON.stringify([{ endpoint: 'nowhere', publicKey: relays[0]?.publicKey }]),
    };
    for (const [name, content] of Object.entries(cases)) {
      const file = join(net.dir, name);
      writeFileSync(file, content);
      const r = await net.exec(net.client, [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', file, '--hops', '1', '--control', join(net.dir, 'bad.sock'), '--tun', CLIENT_TUN, '--json'], {
        allowFail: true,
        timeoutMs: 20_000,
      });
      assert.equal(r.code, 2, `${name}: exit code (stderr: ${r.stderr.slice(0, 300)})`);
    }
    assert.equal(await routeSnapshot(net, net.client), routesBefore);
  });

  describe('3 hops', () => {
    let session: ClientSession;

    test('the circuit comes up with 3 hops', async () => {
      session = await connectClient(net, relays, { hops: 3 });
      assert.equal(session.up.hops, 3);
      assert.ok(session.up.buildMs >= 0);
      assert.ok((await linkNames(net, net.client)).includes(CLIENT_TUN), 'tunnel device exists while up');
    });

    test('HTTP from the client reaches inet, which sees the exit relay as the source', async () => {
      const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
      assert.equal(body.remote, net.host('exit').ip);
    });

    test('entry and middle links carry neither the payload nor inner IP headers in clear', async () => {
      const marker = `TOPVPN-MARKER-${randomBytes(12).toString('hex')}`;
      const bodyFile = join(net.dir, 'marker-body.txt');
      writeFileSync(bodyFile, `${marker}\n`.repeat(2048)); // ~80 KB: many packets each way
      const post = async (): Promise<string> =>
        (await net.exec(net.client, ['curl', '-sS', '--fail', '--max-time', '20', '-X', 'POST', '--data-binary', `@${bodyFile}`, inetUrl(`/echo?m=${marker}`)], { timeoutMs: 30_000 })).stdout;
      const entry = await net.capture('entry', 'eth0', () =>
        net.capture('middle', 'eth0', () => net.capture('exit', 'eth0', post)),
      );
      const middle = entry.result;
      const exit = middle?.result;
      assert.ok(middle && exit && exit.result !== undefined, 'nested captures completed');
      const reply = JSON.parse(exit.result) as { remote: string; body: string };
      assert.equal(reply.remote, net.host('exit').ip, 'the transfer went through the tunnel');
      assert.ok(reply.body.includes(marker), 'the transfer carried the marker');

      // Control: on the exit's link the NATed traffic to inet is plaintext, so the detector sees it.
      const exitPcap = readFileSync(exit.pcap);
      assert.ok(exitPcap.includes(marker), 'marker visible in clear on the exit→inet leg (detector works)');

      for (const [name, pcapPath] of [['entry', entry.pcap], ['middle', middle.pcap]] as const) {
        const bytes = readFileSync(pcapPath);
        assert.ok(!bytes.includes(marker), `${name}: marker must not appear in clear`);
        const pkts = ipv4Packets(bytes);
        const udp = pkts.filter((p) => p.udp);
        const udpBytes = udp.reduce((n, p) => n + (p.udp?.payload.length ?? 0), 0);
        assert.ok(udpBytes > 2 * 80_000, `${name}: the transfer crossed this link as UDP (${udpBytes} B seen)`);
        const tcpToInet = pkts.filter((p) => p.tcp && (p.src === INET_IP || p.dst === INET_IP));
        assert.equal(tcpToInet.length, 0, `${name}: no TCP to/from inet on this link`);
        const inner = udp.filter((p) => findEmbeddedIpv4(p.udp?.payload ?? Buffer.alloc(0), INET_IP).length > 0);
        assert.equal(inner.length, 0, `${name}: no inner IPv4 header naming inet inside UDP payloads`);
      }
    });

    test('disconnect restores routes, removes the device and exits 0', async () => {
      const { result, exit } = await session.disconnect();
      assert.equal(result.code, 0, `disconnect: ${result.stderr.slice(0, 300)}`);
      assert.equal(exit.code, 0, 'connect process exit code');
      await assertClientRestored('disconnect');
      assert.equal(readFileSync(join(etcNetnsDir(net.client.ns), 'resolv.conf'), 'utf8'), resolvBefore, 'resolver restored');
    });
  });

  test('1 hop works (the exit is also the entry)', async () => {
    const s = await connectClient(net, relays, { hops: 1 });
    assert.equal(s.up.hops, 1);
    const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
    assert.equal(body.remote, net.host('exit').ip);
    const { result } = await s.disconnect();
    assert.equal(result.code, 0);
    await assertClientRestored('1-hop disconnect');
  });

  test('after SIGKILL of the client the device is gone and routes are as before', async () => {
    const s = await connectClient(net, relays, { hops: 3 });
    const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
    assert.equal(body.remote, net.host('exit').ip);
    assert.notEqual(await routeSnapshot(net, net.client), routesBefore, 'routes differ while connected');
    s.proc.signal('SIGKILL');
    const st = await s.proc.exited;
    assert.equal(st.signal, 'SIGKILL');
    // A killed process cleans nothing up itself: only what dies with its TUN device goes.
    await assertClientRestored('SIGKILL', { rules: false });
  });

  test('the next client run clears what a killed one left; its disconnect restores everything', async () => {
    const s = await connectClient(net, relays, { hops: 1 });
    const body = JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string };
    assert.equal(body.remote, net.host('exit').ip);
    const { result } = await s.disconnect();
    assert.equal(result.code, 0);
    await assertClientRestored('recovery run');
    assert.equal(readFileSync(join(etcNetnsDir(net.client.ns), 'resolv.conf'), 'utf8'), resolvBefore, 'resolver restored');
  });
});
