#!/usr/bin/env node
/**
 * A malicious link for fault tests: a UDP proxy that sits where a relay's next hop should
 * be and, while its attack is on, mangles a fraction of the DATA packets (first byte 4)
 * going either way. Everything else (handshakes, DESTROY, and DATA while the attack is off)
 * passes unchanged.
 *
 * Usage: node dist/deploy/mangle-proxy.js --listen IP:PORT --upstream IP:PORT [--rate 0.1] [--seed N]
 *   Packets from --upstream go back to the last other peer seen ("downstream"); packets from
 *   anyone else go to --upstream (one socket, so the upstream sees the proxy's address).
 *   SIGUSR1: attack on. SIGUSR2: attack off, then (once held packets are out) prints
 *   {"event":"mangled","forward":Counts,"backward":Counts,"passed":{...}} on stdout.
 *   Prints {"event":"listening","listen":"IP:PORT"} when ready; SIGTERM/SIGINT stop it.
 *
 * Each mangled packet gets exactly one of (uniformly chosen):
 *   replay   — sent as is, and an identical copy 1–20 ms later (the copy must be dropped)
 *   reorder  — held back until the next packet in that direction has gone (or 10 ms); not
 *              altered, so the receiver must accept it (replay windows allow reordering)
 *   flip     — one random bit flipped, the original is not sent (must be dropped)
 *   truncate — cut to a random length 1..len-1, the original is not sent (must be dropped)
 * So the packets a correct receiver drops are exactly replay + flip + truncate.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { mangleCountsZero, MANGLE_KINDS, Rng, type MangleCounts, type MangleKind } from './mangle.js';

class ProxyUsageError extends Error {
  override readonly name = 'ProxyUsageError';
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function endpoint(s: string | undefined, what: string): { host: string; port: number } {
  const m = s === undefined ? null : /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(s);
  if (!m) throw new ProxyUsageError(`--${what} IP:PORT required`);
  return { host: m[1] as string, port: Number(m[2]) };
}

const listen = endpoint(arg('listen'), 'listen');
const upstream = endpoint(arg('upstream'), 'upstream');
const rate = Number(arg('rate') ?? '0.1');
if (!(rate >= 0 && rate <= 1)) throw new ProxyUsageError('--rate must be 0..1');
const rng = new Rng(Number(arg('seed') ?? Date.now()) >>> 0);

const DATA = 4;
const REORDER_HOLD_MS = 10;

type Dir = 'forward' | 'backward';
const counts: Record<Dir, MangleCounts> = { forward: mangleCountsZero(), backward: mangleCountsZero() };
const passed: Record<Dir, number> = { forward: 0, backward: 0 };
let attack = false;
let downstream: { host: string; port: number } | undefined;
const held: Record<Dir, { p: Buffer; timer: NodeJS.Timeout } | undefined> = { forward: undefined, backward: undefined };
let inFlight = 0;

const sock = createSocket('udp4');

function target(dir: Dir): { host: string; port: number } | undefined {
  return dir === 'forward' ? upstream : downstream;
}

function out(dir: Dir, p: Buffer): void {
  const t = target(dir);
  if (t) sock.send(p, t.port, t.host);
}

function releaseHeld(dir: Dir): void {
  const h = held[dir];
  if (!h) return;
  held[dir] = undefined;
  clearTimeout(h.timer);
  out(dir, h.p);
}

function mangle(dir: Dir, p: Buffer, kind: MangleKind): void {
  counts[dir][kind]++;
  switch (kind) {
    case 'replay': {
      out(dir, p);
      const copy = Buffer.from(p);
      inFlight++;
      setTimeout(() => {
        inFlight--;
        out(dir, copy);
      }, 1 + rng.int(20));
      return;
    }
    case 'reorder':
      releaseHeld(dir);
      held[dir] = { p: Buffer.from(p), timer: setTimeout(() => releaseHeld(dir), REORDER_HOLD_MS) };
      return;
    case 'flip': {
      const q = Buffer.from(p);
      const i = rng.int(q.length);
      q[i] = (q[i] as number) ^ (1 << rng.int(8));
      out(dir, q);
      return;
    }
    case 'truncate':
      out(dir, Buffer.from(p.subarray(0, 1 + rng.int(p.length - 1))));
      return;
  }
}

sock.on('message', (msg: Buffer, from: RemoteInfo) => {
  const dir: Dir = from.address === upstream.host && from.port === upstream.port ? 'backward' : 'forward';
  if (dir === 'forward') downstream = { host: from.address, port: from.port };
  if (attack && msg.length > 1 && msg[0] === DATA && rng.next() < rate) {
    mangle(dir, msg, MANGLE_KINDS[rng.int(MANGLE_KINDS.length)] as MangleKind);
    return;
  }
  passed[dir]++;
  out(dir, msg);
  releaseHeld(dir);
});

sock.bind(listen.port, listen.host, () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', listen: `${listen.host}:${listen.port}` })}\n`);
});

process.on('SIGUSR1', () => {
  attack = true;
  process.stdout.write(`${JSON.stringify({ event: 'attack', on: true })}\n`);
});
process.on('SIGUSR2', () => {
  attack = false;
  releaseHeld('forward');
  releaseHeld('backward');
  const report = (): void => {
    if (inFlight > 0) {
      setTimeout(report, 5);
      return;
    }
    process.stdout.write(`${JSON.stringify({ event: 'mangled', forward: counts.forward, backward: counts.backward, passed })}\n`);
  };
  report();
});
const stop = (): void => {
  sock.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
