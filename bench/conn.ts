// UDP Bind throughput: 1400-byte datagrams between two Binds in two network namespaces
// (tvu-bench-a, tvu-bench-b) joined by a veth pair, for each implementation (node:dgram,
// native without GSO/GRO, native with GSO/GRO), in both directions. Sender and receiver are
// separate processes (`ip netns exec`), each with its own core if the machine is idle. The
// sender blasts for --seconds; the receiver counts what arrives. Prints one JSON line.
// Needs root, iproute2, `npm run build:native`. Run under `flock /tmp/topvpn-heavy.lock`.
// Usage: node dist/bench/conn.js [--seconds 3] [--size 1400]
//   (internal) --role send|recv --impl native|dgram --offload 0|1 --host H [--to H:P]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { openBind, type Bind, type BindStats } from '../conn/index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string, fallback: number): number => Number(arg(name) ?? fallback);

const seconds = num('seconds', 3);
const size = num('size', 1400);
const NS_A = 'tvu-bench-a';
const NS_B = 'tvu-bench-b';
const ADDR_A = '198.18.90.1';
const ADDR_B = '198.18.90.2';
const PORT = 45000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

type Impl = 'native' | 'dgram';

async function open(impl: Impl, host: string, port: number, offload: boolean): Promise<Bind> {
  return openBind({ host, port, impl, offload });
}

function cpuPct(c: NodeJS.CpuUsage, wallS: number): number {
  return Math.round(((c.user + c.system) / 1e6 / wallS) * 100);
}

/** Receiver: counts datagrams until `seconds` after the first one, or 1 s of silence. */
async function receiver(impl: Impl, host: string, offload: boolean): Promise<void> {
  const b = await open(impl, host, PORT, offload);
  let packets = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  let cpu0 = process.cpuUsage();
  b.onBatch((p) => {
    const now = performance.now();
    if (first === 0) {
      first = now;
      cpu0 = process.cpuUsage();
    }
    last = now;
    packets += p.length;
    for (const x of p) bytes += x.length;
  });
  process.stdout.write(`${JSON.stringify({ ready: b.local.port })}\n`);
  const start = performance.now();
  for (;;) {
    await sleep(100);
    const now = performance.now();
    if (first === 0 && now - start > 15_000) break;
    if (first !== 0 && (now - last > 1000 || now - first > (seconds + 3) * 1000)) break;
  }
  const wall = Math.max(1e-3, (last - first) / 1000);
  const st: BindStats = b.stats();
  b.close();
  process.stdout.write(`${JSON.stringify({ packets, bytes, seconds: wall, pps: Math.round(packets / wall), mbps: Math.round((bytes * 8) / wall / 1e6), cpuPct: cpuPct(process.cpuUsage(cpu0), wall), avgBatch: Math.round((st.packetsIn / Math.max(1, st.batchesIn)) * 10) / 10, groMessages: st.groMessages })}\n`);
}

/** Sender: sendBatch of 64 same-size datagrams, 16 per event-loop turn, for `seconds`. */
async function sender(impl: Impl, host: string, to: string, offload: boolean): Promise<void> {
  const [h, p] = to.split(':');
  const dst = { host: h as string, port: Number(p) };
  const b = await open(impl, host, 0, offload);
  const items = Array.from({ length: 64 }, (_, i) => ({ to: dst, packet: Buffer.alloc(size, i) }));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let offered = 0;
  while (performance.now() < end) {
    for (let k = 0; k < 16; k++) {
      b.sendBatch(items);
      offered += items.length;
    }
    await tick();
  }
  await sleep(200); // let queued datagrams drain before reading counters
  const wall = (performance.now() - t0) / 1000;
  const st = b.stats();
  b.close();
  process.stdout.write(`${JSON.stringify({ offered, packetsOut: st.packetsOut, pps: Math.round(st.packetsOut / wall), cpuPct: cpuPct(process.cpuUsage(cpu0), wall), syscalls: st.batchesOut, gsoMessages: st.gsoMessages, sendDropped: st.sendDropped, sendWaits: st.sendWaits, sendErrors: st.sendErrors })}\n`);
}

