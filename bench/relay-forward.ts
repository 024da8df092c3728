// Per-relay forwarding rate of a RelayEngine over each Bind implementation. A relay process
// (the one measured) is the entry of a 2-hop circuit client -> relay -> exit on 127.0.0.1;
// the client and the exit live in this (driver) process on native Binds. After the circuit
// is built, the driver pre-encrypts every packet (so client crypto is not the bottleneck),
// the exit's Bind turns into a plain counting sink, and the driver blasts the packets at
// the relay, round after round, while the relay swaps its Bind between node:dgram and native
// on the same port (the circuit survives: same endpoint, same keys). The relay does one
// ChaCha20-Poly1305 open per packet and forwards. Prints one JSON line.
// Run under `flock /tmp/topvpn-heavy.lock`. Needs `npm run build:native`.
// Usage: node dist/bench/relay-forward.js [--packets 60000] [--rounds 2] [--size 1300] [--window 512]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SystemClock } from '../common/clock.js';
import { silentLogger } from '../common/log.js';
import { openBind, type Bind, type BindImpl, type Endpoint } from '../conn/index.js';
import { Circuit } from '../client/circuit.js';
import { parseExitPolicy } from '../relay/exit-policy.js';
import { RelayEngine } from '../relay/engine.js';
import { generateX25519 } from '../protocol/x25519.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string, fallback: number): number => Number(arg(name) ?? fallback);
const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// ------------------------------------------------------------------ relay process

/**
 * Reads commands on stdin, one per line, answers one JSON line each:
 *   bind <impl>   (re)open the Bind on the same port with this implementation
 *   mark          reset the CPU and counter baselines
 *   stats         CPU% and counters since `mark`
 */
async function relayProcess(): Promise<void> {
  const kp = generateX25519();
  let bind: Bind | undefined;
  let port = 0;
  const engine = new RelayEngine({
    clock: new SystemClock(),
    log: silentLogger(),
    identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
    send: (to: Endpoint, packet: Buffer) => bind?.send(to, packet),
  });
  engine.start();
  const open = async (impl: BindImpl): Promise<void> => {
    bind?.close();
    bind = await openBind({ host: HOST, port, impl });
    port = bind.local.port;
    bind.onBatch((packets, from) => {
      for (let i = 0; i < packets.length; i++) engine.onDatagram(packets[i] as Buffer, from[i] as Endpoint);
    });
  };
  await open('dgram');
  const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
  out({ ready: port, publicKey: hex(kp.publicKey) });
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let fwd0 = 0;
  let in0 = { packets: 0, batches: 0 };
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, a1] = line.trim().split(/\s+/);
    if (cmd === 'bind') {
      await open(a1 as BindImpl);
      in0 = { packets: 0, batches: 0 };
      out({ ok: true, impl: bind?.impl, port });
    } else if (cmd === 'mark') {
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      fwd0 = engine.stats().packets.forward;
      const s = bind?.stats();
      in0 = { packets: s?.packetsIn ?? 0, batches: s?.batchesIn ?? 0 };
      out({ ok: true });
    } else if (cmd === 'stats') {
      const c = process.cpuUsage(cpu0);
      const wall = (performance.now() - t0) / 1000;
      const s = bind?.stats();
      const e = engine.stats();
      out({
        cpuS: (c.user + c.system) / 1e6,
        wallS: wall,
        forwarded: e.packets.forward - fwd0,
        avgBatchIn: Math.round((((s?.packetsIn ?? 0) - in0.packets) / Math.max(1, (s?.batchesIn ?? 0) - in0.batches)) * 10) / 10,
        drops: Object.fromEntries(Object.entries(e.drops).filter(([, v]) => v > 0)),
      });
    } else if (cmd === 'exit') {
      break;
    }
  }
  engine.stop();
  bind?.close();
}

// ------------------------------------------------------------------ driver

interface RelayChild {
  ask(cmd: string): Promise<Record<string, unknown>>;
  first: Promise<Record<string, unknown>>;
  kill(): void;
}

function startRelay(): RelayChild {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--role', 'relay'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error('bench/relay-forward: relay process exited');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  return {
    first: next(),
    ask: async (cmd) => {
      proc.stdin.write(`${cmd}\n`);
      return next();
    },
    kill: () => {
      proc.stdin.end('exit\n');
      setTimeout(() => proc.kill(), 2000).unref();
    },
  };
}

