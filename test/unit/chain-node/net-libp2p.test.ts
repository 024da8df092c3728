import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { Registry } from 'prom-client';
import { Libp2pNetwork, MAX_FRAME_UNKNOWN_PEER, encodeFrame } from '../../../chain/node/net-libp2p.js';
import { createChainMetrics } from '../../../chain/node/metrics.js';
import { packValue } from '../../../chain/node/wire.js';
import { generateKeyPair } from '../../../chain/node/keys.js';
import { silentLogger } from '../../../common/log.js';
import type { NetMessage } from '../../../chain/node/net.js';
import { p2pEndpointFor } from '../../../chain/node/peer-book.js';
import { noisePatchesApplied, uint16LengthOrNeedMore } from '../../../chain/node/noise-patches.js';
import { waitUntil } from '../../helpers/wait.js';

/** Polls a synchronous condition every 20 ms for up to 15 s. */
const until = (what: string, cond: () => boolean): Promise<true> => waitUntil(what, () => cond() || undefined, { timeoutMs: 15_000, intervalMs: 20 });

type Key = ReturnType<typeof generateKeyPair>;

/** Loopback listen addresses at a random base port: at(i) = /ip4/127.0.0.1/tcp/(base + i). */
function loopbackPorts(): (i: number) => string {
  const base = 20000 + Math.floor(Math.random() * 20000);
  return (i) => `/ip4/127.0.0.1/tcp/${base + i}`;
}

/** A silent network for `k` listening at `listen`, with this genesis directory and bootstrap list. */
function netFor(k: Key, listen: string, peers: Array<{ address: string; multiaddr: string }>, bootstrap?: string[]): Libp2pNetwork {
  return new Libp2pNetwork({ seedHex: k.seedHex, address: k.address, listen: [listen], peers, ...(bootstrap ? { bootstrap } : {}), log: silentLogger() });
}

/** Two started networks A and B that know each other; B records what it receives. */
async function startPair(): Promise<{ a: Key; b: Key; na: Libp2pNetwork; nb: Libp2pNetwork; got: NetMessage[]; stop: () => Promise<void> }> {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const at = loopbackPorts();
  const peers = [
    { address: a.address, multiaddr: at(0) },
    { address: b.address, multiaddr: at(1) },
  ];
  const na = netFor(a, at(0), peers);
  const nb = netFor(b, at(1), peers);
  const got: NetMessage[] = [];
  nb.onMessage((_f, m) => got.push(m));
  await na.start();
  await nb.start();
  return { a, b, na, nb, got, stop: () => Promise.all([na.stop(), nb.stop()]).then(() => undefined) };
}

