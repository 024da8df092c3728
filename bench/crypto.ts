/**
 * Crypto micro-benchmarks. Prints one JSON line of operations per second (single core, this
 * process), plus the Ed25519 public key import cost (SPKI DER vs JWK) and verification time in
 * µs (`ed25519_*_us`). Run: node dist/bench/crypto.js [--ms 400]
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { ed25519PublicKeyFromRaw } from '../common/ed25519.js';
import { x25519 as nobleX } from '@noble/curves/ed25519.js';
import { ManualClock } from '../common/clock.js';
import { silentLogger } from '../common/log.js';
import { aeadKey, counterNonce, openTo, sealInto } from '../protocol/aead.js';
import { nobleOpen, nobleSeal } from '../protocol/aead-noble.js';
import { Kind } from '../protocol/constants.js';
import { createInit, finish, respond } from '../protocol/handshake.js';
import { openLayer, sealLayers, type LayerSpec } from '../protocol/onion.js';
import { DEFAULT_SESSION_LIMITS, HopSession } from '../protocol/session.js';
import { generateX25519, x25519 } from '../protocol/x25519.js';
import { RelayEngine } from '../relay/engine.js';
import { Circuit } from '../client/circuit.js';
import { parseExitPolicy } from '../relay/exit-policy.js';

const msArg = process.argv.indexOf('--ms');
const BUDGET = msArg > 0 ? Number(process.argv[msArg + 1]) : 400;

/** Runs fn in batches until BUDGET ms elapsed; returns ops/s. */
function rate(fn: (i: number) => void, batch = 100): number {
  for (let i = 0; i < batch; i++) fn(i); // warm-up
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < BUDGET) {
    for (let i = 0; i < batch; i++) fn(n + i);
    n += batch;
    t = performance.now();
  }
  return Math.round((n * 1000) / (t - t0));
}

const SIZE = 1400;
const rawKey = randomBytes(32);
const key = aeadKey(rawKey);
const aad = randomBytes(16);
const pt = randomBytes(SIZE);
const out = Buffer.alloc(SIZE + 16);
const sealed = Buffer.alloc(SIZE + 16);
sealInto(key, 1, aad, pt, sealed, 0);
const nonce1 = counterNonce(1);
const nobleSealed = nobleSeal(rawKey, nonce1, aad, pt);

const results: Record<string, number | string> = { bench: 'crypto', packetBytes: SIZE, budgetMs: BUDGET };
results.node_seal_per_s = rate((i) => sealInto(key, i, aad, pt, out, 0));
results.node_open_per_s = rate(() => openTo(key, 1, aad, sealed));
results.noble_seal_per_s = rate(() => nobleSeal(rawKey, nonce1, aad, pt));
results.noble_open_per_s = rate(() => nobleOpen(rawKey, nonce1, aad, nobleSealed));
results.node_seal_MBps = Math.round(((results.node_seal_per_s as number) * SIZE) / 1e6);

const a = generateX25519();
const b = generateX25519();
results.node_x25519_keyobject_per_s = rate(() => x25519(a.keyObject!, b.publicKey), 20);
results.node_x25519_raw_secret_per_s = rate(() => x25519(a.secretKey, b.publicKey), 20);
results.noble_x25519_per_s = rate(() => nobleX.getSharedSecret(a.secretKey, b.publicKey), 5);

const relay = generateX25519();
results.handshake_full_per_s = rate(() => {
  const { init, state } = createInit(relay.publicKey, 1);
  const r = respond(relay, init, 2);
  finish(state, r.resp, 1);
}, 10);

// 3-layer wrap (client) and the three per-hop unwraps (relays) of a 1400 B packet
const limits = { ...DEFAULT_SESSION_LIMITS };
const pairs = [0, 1, 2].map(() => {
  const k = { forward: randomBytes(32), backward: randomBytes(32) };
  return { c: new HopSession('initiator', k, 0, limits), r: new HopSession('responder', k, 0, limits) };
});
const layers: LayerSpec[] = pairs.map((p, i) => ({ session: p.c, receiverIdx: i + 1 }));
results.wrap3_per_s = rate(() => sealLayers(layers, Kind.IP, pt, 0));
const pkts: Buffer[] = [];
for (let i = 0; i < 200_000; i++) pkts.push(sealLayers(layers, Kind.IP, pt, 0)!);
let k = 0;
results.unwrap3_per_s = rate(() => {
  let p = pkts[k++ % pkts.length]!;
  for (let h = 0; h < 3; h++) {
    const r = openLayer(pairs[h]!.r, p, 0);
    if (typeof r === 'string') throw new Error(`unwrap failed: ${r}`);
    p = r.subarray(1);
  }
});

