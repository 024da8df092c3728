// TUN→TUN forwarding throughput of LinuxTun: two network namespaces (tvt-bench-a, -b),
// one TUN in each, this process copying every batch read from one device into the other.
// iperf3 (TCP, one stream) runs from a to b. Prints one JSON line.
// Needs root, iperf3, `npm run build:native`. Run under `flock /tmp/topvpn-heavy.lock`.
// Usage: node dist/bench/tun.js [--seconds 5] [--rounds 3]
import { execFileSync, spawn } from 'node:child_process';
import { openLinuxTun, type LinuxTun } from '../tun/linux.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const seconds = arg('seconds', 5);
const rounds = arg('rounds', 3);
const NS_A = 'tvt-bench-a';
const NS_B = 'tvt-bench-b';
const ADDR_A = '198.18.80.1';
const ADDR_B = '198.18.80.2';
const MTU = 1400;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err || out}`))));
  });
}

function cleanup(): void {
  for (const ns of [NS_A, NS_B]) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // not there
    }
  }
}

async function main(): Promise<void> {
  try {
    sh('sh', ['-c', 'command -v iperf3']);
  } catch {
    throw new Error('iperf3 missing: apt-get install -y iperf3');
  }
  cleanup();
  let a: LinuxTun | undefined;
  let b: LinuxTun | undefined;
  const servers: number[] = [];
  try {
    for (const ns of [NS_A, NS_B]) sh('ip', ['netns', 'add', ns]);
    a = openLinuxTun({ name: 'tvtba', mtu: MTU, netns: NS_A });
    b = openLinuxTun({ name: 'tvtbb', mtu: MTU, netns: NS_B });
    for (const [ns, dev, addr] of [[NS_A, 'tvtba', ADDR_A], [NS_B, 'tvtbb', ADDR_B]] as const) {
      sh('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
    }
    const ta = a;
    const tb = b;
    let batches = 0;
    let packets = 0;
    ta.onPackets((p) => { batches++; packets += p.length; tb.write(p); });
    tb.onPackets((p) => { batches++; packets += p.length; ta.write(p); });
    for (const t of [ta, tb]) t.onError((e) => { throw e; });

    // Idle cost: both devices polled, no traffic.
    await sleep(300);
    const idle0 = process.cpuUsage();
    await sleep(2000);
    const idle = process.cpuUsage(idle0);
    const idleCpuPct = ((idle.user + idle.system) / 2_000_000) * 100;

    const kernelTxDropped = (ns: string, dev: string): number =>
      (JSON.parse(sh('ip', ['-n', ns, '-s', '-j', 'link', 'show', 'dev', dev])) as Array<{ stats64: { tx: { dropped: number } } }>)[0]!.stats64.tx.dropped;
    const results: Array<{ mbps: number; cpuPct: number; kpps: number; avgBatch: number; retransmits: number; writeDropped: number; tunQueueDropped: number }> = [];
    for (let r = 0; r < rounds; r++) {
      const server = spawn('ip', ['netns', 'exec', NS_B, 'iperf3', '-s', '-1', '-B', ADDR_B], { stdio: 'ignore' });
      if (server.pid) servers.push(server.pid);
      const serverDone = new Promise((res) => server.on('exit', res));
      await sleep(400);
      const d0 = ta.stats().writeDropped + tb.stats().writeDropped;
      const q0 = kernelTxDropped(NS_A, 'tvtba') + kernelTxDropped(NS_B, 'tvtbb');
      const b0 = batches;
      const p0 = packets;
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const out = await run('ip', ['netns', 'exec', NS_A, 'iperf3', '-c', ADDR_B, '-t', String(seconds), '-J']);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      await serverDone;
      const j = JSON.parse(out) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits?: number } } };
      results.push({
        mbps: Math.round(j.end.sum_received.bits_per_second / 1e6),
        cpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
        kpps: Math.round((packets - p0) / wall / 1000),
        writeDropped: ta.stats().writeDropped + tb.stats().writeDropped - d0,
        tunQueueDropped: kernelTxDropped(NS_A, 'tvtba') + kernelTxDropped(NS_B, 'tvtbb') - q0,
        avgBatch: Math.round(((packets - p0) / Math.max(1, batches - b0)) * 10) / 10,
        retransmits: j.end.sum_sent.retransmits ?? 0,
      });
    }
    const sorted = results.map((r) => r.mbps).sort((x, y) => x - y);
    process.stdout.write(`${JSON.stringify({
      bench: 'tun',
      path: 'iperf3 TCP, ns a -> TUN -> node (LinuxTun read batch -> write) -> TUN -> ns b',
      mtu: MTU,
      seconds,
      rounds: results,
      mbps: { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] },
      idleCpuPct: Math.round(idleCpuPct * 100) / 100,
    })}\n`);
  } finally {
    a?.close();
    b?.close();
    for (const pid of servers) {
      try {
        process.kill(pid);
      } catch {
        // already exited
      }
    }
    cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/tun: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
