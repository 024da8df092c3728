import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';
import { yamuxHalfWindowUpdates } from '../../../chain/node/yamux-window.js';
import { Libp2pNetwork } from '../../../chain/node/net-libp2p.js';
import { generateKeyPair } from '../../../chain/node/keys.js';
import { silentLogger } from '../../../common/log.js';
import type { NetMessage } from '../../../chain/node/net.js';

/** A stream object with just the fields sendWindowUpdate reads, recording the frames it sends. */
function fakeStream(state: StreamState, recvWindow: number, recvWindowCapacity: number) {
  const frames: Array<{ type: number; flag: number; length: number }> = [];
  const s = Object.create(YamuxStream.prototype) as Record<string, unknown>;
  Object.assign(s, {
    state,
    recvWindow,
    recvWindowCapacity,
    maxStreamWindowSize: 16 * 1024 * 1024,
    epochStart: Date.now(),
    streamId: 1,
    getRTT: () => -1,
    sendFrame: (f: { type: number; flag: number; length: number }) => frames.push(f),
  });
  return { s: s as unknown as { sendWindowUpdate(): void; recvWindowCapacity: number }, frames };
}

test('yamux window updates go out once half the receive window is used, not after every frame', () => {
  assert.equal(yamuxHalfWindowUpdates, true);
  const win = 256 * 1024;
  const quarter = fakeStream(StreamState.Established, win, win - win / 4);
  quarter.s.sendWindowUpdate();
  assert.equal(quarter.frames.length, 0, 'a quarter used: no update yet');

  const half = fakeStream(StreamState.Established, win, win / 2);
  half.s.sendWindowUpdate();
  assert.equal(half.frames.length, 1, 'half used: update');
  assert.equal(half.frames[0]!.length, win / 2, 'the update restores the full window');
  assert.equal(half.s.recvWindowCapacity, win);

  // A stream that still has to acknowledge (flag to send) does so whatever its window.
  const ack = fakeStream(StreamState.SYNReceived, win, win - 10);
  ack.s.sendWindowUpdate();
  assert.equal(ack.frames.length, 1);
  assert.notEqual(ack.frames[0]!.flag, 0);
});

test('with half-window updates, 8 MiB of messages (32 windows) cross a real libp2p stream intact and in order', async () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  const pa = 20000 + Math.floor(Math.random() * 20000);
  const pb = pa + 1;
  const peers = [
    { address: a.address, multiaddr: `/ip4/127.0.0.1/tcp/${pa}` },
    { address: b.address, multiaddr: `/ip4/127.0.0.1/tcp/${pb}` },
  ];
  const na = new Libp2pNetwork({ seedHex: a.seedHex, address: a.address, listen: [`/ip4/127.0.0.1/tcp/${pa}`], peers, log: silentLogger() });
  const nb = new Libp2pNetwork({ seedHex: b.seedHex, address: b.address, listen: [`/ip4/127.0.0.1/tcp/${pb}`], peers, log: silentLogger() });
  const got: NetMessage[] = [];
  nb.onMessage((_f, m) => got.push(m));
  await na.start();
  await nb.start();
  try {
    const N = 40;
    for (let i = 0; i < N; i++) na.send(b.address, { k: 'blob', c: 'shard-0', body: { i, bytes: new Uint8Array(210 * 1024).fill(i) } });
    const deadline = Date.now() + 30_000;
    while (got.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, N);
    got.forEach((m, i) => {
      const body = m.body as { i: number; bytes: Uint8Array };
      assert.equal(body.i, i);
      assert.equal(body.bytes.length, 210 * 1024);
      assert.ok(body.bytes.every((x) => x === i));
    });
  } finally {
    await na.stop();
    await nb.stop();
  }
});
