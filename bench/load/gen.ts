#!/usr/bin/env node
/**
 * Load generator for bench/relay-load.ts (runs in the client namespace). Builds N in-process
 * client Circuits (client/circuit.ts), one UDP socket each, then on SIGUSR1 drives them for
 * --duration seconds with synthetic IPv4 traffic (bench/load/packets.ts) to the inet host:
 *   - UDP probes of mixed sizes to the echo responder, paced at --pps per circuit with at
 *     most --window outstanding; each reply's RTT (timestamp in the payload) is recorded;
 *   - a TCP SYN every --tcp-interval-ms per circuit to a closed port, answered by the inet
 *     kernel with RST|ACK (RTT recorded separately);
 *   - with --direct-pps > 0, UDP probes straight to the echo responder outside the tunnel
 *     (the baseline for "added" latency, taken under the same load).
 * Prints {"event":"ready",...} when built and one {"event":"result",...} line at the end.
 *
 * Usage: node dist/bench/load/gen.js --relays FILE --circuits N --echo IP:PORT [--id K]
 *        [--pps 50] [--window 8] [--tcp-port 9] [--tcp-interval-ms 500] [--direct-pps 0]
 *        [--duration 60] [--bind IP]
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { SystemClock } from '../../common/clock.js';
import { silentLogger } from '../../common/log.js';
import { Circuit, type HopInfo } from '../../client/circuit.js';
import { LatencyHist } from './hist.js';
import { ipv4ToU32, parseIp, parseProbe, probePayload, tcpPacket, udpPacket, TCP_ACK, TCP_RST, TCP_SYN } from './packets.js';

class GenUsageError extends Error {
  override readonly name = 'GenUsageError';
}

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new GenUsageError(`--${name} is required`);
  return v;
}
const num = (name: string, fallback?: string): number => {
  const v = Number(arg(name, fallback));
  if (!Number.isFinite(v) || v < 0) throw new GenUsageError(`--${name} must be a number >= 0`);
  return v;
};

const relaysFile = arg('relays');
const nCircuits = num('circuits');
const id = num('id', '0');
const [echoHost, echoPortS] = arg('echo').split(':') as [string, string];
const echoPort = Number(echoPortS);
const pps = num('pps', '50');
const windowMax = num('window', '8');
const tcpPort = num('tcp-port', '9');
const tcpIntervalMs = num('tcp-interval-ms', '500');
const directPps = num('direct-pps', '0');
const durationS = num('duration', '60');
const bindIp = arg('bind', '0.0.0.0');

const SIZES = [64, 576, 1200]; // UDP payload bytes, cycled: small, medium, near-MTU
const LOSS_MS = 2000;
const TICK_MS = 5;
const BUILD_CONCURRENCY = 10;

const path: HopInfo[] = (JSON.parse(readFileSync(relaysFile, 'utf8')) as Array<{ endpoint: string; publicKey: string }>).map((r) => {
  const [host, port] = r.endpoint.split(':') as [string, string];
  return { endpoint: { host, port: Number(port) }, staticPublic: Buffer.from(r.publicKey, 'hex') };
});
const echoAddr = ipv4ToU32(echoHost);
const clock = new SystemClock();
const log = silentLogger();

interface Load {
  n: number;
  circuit: Circuit;
  sock: Socket;
  addr: number;
  seq: number;
  credit: number;
  outstanding: Map<number, number>;
  sizeIdx: number;
  nextTcpAt: number;
  tcp: Map<number, { sentAt: number; ack: number }>;
  sport: number;
}

const loads: Load[] = [];
const udpHist = new LatencyHist();
const tcpHist = new LatencyHist();
const directHist = new LatencyHist();
const c = { txBytes: 0, rxBytes: 0, txPkts: 0, rxPkts: 0, lost: 0, tcpSent: 0, tcpAnswered: 0, tcpLost: 0, directSent: 0, directLost: 0, unknownReplies: 0, socketErrors: 0 };
const buildMs: number[] = [];
let buildFailures = 0;

function onIp(l: Load, packets: Buffer[]): void {
  const now = performance.now();
  for (const p of packets) {
    const q = parseIp(p);
    if (q === undefined) {
      c.unknownReplies++;
      continue;
    }
    if (q.proto === 'udp') {
      const pr = parseProbe(q.payload);
      const sentAt = pr ? l.outstanding.get(pr.seq) : undefined;
      if (pr === undefined || sentAt === undefined) {
        c.unknownReplies++;
        continue;
      }
      l.outstanding.delete(pr.seq);
      udpHist.add(now - sentAt);
      c.rxBytes += p.length;
      c.rxPkts++;
    } else {
      const t = l.tcp.get(q.dport);
      if (t === undefined || (q.flags & (TCP_RST | TCP_ACK)) !== (TCP_RST | TCP_ACK) || q.ack !== t.ack) {
        c.unknownReplies++;
        continue;
      }
      l.tcp.delete(q.dport);
      tcpHist.add(now - t.sentAt);
      c.tcpAnswered++;
      c.rxBytes += p.length;
      c.rxPkts++;
    }
  }
}

async function buildOne(n: number): Promise<void> {
  const sock = createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  await new Promise<void>((res) => sock.bind(0, bindIp, () => res()));
  const circuit = new Circuit({ clock, log, send: (to, p) => sock.send(p, to.port, to.host) }, path);
  sock.on('message', (m, r) => circuit.onDatagram(m, { host: r.address, port: r.port }));
  sock.on('error', () => c.socketErrors++);
  try {
    const up = await circuit.build();
    buildMs.push(up.buildMs);
    const l: Load = { n, circuit, sock, addr: ipv4ToU32(up.ipv4), seq: 0, credit: 0, outstanding: new Map(), sizeIdx: n % SIZES.length, nextTcpAt: 0, tcp: new Map(), sport: 20000 + ((n * 97) % 20000) };
    circuit.onIp((pk) => onIp(l, pk));
    loads.push(l);
  } catch {
    buildFailures++;
    circuit.close();
    sock.close();
  }
}

function sendUdp(l: Load, now: number): void {
  const size = SIZES[l.sizeIdx++ % SIZES.length]!;
  const seq = l.seq++;
  const p = udpPacket(l.addr, echoAddr, 40000 + (l.n % 20000), echoPort, probePayload(l.n, seq, now, size));
  l.outstanding.set(seq, now);
  l.circuit.sendIp([p]);
  c.txBytes += p.length;
  c.txPkts++;
}

function sendTcp(l: Load, now: number): void {
  l.sport = l.sport >= 59999 ? 20000 : l.sport + 1;
  const seq = (Math.random() * 0x1_0000_0000) >>> 0;
  l.tcp.set(l.sport, { sentAt: now, ack: (seq + 1) >>> 0 });
  const p = tcpPacket(l.addr, echoAddr, l.sport, tcpPort, seq, 0, TCP_SYN);
  l.circuit.sendIp([p]);
  c.tcpSent++;
  c.txBytes += p.length;
  c.txPkts++;
}

/** Removes entries sent more than LOSS_MS ago; returns how many. */
function expire<V>(m: Map<number, V>, now: number, sentAt: (v: V) => number): number {
  let n = 0;
  for (const [k, v] of m) {
    if (now - sentAt(v) > LOSS_MS) {
      m.delete(k);
      n++;
    }
  }
  return n;
}

