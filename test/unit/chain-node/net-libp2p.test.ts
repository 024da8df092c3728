import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Libp2pNetwork } from '../../../chain/node/net-libp2p.js';
import { generateKeyPair } from '../../../chain/node/keys.js';
import { silentLogger } from '../../../common/log.js';
import type { NetMessage } from '../../../chain/node/net.js';

test('two libp2p nodes exchange framed messages both ways, with authenticated sender', async () => {
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