test('two libp2p nodes exchange framed messages both ways, with authenticated sender', async () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const pa = 20000 + Math.floor(Math.random() * 20000);
  const pb = pa + 1;
  const peers = [
    { address: a.address, multiaddr: `/ip4/127.0.0.1/tcp/${pa}` },
    { address: b.address, multiaddr: `/ip4/127.0.0.1/tcp/${pb}` },
  ];
  const na = netFor(a, `/ip4/127.0.0.1/tcp/${pa}`, peers);
  const nb = netFor(b, `/ip4/127.0.0.1/tcp/${pb}`, peers);
  const gotB: Array<[string, NetMessage]> = [];
  const gotA: Array<[string, NetMessage]> = [];
  nb.onMessage((f, m) => gotB.push([f, m]));
  na.onMessage((f, m) => gotA.push([f, m]));
  await na.start();
  await nb.start();
  try {
    for (let i = 0; i < 50; i++) na.send(b.address, { k: 'x', c: 'shard-0', body: { i, big: 10n ** 20n + BigInt(i), bytes: new Uint8Array([i]) } });
    nb.send(a.address, { k: 'y', c: 'beacon', body: 'hello' });
    const deadline = Date.now() + 10_000;
    while ((gotB.length < 50 || gotA.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(gotB.length, 50);
    assert.equal(gotA.length, 1);
    assert.equal(gotB[0]![0], a.address);
    assert.equal(gotA[0]![0], b.address);
    const body = gotB[49]![1].body as { i: number; big: bigint; bytes: Uint8Array };
    assert.equal(body.i, 49);
    assert.equal(body.big, 10n ** 20n + 49n);
    assert.deepEqual([...body.bytes], [49]);
  } finally {
    await na.stop();
    await nb.stop();
  }
});

test('sent traffic is counted per message kind and recipient with the framed size, queued frames when written; the metrics follow it', async () => {
  const { a, b, na, nb, got, stop } = await startPair();
  try {
    const txs = (i: number): NetMessage => ({ k: 'txs', c: 'shard-0', body: { i, pad: 'x'.repeat(i * 10) } });
    const size = (m: NetMessage): number => encodeFrame(packValue(m)).length;
    // Sent before the stream is up: queued, counted once written.
    for (let i = 0; i < 3; i++) na.send(b.address, txs(i));
    const audit: NetMessage = { k: 'audit', c: 'beacon', body: { h: 1 } };
    na.multicast([b.address, a.address], audit); // the sender itself is skipped
    const odd: NetMessage = { k: 'no-such-kind', c: 'beacon', body: null };
    na.send(b.address, odd);
    await until('5 messages at b', () => got.length === 5);
    const sent = na.sentTraffic();
    assert.deepEqual(sent.get('txs'), { messages: 3, bytes: size(txs(0)) + size(txs(1)) + size(txs(2)) });
    assert.deepEqual(sent.get('audit'), { messages: 1, bytes: size(audit) });
    assert.deepEqual(sent.get('other'), { messages: 1, bytes: size(odd) });
    assert.equal(sent.get('cons'), undefined);
    assert.equal(nb.sentTraffic().size, 0);

    const metrics = createChainMetrics(new Registry());
    metrics.observeTraffic(sent);
    metrics.observeTraffic(sent); // cumulative: a second scrape adds nothing
    const text = await metrics.registry.metrics();
    assert.match(text, new RegExp(`topchain_p2p_sent_messages_total\\{kind="txs"\\} 3\\n`));
    assert.match(text, new RegExp(`topchain_p2p_sent_bytes_total\\{kind="audit"\\} ${size(audit)}\\n`));
    assert.match(text, /topchain_p2p_sent_bytes_total\{kind="cons"\} 0\n/);
  } finally {
    await stop();
  }
});

test('messages sent in one event-loop turn leave in one stream write, and noise hands it to the socket as one write', async () => {
  const { a, b, na, nb, got, stop } = await startPair();
  const socketWrite = Socket.prototype.write;
  const writes: number[] = [];
  try {
    na.send(b.address, { k: 'txs', c: 'shard-0', body: 'warm-up' });
    await until('the stream is up', () => got.length === 1);
    assert.deepEqual(noisePatchesApplied(), { oneWrite: true, lengthDecoder: true });
    Socket.prototype.write = function write(this: Socket, ...args: Parameters<Socket['write']>): boolean {
      const chunk = args[0];
      writes.push(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length);
      return socketWrite.apply(this, args);
    } as Socket['write'];
    const burst: NetMessage[] = Array.from({ length: 20 }, (_, i) => ({ k: i % 2 ? 'audit' : 'commit', c: 'shard-0', body: { i, pad: 'y'.repeat(i) } }));
    for (const m of burst) na.send(b.address, m);
    await until('the burst arrives', () => got.length === 21);
    assert.deepEqual(got.slice(1).map((m) => (m.body as { i: number }).i), burst.map((_, i) => i), 'in order');
    const frames = burst.reduce((n, m) => n + encodeFrame(packValue(m)).length, 0);
    // One noise message: 2-byte length, then the ciphertext of one yamux frame (12-byte header + all 20 frames) and its 16-byte tag.
    assert.ok(writes.includes(2 + 12 + frames + 16), `one socket write carries the burst (writes: ${writes.join(',')})`);
    assert.ok(!writes.includes(2), 'no noise length prefix goes out on its own');
  } finally {
    Socket.prototype.write = socketWrite;
    await stop();
  }
});

test("noise's length decoder, patched: the same lengths, and one preallocated RangeError for a short buffer", () => {
  assert.equal(uint16LengthOrNeedMore(new Uint8Array([0x12, 0x34, 9])), 0x1234);
  const list = { length: 3, byteLength: 3, subarray: () => new Uint8Array([0xff, 0xfe, 0]), getUint16: (o: number) => (o === 0 ? 0xfffe : -1) };
  assert.equal(uint16LengthOrNeedMore(list), 0xfffe);
  const short = (d: Uint8Array): unknown => {
    try {
      uint16LengthOrNeedMore(d);
    } catch (e) {
      return e;
    }
    return undefined;
  };
  const e1 = short(new Uint8Array([1]));
  assert.ok(e1 instanceof RangeError, 'the framing loop stops on RangeError');
  assert.equal(short(new Uint8Array(0)), e1, 'the same object every time: no stack captured per read');
});

test('a node outside the directory joins via bootstrap, is answered over its own connection, and is dialed once the registry lists it; a bad registry peer is skipped', async () => {
  const [a, c, d, x] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const at = loopbackPorts();
  // The genesis directory lists A and D only; C (the outsider) knows A through its bootstrap list.
  const directory = [
    { address: a.address, multiaddr: at(0) },
    { address: d.address, multiaddr: at(2) },
  ];
  const na = netFor(a, at(0), directory);
  const nc = netFor(c, at(1), [], [p2pEndpointFor(at(0), a.address)]);
  const nd = netFor(d, at(2), directory);
  const got = new Map<string, Array<[string, NetMessage]>>([[a.address, []], [c.address, []], [d.address, []]]);
  na.onMessage((f, m) => got.get(a.address)!.push([f, m]));
  nc.onMessage((f, m) => got.get(c.address)!.push([f, m]));
  nd.onMessage((f, m) => got.get(d.address)!.push([f, m]));
  await na.start();
  await nc.start();
  await nd.start();
  try {
    assert.ok(!na.book.lookup(c.address) && !nd.book.lookup(c.address), 'nobody in the directory knows the outsider');
    nc.send(a.address, { k: 'sync-req', c: 'beacon', body: 1 });
    await until('A hears the outsider', () => got.get(a.address)!.some(([f]) => f === c.address));
    na.send(c.address, { k: 'sync-res', c: 'beacon', body: 2 });
    await until('the outsider hears A over its own connection', () => got.get(c.address)!.some(([f, m]) => f === a.address && m.body === 2));

    // D learns C (and a registry entry nobody listens at) from the registry, and multicasts to both.
    nd.setRegistryPeers([
      { address: c.address, multiaddr: at(1) },
      { address: x.address, multiaddr: '/ip4/127.0.0.1/tcp/1' },
    ]);
    nd.multicast([c.address, x.address, a.address], { k: 'cons', c: 'shard-0', body: 3 });
    await until('the outsider hears D, dialed from the registry', () => got.get(c.address)!.some(([f, m]) => f === d.address && m.body === 3));
    await until('A still hears D', () => got.get(a.address)!.some(([f, m]) => f === d.address && m.body === 3));
    assert.ok(nd.connectedPeers().includes(c.address));
    assert.ok(!nd.connectedPeers().includes(x.address), 'the unreachable registry peer is not connected');
    // The unregistered outsider is forgotten by the book (no more redials).
    nd.setRegistryPeers([]);
    assert.equal(nd.book.lookup(c.address), undefined);
  } finally {
    await na.stop();
    await nc.stop();
    await nd.stop();
  }
});

test('a directory node that moved is dialed at its registered endpoint; a dead registered endpoint falls back to the genesis address; net peer table shows both', async () => {
  const [a, d, e] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const at = loopbackPorts();
  // Genesis says D listens at 0 and E at 1; D actually moved to 2 (and registered that), E is where genesis says
  // but registered an address nobody listens at.
  const directory = [
    { address: a.address, multiaddr: at(3) },
    { address: d.address, multiaddr: at(0) },
    { address: e.address, multiaddr: at(1) },
  ];
  const na = netFor(a, at(3), directory);
  const nd = netFor(d, at(2), directory);
  const ne = netFor(e, at(1), directory);
  const got: Array<[string, unknown]> = [];
  nd.onMessage((f, m) => got.push([f, m.body]));
  ne.onMessage((f, m) => got.push([f, m.body]));
  na.setRegistryPeers([
    { address: d.address, multiaddr: at(2) },
    { address: e.address, multiaddr: '/ip4/127.0.0.1/tcp/1' },
  ]);
  await Promise.all([na.start(), nd.start(), ne.start()]);
  try {
    na.multicast([d.address, e.address], { k: 'cons', c: 'shard-0', body: 'hi' });
    await until('D is reached at its registered address', () => na.connectedPeers().includes(d.address));
    await until('E is reached at its genesis address after its registered one fails', () => na.connectedPeers().includes(e.address));
    await until('both hear A', () => got.filter(([f, b]) => f === a.address && b === 'hi').length >= 2);
    const table = na.peerTable();
    const rowD = table.find((r) => r.address === d.address)!;
    const rowE = table.find((r) => r.address === e.address)!;
    assert.deepEqual({ source: rowD.source, multiaddr: rowD.multiaddr, connected: rowD.connected, dialed: rowD.dialed }, { source: 'registry', multiaddr: at(2), connected: true, dialed: undefined });
    assert.deepEqual({ source: rowE.source, multiaddr: rowE.multiaddr, connected: rowE.connected, dialed: rowE.dialed }, { source: 'registry', multiaddr: '/ip4/127.0.0.1/tcp/1', connected: true, dialed: at(1) });
    assert.equal(rowE.dialFailures, 0, 'failures reset on success');
    assert.equal(got.filter(([f, b]) => f === a.address && b === 'hi').length, 2, 'both got the multicast');
  } finally {
    await Promise.all([na.stop(), nd.stop(), ne.stop()]);
  }
});

test('a peer the book does not know may send frames up to MAX_FRAME_UNKNOWN_PEER: a larger one aborts its stream, a known peer\'s goes through', async () => {
  const [a, k, u] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const at = loopbackPorts();
  const directory = [
    { address: a.address, multiaddr: at(0) },
    { address: k.address, multiaddr: at(1) },
  ];
  const na = netFor(a, at(0), directory);
  const nk = netFor(k, at(1), directory);
  const nu = netFor(u, at(2), [], [p2pEndpointFor(at(0), a.address)]);
  const got: Array<[string, string, number]> = [];
  na.onMessage((f, m) => got.push([f, m.k, (m.body as Uint8Array).length]));
  await Promise.all([na.start(), nk.start(), nu.start()]);
  try {
    const big = new Uint8Array(MAX_FRAME_UNKNOWN_PEER + 1024);
    nu.send(a.address, { k: 'big', c: 'beacon', body: big });
    nk.send(a.address, { k: 'big', c: 'beacon', body: big });
    await until('the known peer\'s large frame arrives', () => got.some(([f, kind]) => f === k.address && kind === 'big'));
    // The unknown peer's stream was aborted; its next (small) message goes over a new stream.
    await until('the unknown peer reconnects and is heard', () => {
      nu.send(a.address, { k: 'small', c: 'beacon', body: new Uint8Array(1000) });
      return got.some(([f, kind]) => f === u.address && kind === 'small');
    });
    assert.equal(got.filter(([f, kind]) => f === u.address && kind === 'big').length, 0, 'the oversized frame of an unknown peer is never delivered');
    assert.equal(got.find(([f, kind]) => f === k.address && kind === 'big')![2], big.length);
  } finally {
    await Promise.all([na.stop(), nk.stop(), nu.stop()]);
  }
});