/** A minimal IPv4/UDP packet of `size` bytes from src to dst. */
function ipPacket(src: string, dst: string, size: number, seq: number): Buffer {
  const p = Buffer.alloc(size, seq & 0xff);
  p[0] = 0x45;
  p.writeUInt16BE(size, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(9, 22);
  p.writeUInt16BE(size - 20, 24);
  return p;
}

async function main(): Promise<void> {
  const perRound = num('packets', 60_000);
  const rounds = num('rounds', 2);
  const size = num('size', 1300);
  const window = num('window', 512);
  const clock = new SystemClock();
  const log = silentLogger();
  const relay = startRelay();
  let exitBind: Bind | undefined;
  let clientBind: Bind | undefined;
  let circuit: Circuit | undefined;
  try {
    const ready = await relay.first;
    const relayEp: Endpoint = { host: HOST, port: ready.ready as number };
    const relayPub = Buffer.from(ready.publicKey as string, 'hex');

    // The exit: a real engine while the circuit is built, a counting sink afterwards.
    const ekp = generateX25519();
    exitBind = await openBind({ host: HOST, port: 0, impl: 'native' });
    let sink = false;
    const eb = exitBind;
    const exitEngine = new RelayEngine({
      clock,
      log,
      identity: { staticSecret: ekp.secretKey, staticPublic: ekp.publicKey },
      send: (to, p) => {
        if (!sink) eb.send(to, p); // a sink says nothing (no DESTROY when its engine stops)
      },
      exit: { write: () => undefined, policy: parseExitPolicy(['accept *:*']), pool: '198.19.0.0/16' },
    });
    exitEngine.start();
    let sunk = 0;
    let firstAt = 0;
    let lastAt = 0;
    eb.onBatch((packets, from) => {
      if (sink) {
        const now = performance.now();
        if (firstAt === 0) firstAt = now;
        lastAt = now;
        sunk += packets.length;
        return;
      }
      for (let i = 0; i < packets.length; i++) exitEngine.onDatagram(packets[i] as Buffer, from[i] as Endpoint);
    });

    // The client.
    clientBind = await openBind({ host: HOST, port: 0, impl: 'native' });
    const cb = clientBind;
    let capture: Buffer[] | undefined;
    circuit = new Circuit(
      { clock, log, send: (to, p) => (capture ? capture.push(p) : cb.send(to, p)) },
      [
        { endpoint: relayEp, staticPublic: relayPub },
        { endpoint: eb.local, staticPublic: ekp.publicKey },
      ],
    );
    const c = circuit;
    cb.onBatch((packets, from) => {
      for (let i = 0; i < packets.length; i++) c.onDatagram(packets[i] as Buffer, from[i] as Endpoint);
    });
    const up = await c.build();

    // Pre-encrypt every round's packets (2 layers each).
    const total = perRound * rounds * 2;
    const t0 = performance.now();
    capture = [];
    for (let i = 0; i < total; i += 64) {
      const batch: Buffer[] = [];
      for (let k = 0; k < 64 && i + k < total; k++) batch.push(ipPacket(up.ipv4, '198.18.0.9', size, i + k));
      c.sendIp(batch);
    }
    const wire = capture;
    capture = undefined;
    const pregenS = (performance.now() - t0) / 1000;
    sink = true;
    exitEngine.stop();

    const results: Record<string, unknown>[] = [];
    let next = 0;
    for (let r = 0; r < rounds; r++) {
      for (const impl of ['dgram', 'native'] as const) {
        await relay.ask(`bind ${impl}`);
        await sleep(200);
        sunk = 0;
        firstAt = 0;
        lastAt = 0;
        await relay.ask('mark');
        // Closed loop, like a window-limited flow: at most `window` packets in flight
        // (sent, not yet at the sink); when the sink makes no progress for 20 ms the
        // outstanding packets are written off as lost.
        const end = next + perRound;
        const roundStart = next;
        const tStart = performance.now();
        let lost = 0;
        let lastProgress = performance.now();
        let lastSunk = 0;
        while (next < end) {
          const now = performance.now();
          if (sunk !== lastSunk) {
            lastSunk = sunk;
            lastProgress = now;
          } else if (now - lastProgress > 20) {
            lost = next - roundStart - sunk;
            lastProgress = now;
          }
          let room = window - (next - roundStart - sunk - lost);
          while (room >= 64 && next < end) {
            const n = Math.min(64, end - next);
            cb.sendBatch(wire.slice(next, next + n).map((packet) => ({ to: relayEp, packet })));
            next += n;
            room -= n;
          }
          await tick();
        }
        // Wait until the relay has drained.
        let seen = -1;
        while (seen !== sunk) {
          seen = sunk;
          await sleep(300);
        }
        const st = await relay.ask('stats');
        const wall = Math.max(1e-3, (lastAt - tStart) / 1000);
        results.push({
          round: r,
          relayBind: impl,
          offered: perRound,
          forwarded: sunk,
          forwardPps: Math.round(sunk / wall),
          lossPct: Math.round((1 - sunk / perRound) * 1000) / 10,
          relayCpuPct: Math.round(((st.cpuS as number) / wall) * 100),
          relayCpuUsPerPacket: Math.round(((st.cpuS as number) / Math.max(1, st.forwarded as number)) * 1e6 * 100) / 100,
          relayAvgBatchIn: st.avgBatchIn,
          relayDrops: st.drops,
        });
      }
    }
    const rate = (impl: string): number[] => results.filter((x) => x.relayBind === impl).map((x) => x.forwardPps as number).sort((a, b) => a - b);
    const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)] ?? 0;
    process.stdout.write(`${JSON.stringify({
      bench: 'relay-forward',
      path: 'client (native Bind, pre-encrypted) -> relay under test (RelayEngine, 1 layer open + forward) -> exit sink (native Bind), 127.0.0.1',
      innerBytes: size,
      window,
      wireBytes: wire[0]?.length,
      pregenSeconds: Math.round(pregenS * 10) / 10,
      results,
      forwardPpsMedian: { dgram: median(rate('dgram')), native: median(rate('native')) },
    })}\n`);
  } finally {
    circuit?.close();
    clientBind?.close();
    exitBind?.close();
    relay.kill();
  }
}

const task = arg('role') === 'relay' ? relayProcess() : main();
task.catch((err: unknown) => {
  process.stderr.write(`bench/relay-forward: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