async function run(): Promise<void> {
  const direct = createSocket({ type: 'udp4' });
  direct.on('error', () => c.socketErrors++);
  const directOut = new Map<number, number>();
  let directSeq = 0;
  direct.on('message', (m) => {
    const pr = parseProbe(m);
    const sentAt = pr ? directOut.get(pr.seq) : undefined;
    if (pr === undefined || sentAt === undefined) return;
    directOut.delete(pr.seq);
    directHist.add(performance.now() - sentAt);
  });
  await new Promise<void>((res) => direct.bind(0, bindIp, () => res()));

  const t0 = performance.now();
  const end = t0 + durationS * 1000;
  let last = t0;
  let directCredit = 0;
  let lastSweep = t0;
  const cpu0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (now >= end) {
        resolve();
        return;
      }
      const dt = (now - last) / 1000;
      last = now;
      for (const l of loads) {
        l.credit = Math.min(l.credit + pps * dt, windowMax);
        while (l.credit >= 1 && l.outstanding.size < windowMax) {
          l.credit -= 1;
          sendUdp(l, now);
        }
        if (tcpIntervalMs > 0 && now >= l.nextTcpAt) {
          l.nextTcpAt = now + tcpIntervalMs;
          sendTcp(l, now);
        }
      }
      if (directPps > 0) {
        directCredit = Math.min(directCredit + directPps * dt, 4);
        while (directCredit >= 1) {
          directCredit -= 1;
          const seq = directSeq++;
          directOut.set(seq, now);
          c.directSent++;
          direct.send(probePayload(0xffff, seq, now, 64), echoPort, echoHost);
        }
      }
      if (now - lastSweep >= 250) {
        lastSweep = now;
        for (const l of loads) {
          c.lost += expire(l.outstanding, now, (at) => at);
          c.tcpLost += expire(l.tcp, now, (t) => t.sentAt);
        }
        c.directLost += expire(directOut, now, (at) => at);
      }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Let replies still on their way arrive, then count what never came back as lost.
  await new Promise((r) => setTimeout(r, LOSS_MS));
  for (const l of loads) {
    c.lost += l.outstanding.size;
    c.tcpLost += l.tcp.size;
  }
  c.directLost += directOut.size;
  const drops: Record<string, number> = {};
  for (const l of loads) for (const [k, v] of Object.entries(l.circuit.stats().drops)) if (v > 0) drops[k] = (drops[k] ?? 0) + v;
  const down = loads.filter((l) => l.circuit.state !== 'up').length;
  process.stdout.write(
    `${JSON.stringify({
      event: 'result',
      id,
      circuits: loads.length,
      down,
      elapsed_s: elapsed,
      cpu_pct: ((cpu.user + cpu.system) / 1e6 / elapsed) * 100,
      ...c,
      udp_hist: udpHist.toJSON(),
      tcp_hist: tcpHist.toJSON(),
      direct_hist: directHist.toJSON(),
      client_drops: drops,
    })}\n`,
  );
  for (const l of loads) {
    l.circuit.close();
    l.sock.close();
  }
  direct.close();
}

async function main(): Promise<void> {
  const queue = Array.from({ length: nCircuits }, (_, i) => id * 1000 + i);
  await Promise.all(
    Array.from({ length: Math.min(BUILD_CONCURRENCY, nCircuits) }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) await buildOne(n);
    }),
  );
  const sorted = [...buildMs].sort((a, z) => a - z);
  process.stdout.write(`${JSON.stringify({ event: 'ready', id, circuits: loads.length, buildFailures, buildMsMedian: sorted[Math.floor(sorted.length / 2)] ?? null })}\n`);
  // A signal listener does not keep the event loop alive (a 0-circuit prober has no sockets yet).
  const keepAlive = setInterval(() => undefined, 60_000);
  await new Promise<void>((res) => process.once('SIGUSR1', () => res()));
  clearInterval(keepAlive);
  await run();
  process.exit(0);
}

process.on('SIGTERM', () => process.exit(0));
void main();