// ---------------------------------------------------------------- orchestration

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const children = new Set<ChildProcess>();

function child(ns: string, args: string[]): { proc: ChildProcess; lines: AsyncIterableIterator<string> } {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return { proc, lines };
}

async function nextJson(it: AsyncIterableIterator<string>, what: string): Promise<Record<string, number>> {
  const r = await it.next();
  if (r.done) throw new Error(`bench/conn: ${what} exited without output`);
  return JSON.parse(r.value) as Record<string, number>;
}

function cleanup(): void {
  for (const c of children) c.kill();
  for (const ns of [NS_A, NS_B]) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // not there
    }
  }
}

async function one(impl: Impl, offload: boolean, from: [string, string], to: [string, string]): Promise<Record<string, unknown>> {
  const flags = ['--impl', impl, '--offload', offload ? '1' : '0', '--seconds', String(seconds), '--size', String(size)];
  const rx = child(to[0], ['--role', 'recv', '--host', to[1], ...flags]);
  await nextJson(rx.lines, 'receiver');
  const tx = child(from[0], ['--role', 'send', '--host', from[1], '--to', `${to[1]}:${PORT}`, ...flags]);
  const sent = await nextJson(tx.lines, 'sender');
  const got = await nextJson(rx.lines, 'receiver');
  return {
    impl: impl === 'native' ? (offload ? 'native+gso/gro' : 'native') : 'dgram',
    dir: `${from[0].slice(-1)}->${to[0].slice(-1)}`,
    rxPps: got.pps,
    rxMbps: got.mbps,
    txPps: sent.pps,
    lossPct: sent.packetsOut ? Math.round((1 - (got.packets ?? 0) / sent.packetsOut) * 1000) / 10 : 0,
    txCpuPct: sent.cpuPct,
    rxCpuPct: got.cpuPct,
    rxAvgBatch: got.avgBatch,
    txPacketsPerSyscall: Math.round(((sent.packetsOut ?? 0) / Math.max(1, sent.syscalls ?? 0)) * 10) / 10,
    gsoMessages: sent.gsoMessages,
    groMessages: got.groMessages,
    txDropped: sent.sendDropped,
  };
}

async function main(): Promise<void> {
  cleanup();
  try {
    for (const ns of [NS_A, NS_B]) sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', 'tvuba', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'tvubb', 'netns', NS_B]);
    for (const [ns, dev, addr] of [[NS_A, 'tvuba', ADDR_A], [NS_B, 'tvubb', ADDR_B]] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      sh('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    const a: [string, string] = [NS_A, ADDR_A];
    const b: [string, string] = [NS_B, ADDR_B];
    const results: Record<string, unknown>[] = [];
    for (const [impl, offload] of [['dgram', false], ['native', false], ['native', true]] as const) {
      results.push(await one(impl, offload, a, b));
      results.push(await one(impl, offload, b, a));
    }
    process.stdout.write(`${JSON.stringify({
      bench: 'conn',
      path: `UDP ${size} B datagrams, ns a <-veth-> ns b, sender and receiver in separate processes, ${seconds} s each`,
      results,
    })}\n`);
  } finally {
    cleanup();
  }
}

const role = arg('role');
const impl = (arg('impl') ?? 'native') as Impl;
const offload = arg('offload') === '1';
const task = role === 'recv' ? receiver(impl, arg('host') ?? '0.0.0.0', offload)
  : role === 'send' ? sender(impl, arg('host') ?? '0.0.0.0', arg('to') ?? '', offload)
  : main();
task.catch((err: unknown) => {
  process.stderr.write(`bench/conn: ${(err as Error).stack ?? String(err)}\n`);
  if (role === undefined) cleanup();
  process.exitCode = 1;
});
