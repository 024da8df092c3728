/**
 * End-to-end: `topvpn connect --reconnect` survives kill -9 of its middle relay (needs root).
 *
 *   client ══▶ entry ══▶ middle1 ══▶ exit ──▶ inet        (before: middle1 is in the path)
 *                   ╲══▶ middle2 ══╱                       (after: middle2 replaces it)
 *
 * While a ping stream (every 50 ms) runs from the client to inet, middle1 is killed with
 * SIGKILL. The client must notice the silence (liveness probes), rebuild through the spare
 * middle2 and carry traffic again. The gap (kill → first reply on the new circuit) is printed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { distBin } from '../../common/paths.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, startRelays, writeRelayList, type RelayNode, type UpEvent } from '../../deploy/topvpn.js';
import { INET_IP } from '../../deploy/topology.js';
import { httpGet, inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';
import { sleep } from '../helpers/wait.js';

const PREFIX = 'tvw';

/** Receive times (epoch s) of ping replies, from `ping -D` lines. */
function replyTimes(lines: readonly string[]): number[] {
  const out: number[] = [];
  for (const l of lines) {
    const m = /^\[(\d+\.\d+)\].*icmp_seq=\d+/.exec(l);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

describe('protect: reconnect after a relay dies (network namespaces)', { timeout: 180_000 }, () => {
  let net: Testnet;
  let relays: RelayNode[];

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 4 });
    relays = await startRelays(net); // entry, middle1, middle2, exit
  });

  after(async () => {
    await net?.teardown();
  });

  test('kill -9 of the middle: traffic resumes through the spare middle', async () => {
    const [entry, middle1, middle2, exit] = relays as [RelayNode, RelayNode, RelayNode, RelayNode];
    // The list's last relay is the exit; with --hops 3 the path is entry, middle1, exit and middle2 is the spare.
    const list = writeRelayList(net, [entry, middle1, middle2, exit], 'relays-spare.json');
    const control = join(net.dir, 'client.sock');
    const proc = net.spawn(
      net.client,
      [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', list, '--hops', '3', '--control', control, '--tun', CLIENT_TUN, '--reconnect', '--json'],
      { label: 'client:connect' },
    );
    const up = (await proc.waitForEvent('up', 30_000)) as UpEvent;
    const session = new ClientSession(net, proc, up, control, CLIENT_TUN);
    const path0 = (await session.status())['path'] as Array<{ endpoint: string }>;
    assert.deepEqual(path0.map((p) => p.endpoint), [entry.endpoint, middle1.endpoint, exit.endpoint]);
    assert.equal((JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string }).remote, exit.host.ip);

    const pingLines: string[] = [];
    const ping = net.spawn(net.client, ['ping', '-D', '-n', '-i', '0.05', '-W', '1', '-w', '25', INET_IP], { label: 'client:ping' });
    ping.onLine((l, s) => {
      if (s === 'stdout') pingLines.push(l);
    });
    await ping.waitForLine((l) => (/icmp_seq=\d+/.test(l) ? true : undefined), { timeoutMs: 10_000 });
    await sleep(1_000);
    const before = replyTimes(pingLines).length;
    assert.ok(before >= 10, `ping replies before the kill: ${before}`);

    const killedAt = Date.now() / 1000;
    middle1.proc.signal('SIGKILL');
    assert.equal((await middle1.proc.exited).signal, 'SIGKILL');
    const reconnecting = await proc.waitForEvent('reconnecting', 15_000);
    assert.equal(reconnecting['reason'], 'unresponsive');
    assert.equal(reconnecting['deadHop'], 1, 'the middle is named as the hop that stopped answering');
    const reconnected = await proc.waitForEvent('reconnected', 30_000);

    // Wait until replies come back on the new circuit.
    const resumed = async (): Promise<number | undefined> => {
      const t = replyTimes(pingLines);
      for (let i = 1; i < t.length; i++) if (t[i]! > killedAt && t[i]! - t[i - 1]! > 0.2) return t[i]!;
      return undefined;
    };
    let firstAfter: number | undefined;
    for (let i = 0; i < 100 && firstAfter === undefined; i++) {
      firstAfter = await resumed();
      if (firstAfter === undefined) await sleep(100);
    }
    assert.ok(firstAfter !== undefined, `ping replies resumed after the kill (reconnected: ${JSON.stringify(reconnected)})`);
    const gapMs = Math.round((firstAfter - killedAt) * 1000);
    process.stdout.write(`# reconnect gap (kill -9 of the middle → first ping reply on the new circuit): ${gapMs} ms; new circuit built in ${String(reconnected['buildMs'])} ms\n`);

    const path1 = (await session.status())['path'] as Array<{ endpoint: string }>;
    assert.deepEqual(path1.map((p) => p.endpoint), [entry.endpoint, middle2.endpoint, exit.endpoint], 'the dead middle was replaced by the spare');
    assert.equal((JSON.parse(await httpGet(net, net.client, inetUrl('/ip'))) as { remote: string }).remote, exit.host.ip, 'HTTP flows on the new circuit');
    ping.signal('SIGINT');
    await ping.exited;

    const { result, exit: st } = await session.disconnect();
    assert.equal(result.code, 0, `disconnect: ${result.stderr.slice(0, 300)}`);
    assert.equal(st.code, 0);
  });
});