// engine-level: a 3-hop circuit in memory, synchronous delivery; per IP packet end to end (client wrap,
// entry + middle + exit engines, exit write), then the reply path (exit wrap, 2 rewraps, client peel 3)
{
  const clock = new ManualClock();
  const q: Array<() => void> = [];
  const nodes = new Map<string, (p: Buffer, f: { host: string; port: number }) => void>();
  const sender = (from: { host: string; port: number }) => (to: { host: string; port: number }, p: Buffer) => {
    const r = nodes.get(`${to.host}:${to.port}`);
    if (r) q.push(() => r(p, from));
  };
  const drain = () => {
    while (q.length) q.shift()!();
  };
  let exitOut = 0;
  const engines = [0, 1, 2].map((i) => {
    const kp = generateX25519();
    const ep = { host: `198.18.0.${i + 1}`, port: 5000 };
    const e = new RelayEngine({
      clock,
      log: silentLogger(),
      identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
      send: sender(ep),
      exit: { write: (ps) => (exitOut += ps.length), policy: parseExitPolicy('accept *:*'), pool: '198.19.0.0/16' },
    });
    nodes.set(`${ep.host}:${ep.port}`, (p, f) => e.onDatagram(p, f));
    return { e, ep, pub: kp.publicKey };
  });
  const me = { host: '198.18.1.1', port: 4000 };
  const c = new Circuit({ clock, log: silentLogger(), send: sender(me) }, engines.map((x) => ({ endpoint: x.ep, staticPublic: x.pub })));
  nodes.set(`${me.host}:${me.port}`, (p, f) => c.onDatagram(p, f));
  let back = 0;
  c.onIp((ps) => (back += ps.length));
  const pr = c.build();
  for (let i = 0; i < 10; i++) {
    drain();
    await Promise.resolve();
  }
  const up = await pr;
  const ip = Buffer.alloc(SIZE);
  ip[0] = 0x45;
  ip.writeUInt16BE(SIZE, 2);
  ip[9] = 17;
  Buffer.from(up.ipv4.split('.').map(Number)).copy(ip, 12);
  Buffer.from([198, 18, 200, 1]).copy(ip, 16);
  const batch = [ip];
  results.engine_forward_3hop_pkts_per_s = rate(() => {
    c.sendIp(batch);
    drain();
  });
  const rip = Buffer.from(ip);
  ip.copy(rip, 12, 16, 20);
  ip.copy(rip, 16, 12, 16);
  const rb = [rip];
  results.engine_backward_3hop_pkts_per_s = rate(() => {
    engines[2]!.e.onTunPackets(rb);
    drain();
  });
  results.engine_forward_Mbps = Math.round(((results.engine_forward_3hop_pkts_per_s as number) * SIZE * 8) / 1e6);
  // one relay alone: the entry unwrapping and forwarding pre-built client packets
  const captured: Buffer[] = [];
  nodes.set('198.18.0.1:5000', (p) => captured.push(p));
  for (let i = 0; i < 40_000; i++) c.sendIp(batch);
  drain();
  nodes.set('198.18.0.2:5000', () => undefined);
  const entry = engines[0]!.e;
  const before = entry.stats().packets.forward;
  const t0 = performance.now();
  for (const p of captured) {
    entry.onDatagram(p, me);
    q.length = 0;
  }
  results.relay_entry_forward_pkts_per_s = Math.round((captured.length * 1000) / (performance.now() - t0));
  if (entry.stats().packets.forward - before !== captured.length) throw new Error('entry dropped packets in the bench');
  nodes.set('198.18.0.1:5000', (p, f) => engines[0]!.e.onDatagram(p, f));
  if (exitOut === 0 || back === 0) throw new Error('engine bench moved no packets');
  c.close();
}

// Ed25519 public key import (common/ed25519.ts): SPKI DER against JWK, per distinct key, and a
// verification with an imported key. A signature from a key a process has not seen costs import + verify.
{
  const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
  const msg = randomBytes(200);
  const keys = Array.from({ length: 500 }, () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12); // DER export: see protocol/x25519.ts
    return { raw, sig: nodeSign(null, msg, privateKey) };
  });
  const perOp = (fn: (k: (typeof keys)[number]) => unknown): number => {
    for (const k of keys.slice(0, 50)) fn(k); // warm-up
    const t0 = performance.now();
    for (let r = 0; r < 4; r++) for (const k of keys) fn(k);
    return Math.round(((performance.now() - t0) * 1000 * 100) / (4 * keys.length)) / 100;
  };
  const der = (k: (typeof keys)[number]) => createPublicKey({ key: Buffer.concat([SPKI, k.raw]), format: 'der', type: 'spki' });
  results.ed25519_import_der_us = perOp(der);
  results.ed25519_import_jwk_us = perOp((k) => ed25519PublicKeyFromRaw(k.raw));
  const imported = keys.map((k) => ({ ...k, key: ed25519PublicKeyFromRaw(k.raw) }));
  for (const k of imported) if (!nodeVerify(null, msg, k.key, k.sig) || !nodeVerify(null, msg, der(k), k.sig)) throw new Error('imported key does not verify');
  const t0 = performance.now();
  for (let r = 0; r < 4; r++) for (const k of imported) nodeVerify(null, msg, k.key, k.sig);
  results.ed25519_verify_us = Math.round(((performance.now() - t0) * 1000 * 100) / (4 * imported.length)) / 100;
}

console.log(JSON.stringify(results));
