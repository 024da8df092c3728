/**
 * The testnet library itself (needs root: it creates network namespaces "tvb-*").
 * Topology under test: see deploy/testnet.ts (2 relays here: entry, exit).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcNetnsDir, listNetns, run } from '../../../deploy/netns.js';
import { ipv4Packets } from '../../../deploy/pcap.js';
import { repoRoot } from '../../../common/paths.js';
import { waitUntil } from '../../helpers/wait.js';
import { httpGet, inetUrl, linkNames, netnsUnavailable, Testnet, cleanupStale } from '../../helpers/netns.js';

const PREFIX = 'tvb';

/** The process no longer exists or is a zombie awaiting its reaper (it runs no more). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function rootLinks(): Promise<string> {
  return (await run(['ip', '-o', 'link', 'show'])).stdout.replace(/\s+link\/.*$/gm, '');
}

describe('Testnet (network namespaces)', { timeout: 120_000 }, () => {
  let net: Testnet;
  let rootBefore: string;
  let rootRoutesBefore: string;

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    await cleanupStale(PREFIX);
    rootBefore = await rootLinks();
    rootRoutesBefore = (await run(['ip', 'route', 'show', 'table', 'all'])).stdout;
    net = await Testnet.create({ prefix: PREFIX, relays: 2 });
  });

  after(async () => {
    await net?.teardown();
  });

  test('one namespace per host plus the switch, and the root namespace untouched', async () => {
    const names = (await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`)).sort();
    assert.deepEqual(names, ['tvb-client', 'tvb-entry', 'tvb-exit', 'tvb-inet', 'tvb-sw']);
    assert.deepEqual(net.addresses(), { client: '198.18.0.10', entry: '198.18.0.11', exit: '198.18.0.12', inet: '198.18.0.100' });
    assert.deepEqual(await linkNames(net, 'client'), ['lo', 'eth0']);
    assert.equal(await rootLinks(), rootBefore, 'no link added in the root namespace');
    assert.equal((await run(['ip', 'route', 'show', 'table', 'all'])).stdout, rootRoutesBefore, 'root routes unchanged');
  });

  test('hosts reach inet over the bridge and inet sees their underlay address', async () => {
    for (const h of ['client', 'entry', 'exit']) {
      const body = JSON.parse(await httpGet(net, h, inetUrl('/ip'))) as { remote: string };
      assert.equal(body.remote, net.host(h).ip, h);
    }
    const n = 1_000_003;
    const r = await net.exec('client', ['sh', '-c', `curl -sS --fail ${inetUrl(`/bytes/${n}`)} | wc -c`]);
    assert.equal(Number(r.stdout.trim()), n);
  });

  test('the client namespace has its own resolv.conf', async () => {
    const file = join(etcNetnsDir('tvb-client'), 'resolv.conf');
    assert.ok(existsSync(file));
    const inside = (await net.exec('client', ['cat', '/etc/resolv.conf'])).stdout;
    assert.equal(inside, readFileSync(file, 'utf8'));
    assert.notEqual(inside, readFileSync('/etc/resolv.conf', 'utf8'));
  });

  test('capture records a host link while the work runs', async () => {
    const cap = await net.capture('inet', 'eth0', () => httpGet(net, 'entry', inetUrl('/echo?m=capture-me')));
    assert.match(cap.result ?? '', /capture-me/);
    const pcap = readFileSync(cap.pcap);
    assert.ok(pcap.includes('capture-me'));
    const pkts = ipv4Packets(pcap);
    assert.ok(pkts.some((p) => p.src === '198.18.0.11' && p.dst === '198.18.0.100' && p.tcp?.dstPort === 80));
  });

  test('spawned processes are tracked and can be awaited', async () => {
    const p = net.spawn('entry', ['sh', '-c', 'echo {\\"event\\":\\"listening\\"}; exec sleep 60'], { label: 'entry:sleeper' });
    await p.waitForEvent('listening', 5000);
    assert.ok(net.procs.live.includes(p));
    const pids = (await run(['ip', 'netns', 'pids', 'tvb-entry'])).stdout.split(/\s+/).map(Number);
    assert.ok(pids.includes(p.pid), 'process lives inside the entry namespace');
  });

  test('teardown stops processes, removes namespaces, /etc/netns and the work dir; idempotent', async () => {
    const live = net.procs.live;
    assert.ok(live.length >= 3, 'inet http, iperf3 and the sleeper are running');
    await Promise.all([net.teardown(), net.teardown()]);
    await net.teardown();
    for (const p of live) assert.equal(p.running, false, `${p.label} stopped`);
    assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`)), []);
    assert.equal(existsSync(etcNetnsDir('tvb-client')), false);
    assert.equal(existsSync(net.dir), false);
    assert.equal(await rootLinks(), rootBefore);
  });

  for (const how of ['uncaught error', 'SIGINT'] as const) {
    test(`a process that dies by ${how} takes its testnet (namespaces, processes) with it`, async () => {
      const { spawn } = await import('node:child_process');
      const { pathToFileURL } = await import('node:url');
      const lib = pathToFileURL(join(repoRoot(), 'dist', 'deploy', 'testnet.js')).href;
      const script = `
        import { Testnet } from ${JSON.stringify(lib)};
        const net = await Testnet.create({ prefix: 'tvb', relays: 1 });
        console.log(JSON.stringify({ pids: net.procs.live.map((p) => p.pid) }));
        ${how === 'SIGINT' ? 'setInterval(() => {}, 1000);' : "setTimeout(() => { throw new Error('boom'); }, 100);"}`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (how === 'SIGINT' && out.includes('pids')) child.kill('SIGINT');
      });
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      const pids = (JSON.parse(out.trim().split('\n')[0] ?? '{}') as { pids?: number[] }).pids ?? [];
      assert.equal(pids.length, 2, 'inet http + iperf3 were running');
      assert.equal(code, how === 'SIGINT' ? 130 : 1);
      assert.deepEqual((await listNetns()).filter((n) => n.startsWith(`${PREFIX}-`)), []);
      for (const pid of pids) await waitUntil(`pid ${pid} to be gone`, () => gone(pid), { timeoutMs: 5000 });
      assert.equal(existsSync(etcNetnsDir('tvb-client')), false);
    });
  }

  test('cleanupStale removes a crashed run: its namespaces and the processes inside', async () => {
    await run(['ip', 'netns', 'add', 'tvb-stale1']);
    await run(['ip', 'netns', 'add', 'tvbx-keep']);
    const staleDir = mkdtempSync(join(tmpdir(), 'topvpn-tvb-'));
    try {
      const { spawn } = await import('node:child_process');
      const child = spawn('ip', ['netns', 'exec', 'tvb-stale1', 'sleep', '60'], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, 200));
      const removed = await cleanupStale(PREFIX);
      assert.deepEqual(removed, ['tvb-stale1']);
      await exited;
      const left = await listNetns();
      assert.ok(!left.includes('tvb-stale1'));
      assert.ok(left.includes('tvbx-keep'), 'another prefix that merely starts alike is left alone');
      assert.equal(existsSync(staleDir), false, 'stale work dir removed');
    } finally {
      await run(['ip', 'netns', 'del', 'tvbx-keep'], { allowFail: true });
      await run(['ip', 'netns', 'del', 'tvb-stale1'], { allowFail: true });
    }
  });
});
