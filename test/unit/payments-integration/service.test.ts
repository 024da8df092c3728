/**
 * RelayPayments (the daemon-facing bundle) over real HTTP/WebSocket JSON-RPC: a RelayEngine
 * with its hooks binds a paying circuit (the channel read over RPC), the watchtower subscribes,
 * and stop() claims the best receipt (shutdown mode), settled with the 10 % burn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimSplit, UNIT } from '../../../chain/state/index.js';
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { amountForBytes, MiB } from '../../../protocol/payment-price.js';
import { generateX25519 } from '../../../protocol/x25519.js';
import { Circuit } from '../../../client/circuit.js';
import { PaymentSession } from '../../../client/payments/session.js';
import { RelayEngine } from '../../../relay/engine.js';
import { parseExitPolicy } from '../../../relay/exit-policy.js';
import { RelayPayments } from '../../../relay/payments/service.js';
import { FakeChain, PARAMS } from '../payments/fake-chain.js';
import { CHAIN_ID, key, keyNear } from '../payments/helpers.js';
import { FakeNet, flush, udpPacket } from '../relay/fake-net.js';
import { RpcFakeNode } from './rpc-chain.js';

const PRICE = 1000n * UNIT;

test('RelayPayments: hooks bind over RPC, watchtower subscribed, stop() claims the best receipt', { timeout: 60_000 }, async () => {
  const payer = key('svc-payer');
  const relay = keyNear(payer, PARAMS.shardCount, 'svc-relay');
  const chain = new FakeChain(relay, [{ who: payer, amount: 100n * UNIT }]);
  const node = new RpcFakeNode(chain);
  const url = await node.listen();
  const clock = new ManualClock();
  const pay = await RelayPayments.start({ rpcUrl: url, relaySeed: relay.seed, pricePerGiB: PRICE, fee: PARAMS.minFee, log: silentLogger(), clock, claimTickMs: 3_600_000 });
  try {
    assert.equal(pay.address, relay.address);
    assert.equal(pay.stats().chainId, CHAIN_ID);
    assert.equal(pay.stats().watch, 'subscription');
    const deposit = 20n * UNIT;
    const channelId = chain.open(payer, deposit);

    const net = new FakeNet();
    const kp = generateX25519();
    const rEp = { host: '198.18.0.1', port: 5000 };
    const writes: Buffer[] = [];
    const engine = new RelayEngine({
      clock,
      log: silentLogger(),
      identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
      send: net.sender(rEp),
      exit: { write: (ps) => void writes.push(...ps), policy: parseExitPolicy(['accept 198.18.0.0/15:*', 'reject *:*']), pool: '198.19.0.0/16' },
      hooks: pay.hooks,
    });
    pay.hooks.attach(engine);
    net.attach(rEp, (p, from) => engine.onDatagram(p, from));
    const cEp = { host: '198.18.1.1', port: 40000 };
    const circuit = new Circuit({ clock, log: silentLogger(), send: net.sender(cEp) }, [{ endpoint: rEp, staticPublic: kp.publicKey }]);
    net.attach(cEp, (p, from) => circuit.onDatagram(p, from));
    const b = circuit.build();
    await flush();
    const info = await b;
    const session = new PaymentSession({ circuit, clock, log: silentLogger(), chainId: CHAIN_ID, payer: payer.address, payerSeed: payer.seed, hops: [{ channelId, deposit, pricePerGiB: PRICE }] });
    let replies = 0;
    session.onIp((ps) => (replies += ps.length));
    await session.bind();
    assert.equal(pay.stats().channelLookups, 1);
    const payload = Buffer.alloc(1272, 1);
    for (let sent = 0; sent < 2 * Number(MiB); sent += 32 * 1300) {
      session.sendIp(Array.from({ length: 32 }, () => udpPacket(info.ipv4, '198.18.200.10', 9, payload)));
      await flush();
      engine.onTunPackets(writes.splice(0).map(() => udpPacket('198.18.200.10', info.ipv4, 7, payload)));
      await flush();
    }
    session.finish();
    await flush();
    assert.ok(replies > 1500);
    const best = pay.book.get(channelId)!.best!;
    assert.ok(best.receipt.cumulativeAmount > 3n * UNIT);

    // below the 1 GiB threshold: a normal round claims nothing
    await pay.tick();
    assert.equal(chain.mempool.length, 0);
    await pay.stop();
    assert.equal(chain.mempool.length, 1, 'stop() submitted the shutdown claim');
    const relayBefore = chain.balance(relay);
    node.mine();
    const ch = chain.findChannel(channelId)!;
    assert.equal(ch.claimed, best.receipt.cumulativeAmount);
    const { burn } = claimSplit(ch.claimed, PARAMS.claimBurnPercent);
    assert.equal(chain.balance(relay) - relayBefore, ch.claimed - burn - PARAMS.minFee);
    assert.equal(pay.earnings().issues.length, 0);
    assert.equal(amountForBytes(best.receipt.cumulativeBytes, PRICE), best.receipt.cumulativeAmount);
    engine.stop();
  } finally {
    await pay.stop();
    await node.close();
  }
});
