import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { silentLogger } from '../../../common/log.js';
import { isWsEndpoint, openWsListener, WsListenerError } from '../../../relay/ws-listener.js';
import type { Endpoint } from '../../../relay/addr.js';
import { openWsTransport, WsTransportError } from '../../../client/ws-transport.js';

const ENTRY: Endpoint = { host: '198.18.0.11', port: 51820 };

function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (cond()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

test('client transport ↔ listener: one packet per binary message both ways, text ignored, no compression', async () => {
  const atRelay: Array<{ p: Buffer; from: Endpoint }> = [];
  const lst = await openWsListener({ host: '127.0.0.1', port: 0, log: silentLogger(), onPacket: (p, from) => atRelay.push({ p, from }) });
  const atClient: Array<{ p: Buffer; from: Endpoint }> = [];
  const tr = await openWsTransport({ url: lst.url, entry: ENTRY, log: silentLogger(), onDatagram: (p, from) => atClient.push({ p, from }) });
  try {
    const sizes = [1, 33, 1400, 1500];
    for (const n of sizes) tr.send(ENTRY, Buffer.alloc(n, n & 0xff));
    await waitFor(() => atRelay.length === sizes.length, 'packets at the relay');
    assert.deepEqual(atRelay.map((x) => x.p.length), sizes, 'message boundaries kept');
    assert.ok(atRelay.every((x) => x.p.every((b) => b === (x.p.length & 0xff))));
    const peer = atRelay[0]!.from;
    assert.ok(isWsEndpoint(peer) && peer.host === 'ws:127.0.0.1', `peer endpoint ${JSON.stringify(peer)}`);
    assert.equal(lst.send({ host: '127.0.0.1', port: peer.port }, Buffer.from('x')), false, 'a UDP endpoint is not ours');
    assert.equal(lst.send(peer, Buffer.from('back-1')), true);
    assert.equal(lst.send(peer, Buffer.from('back-2')), true);
    await waitFor(() => atClient.length === 2, 'packets at the client');
    assert.deepEqual(atClient.map((x) => x.p.toString()), ['back-1', 'back-2']);
    assert.deepEqual(atClient[0]!.from, ENTRY, 'reported as coming from the entry endpoint');
    assert.equal(tr.stats().datagramsOut, sizes.length);
    assert.equal(tr.stats().datagramsIn, 2);

    // A raw client: text frames are ignored; the server negotiated no compression.
    const raw = new WebSocket(lst.url, { perMessageDeflate: true });
    await new Promise((r) => raw.once('open', r));
    assert.equal(raw.extensions, '', 'permessage-deflate refused');
    raw.send('text is not a packet');
    raw.send(Buffer.from([7, 7, 7]), { binary: true });
    await waitFor(() => atRelay.length === sizes.length + 1, 'the binary message');
    assert.equal(lst.stats().dropsNotBinary, 1);
    assert.equal(lst.stats().connections, 2);
    raw.close();
  } finally {
    await tr.close();
    await lst.close();
  }
});

test('listener drops rather than queues when a peer backs up', async () => {
  let peer: Endpoint | undefined;
  const lst = await openWsListener({ host: '127.0.0.1', port: 0, maxBufferedBytes: 64 * 1024, log: silentLogger(), onPacket: (_p, from) => (peer = from) });
  const raw = new WebSocket(lst.url);
  await new Promise((r) => raw.once('open', r));
  try {
    raw.send(Buffer.from([1]), { binary: true });
    await waitFor(() => peer !== undefined, 'first packet');
    // Stop reading on the client: the relay's socket fills (kernel buffers, then its own queue).
    (raw as unknown as { _socket: { pause(): void } })._socket.pause(); // ws has no public pause of the underlying socket
    const pkt = Buffer.alloc(60_000);
    const total = 2_000; // 120 MB offered: far more than socket buffers hold
    for (let i = 0; i < total; i++) lst.send(peer!, pkt);
    const st = lst.stats();
    assert.ok(st.dropsBackpressure > 0, `drops ${st.dropsBackpressure}`);
    assert.equal(st.messagesOut + st.dropsBackpressure, total);
    assert.ok(st.messagesOut < total / 2, `sent ${st.messagesOut} of ${total}: the rest was dropped, not queued`);
  } finally {
    raw.terminate();
    await lst.close();
  }
});

test('client transport re-opens a lost connection and drops while it is down', async () => {
  const froms: Endpoint[] = [];
  const lst = await openWsListener({ host: '127.0.0.1', port: 0, log: silentLogger(), onPacket: (_p, from) => froms.push(from) });
  const tr = await openWsTransport({ url: lst.url, entry: ENTRY, log: silentLogger(), onDatagram: () => undefined });
  try {
    tr.send(ENTRY, Buffer.from('a'));
    await waitFor(() => froms.length === 1, 'first packet');
    assert.equal(tr.opens, 1);
    // The relay goes away and comes back on the same port (as after a restart or a middlebox reset).
    await lst.close();
    await waitFor(() => {
      tr.send(ENTRY, Buffer.from('lost'));
      return tr.stats().sendErrors > 0;
    }, 'a send dropped while the link is down');
    const lst2 = await openWsListener({ host: '127.0.0.1', port: Number(new URL(lst.url).port), log: silentLogger(), onPacket: (_p, from) => froms.push(from) });
    try {
      await waitFor(() => tr.opens === 2, 're-open', 8_000);
      tr.send(ENTRY, Buffer.from('b'));
      await waitFor(() => froms.length === 2, 'packet on the new connection');
      assert.notDeepEqual(froms[1], froms[0], 'a new peer endpoint (new TCP connection)');
    } finally {
      await lst2.close();
    }
  } finally {
    await tr.close();
  }
});

test('wss:// with a self-signed certificate the client is told to trust; errors are named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvw-wss-'));
  try {
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const cert = readFileSync(certFile);
    const got: Buffer[] = [];
    const lst = await openWsListener({ host: '127.0.0.1', port: 0, cert, key: readFileSync(keyFile), log: silentLogger(), onPacket: (p) => got.push(p) });
    try {
      assert.ok(lst.url.startsWith('wss://'));
      await assert.rejects(openWsTransport({ url: lst.url, entry: ENTRY, log: silentLogger(), onDatagram: () => undefined }), WsTransportError, 'an untrusted certificate is refused');
      const tr = await openWsTransport({ url: lst.url, entry: ENTRY, ca: cert, log: silentLogger(), onDatagram: () => undefined });
      tr.send(ENTRY, Buffer.from('over tls'));
      await waitFor(() => got.length === 1, 'packet over wss');
      assert.equal(got[0]!.toString(), 'over tls');
      await tr.close();
    } finally {
      await lst.close();
    }
    await assert.rejects(openWsListener({ host: '127.0.0.1', port: 0, cert, log: silentLogger(), onPacket: () => undefined }), WsListenerError);
    await assert.rejects(openWsTransport({ url: 'http://127.0.0.1:1', entry: ENTRY, log: silentLogger(), onDatagram: () => undefined }), WsTransportError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
