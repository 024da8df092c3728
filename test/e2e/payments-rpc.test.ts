/**
 * End to end against real node processes (chain/devnet): the client opens a channel over
 * JSON-RPC and waits until it is final; a circuit (in-memory network, real RelayEngine with the
 * payment hooks reading the channel from the node through RpcChainPort) binds to it and carries
 * IP, the PaymentSession paying receipts; the relay's ClaimWorker claims the best receipt of its
 * ReceiptBook through RpcChainPort; more traffic; the payer closes, the relay's ChannelWatcher sees the close on the node's
 * channelEvents WebSocket and the worker claims the newer receipt inside the challenge window;
 * the payer finalizes and gets the rest back. Balances, burn and the supply invariant are read
 * from the nodes. Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { claimSplit, homeChain, UNIT } from '../../chain/state/index.js';
import { silentLogger } from '../../common/log.js';
import { amountForBytes } from '../../protocol/payment-price.js';
import { ClientChain, seedSigner } from '../../client/payments/chain.js';
import { ChannelWatcher, RpcChainPort } from '../../relay/payments/chain-port.js';
import { ClaimWorker, defaultClaimPolicy } from '../../relay/payments/claims.js';
import { CachedChannelSource, createRelayPaymentHooks } from '../../relay/payments/hooks.js';
import { ReceiptBook } from '../../relay/payments/meter.js';
import { RelayEngine } from '../../relay/engine.js';
import { parseExitPolicy } from '../../relay/exit-policy.js';
import { Circuit } from '../../client/circuit.js';
import { PaymentSession } from '../../client/payments/session.js';
import { ManualClock } from '../../common/clock.js';
import { generateX25519 } from '../../protocol/x25519.js';
import { MiB } from '../../protocol/payment-price.js';
import { FakeNet, flush, udpPacket } from '../unit/relay/fake-net.js';
import { waitFor } from '../helpers/wait.js';

const FEE = UNIT / 100n; // devnet minFee
const PRICE = 1000n * UNIT; // per GiB: a few MiB of traffic are worth claiming
const BURN_PERCENT = 10n;

async function balance(url: string, addr: string): Promise<bigint> {
  return BigInt((await rpcCall<{ balance: string }>(url, 'account_get', [addr])).balance);
}

async function finalHeight(url: string, chain: string): Promise<number> {
  const s = await rpcCall<{ chains: Array<{ chain: string; finalHeight: number }> }>(url, 'chain_status');
  return s.chains.find((c) => c.chain === chain)!.finalHeight;
}

test('devnet processes: open over RPC, a paid circuit binds to it, RpcChainPort claims, watchtower claims on close, finalize refunds', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvq-payrpc-'));
  const d = await Devnet.create({ dir, shards: 1, group: 4, auditors: 4, accounts: 4, logLevel: 'warn' });
  let watcher: ChannelWatcher | undefined;
  try {
    await d.start();
    const url = d.rpcUrls()[0]!;
    await waitFor('final blocks on shard-0 and beacon', async () => (await finalHeight(url, 'shard-0')) >= 2 && (await finalHeight(url, 'beacon')) >= 2);
    const [payerK, relayK] = d.accounts;
    assert.equal(homeChain(payerK!.address, d.shards), homeChain(relayK!.address, d.shards));
    const payerSeed = Buffer.from(payerK!.seedHex, 'hex');
    const relaySeed = Buffer.from(relayK!.seedHex, 'hex');

    // client: open a channel and wait until it is final
    const client = await ClientChain.connect({ url, signer: seedSigner(payerSeed), fee: FEE });
    assert.equal(client.o.chainId, d.chainId);
    const payer0 = await balance(url, payerK!.address);
    const deposit = 20n * UNIT;
    const { channelId, txHash } = await client.openChannel(relayK!.address, deposit);
    const st = await client.waitFinal(txHash, { timeoutMs: 60_000 });
    assert.equal(st.status, 'final');
    const ch = await client.getChannel(channelId);
    assert.ok(ch);
    assert.equal(ch.status, 'open');
    assert.equal(ch.deposit, deposit);
    assert.equal(await balance(url, payerK!.address), payer0 - deposit - FEE);

    // relay: a RelayEngine whose payment hooks read channels from another node's RPC
    const relayUrl = d.rpcUrls()[1]!;
    const port = await RpcChainPort.connect({ url: relayUrl, relaySeed, relay: relayK!.address, fee: FEE });
    // the relay's node may commit the open a moment after the client's node made it final
    await waitFor('channel visible on the relay node', async () => (await port.getChannel(channelId)) !== null);
    const clock = new ManualClock();
    const net = new FakeNet();
    const book = new ReceiptBook();
    const hooks = createRelayPaymentHooks({ chainId: d.chainId, relay: relayK!.address, pricePerGiB: PRICE, chain: new CachedChannelSource(port, clock), book, log: silentLogger() });
    const rEp = { host: '198.18.0.1', port: 5000 };
    const kp = generateX25519();
    const exitWrites: Buffer[] = [];
    const engine = new RelayEngine({
      clock,
      log: silentLogger(),
      identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
      send: net.sender(rEp),
      exit: { write: (ps) => void exitWrites.push(...ps), policy: parseExitPolicy(['accept 198.18.0.0/15:*', 'reject *:*']), pool: '198.19.0.0/16' },
      hooks,
    });
    hooks.attach(engine);
    net.attach(rEp, (p, from) => engine.onDatagram(p, from));
    const cEp = { host: '198.18.1.1', port: 40000 };
    const circuit = new Circuit({ clock, log: silentLogger(), send: net.sender(cEp) }, [{ endpoint: rEp, staticPublic: kp.publicKey }]);
    net.attach(cEp, (p, from) => circuit.onDatagram(p, from));
    const built = circuit.build();
    await flush();
    const info = await built;
    const session = new PaymentSession({ circuit, clock, log: silentLogger(), chainId: d.chainId, payer: payerK!.address, payerSeed, hops: [{ channelId, deposit, pricePerGiB: PRICE, relay: relayK!.address }] });
    let replies = 0;
    session.onIp((ps) => (replies += ps.length));
    await session.bind(); // the hooks read the channel over RPC
    assert.equal(hooks.stats().bound, 1);
    const traffic = async (bytes: number): Promise<void> => {
      const payload = Buffer.alloc(1272, 7);
      for (let sent = 0; sent < bytes; ) {
        const ps = Array.from({ length: 32 }, () => udpPacket(info.ipv4, '198.18.200.10', 9, payload));
        sent += 32 * 1300;
        session.sendIp(ps);
        await flush();
        engine.onTunPackets(exitWrites.splice(0).map(() => udpPacket('198.18.200.10', info.ipv4, 12345, payload)));
        await flush();
      }
    };
    await traffic(2 * Number(MiB));
    assert.ok(replies > 0);
    assert.equal(engine.stats().drops.unpaid, 0);
    const acct = book.get(channelId)!;
    const best1 = acct.best!;
    assert.ok(acct.served >= 4n * MiB && acct.served - best1.receipt.cumulativeBytes <= 4n * MiB, 'receipted within one credit window of what it served');
    assert.equal(best1.receipt.cumulativeAmount, amountForBytes(best1.receipt.cumulativeBytes, PRICE));

    // claim the book's best receipt (shutdown mode: below the 1 GiB threshold)
    const worker = new ClaimWorker(port, book, defaultClaimPolicy({ pricePerGiB: PRICE, fee: FEE, burnPercent: BURN_PERCENT }));
    const relay0 = await balance(url, relayK!.address);
    const t1 = await worker.tick('shutdown');
    assert.equal(t1.submitted.length, 1, JSON.stringify(t1, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    await port.waitTx(t1.submitted[0]!.txHash, { timeoutMs: 60_000 });
    let confirmed = (await worker.tick()).confirmed;
    assert.equal(confirmed.length, 1);
    const k1 = confirmed[0]!;
    assert.equal(k1.delta, best1.receipt.cumulativeAmount);
    assert.equal(k1.burn, claimSplit(k1.delta, BURN_PERCENT).burn);
    await waitFor('relay credited', async () => (await balance(url, relayK!.address)) === relay0 + k1.delta - k1.burn - FEE);

    // watchtower: more traffic (a newer receipt below the threshold), the payer closes, the
    // close event arrives over the WebSocket and the worker claims at once
    const closing: string[] = [];
    watcher = new ChannelWatcher({
      url: relayUrl,
      port,
      isOurs: (id) => book.get(id) !== undefined,
      channels: () => book.accountsList().map((a) => a.channelId),
      onClosing: (id) => {
        closing.push(id);
        worker.onChannelClosing(id);
      },
      log: silentLogger(),
      pollMs: 60_000,
    });
    assert.equal(await watcher.start(), 'subscription');
    await traffic(Number(MiB));
    session.finish();
    await flush();
    const best2 = book.get(channelId)!.best!;
    assert.ok(best2.receipt.seq > best1.receipt.seq && best2.receipt.cumulativeAmount > best1.receipt.cumulativeAmount);
    assert.equal((await worker.tick()).submitted.length, 0, 'below the threshold while open');
    circuit.close();
    engine.stop();
    const closeHash = await client.closeChannel(channelId);
    await client.waitFinal(closeHash, { timeoutMs: 60_000 });
    await waitFor('close event on channelEvents', async () => closing.length === 1, 30_000);
    assert.equal(watcher.events, 1);
    const t3 = await worker.tick();
    assert.equal(t3.submitted.length, 1);
    assert.equal(t3.submitted[0]!.reason, 'watchtower');
    await port.waitTx(t3.submitted[0]!.txHash, { timeoutMs: 60_000 });
    confirmed = (await worker.tick()).confirmed;
    assert.equal(confirmed.length, 1);
    const after = (await port.getChannel(channelId))!;
    assert.equal(after.status, 'closing');
    assert.equal(after.claimed, best2.receipt.cumulativeAmount);
    assert.equal(after.seq, best2.receipt.seq);
    assert.equal(after.cumulativeBytes, best2.receipt.cumulativeBytes);

    // finalize once the challenge window has passed: the rest comes back
    const payer1 = await balance(url, payerK!.address);
    await waitFor('challenge window over', async () => (await finalHeight(url, 'shard-0')) >= after.closesAt!, 120_000);
    const fin = await client.finalizeChannel(channelId);
    await client.waitFinal(fin, { timeoutMs: 60_000 });
    assert.equal((await client.getChannel(channelId))!.status, 'finalized');
    assert.equal(await balance(url, payerK!.address), payer1 + deposit - after.claimed - FEE);

    for (const u of d.rpcUrls()) {
      await waitFor(`supply holds on ${u}`, async () => (await rpcCall<{ ok: boolean }>(u, 'supply_get')).ok, 30_000);
    }
  } finally {
    watcher?.stop();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
