/**
 * The daemons paid, in process, against devnet node processes (1 shard × 4 validators + 4
 * auditors on loopback): a RelayDaemon (exit, MemoryTun, recorded system commands) started with
 * --chain-rpc/--node-key/--price-per-gib and a ClientDaemon with a ClientPayments. Checks: the
 * client opens a channel before the build and binds it after; IP crosses; the relay's
 * Prometheus metrics show receipted value; disconnect signs the last receipt and closes the
 * channel; the relay's watchtower claims exactly that receipt; the supply holds.
 * Run under `flock /tmp/topvpn-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Devnet } from '../../chain/devnet/devnet.js';
import { writeKeyFile } from '../../chain/node/keys.js';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { UNIT } from '../../chain/state/index.js';
import { ClientDaemon, type ClientEvent } from '../../client/daemon.js';
import { seedSigner } from '../../client/payments/chain.js';
import { ClientPayments } from '../../client/payments/client-payments.js';
import { silentLogger } from '../../common/log.js';
import { amountForBytes, MiB } from '../../protocol/payment-price.js';
import { parseRelayPaymentFlags, parseRelayStartFlags } from '../../relay/config.js';
import { RelayDaemon } from '../../relay/daemon.js';
import { generateKeyPair } from '../../relay/keys.js';
import { parseRpcChannel } from '../../relay/payments/chain-rpc.js';
import { MemoryTun } from '../../tun/memory.js';

const PRICE = 1000n * UNIT;

function udpPacket(src: string, dst: string, payload: Buffer): Buffer {
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(p, 12);
  Buffer.from(dst.split('.').map(Number)).copy(p, 16);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(9, 22);
  p.writeUInt16BE(8 + payload.length, 24);
  payload.copy(p, 28);
  return p;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('paid daemons: channel before the build, bind, IP, metrics, last receipt claimed by the watchtower after disconnect', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvq-paydaemons-'));
  const d = await Devnet.create({ dir: join(dir, 'chain'), shards: 1, group: 4, auditors: 4, accounts: 2, logLevel: 'warn' });
  let relay: RelayDaemon | undefined;
  let client: ClientDaemon | undefined;
  try {
    await d.start();
    const url = d.rpcUrls()[0]!;
    await until('first final blocks', async () => {
      const s = await rpcCall<{ chains: Array<{ chain: string; finalHeight: number }> }>(url, 'chain_status');
      return s.chains.every((c) => c.finalHeight >= 2);
    });
    const [payerK, relayK] = d.accounts;
    const nodeKey = join(dir, 'relay-node-key.json');
    writeKeyFile(nodeKey, relayK!);

    const key = generateKeyPair();
    let relayTun: MemoryTun | undefined;
    const cfg = parseRelayStartFlags({
      listen: '127.0.0.1:0', key: 'unused', exit: true, exitPool: '198.19.7.0/24', exitAllow: '198.18.0.0/15', tun: 'tvx8', nftTable: 'tvq_exit', statsInterval: '0', metrics: '127.0.0.1:0',
      chainRpc: d.rpcUrls()[1]!, nodeKey, pricePerGib: PRICE.toString(),
    });
    assert.deepEqual(cfg.payments, parseRelayPaymentFlags({ chainRpc: d.rpcUrls()[1]!, nodeKey, pricePerGib: PRICE.toString() }));
    relay = new RelayDaemon(cfg, key, { log: silentLogger(), run: () => '', openTun: (o) => (relayTun = new MemoryTun(o)) });
    const listening = await relay.start();
    assert.deepEqual(listening.payments, { address: relayK!.address, chainId: d.chainId, pricePerGiB: PRICE.toString() });

    const seed = Buffer.from(payerK!.seedHex, 'hex');
    const pay = await ClientPayments.connect({ rpcUrl: url, signer: seedSigner(seed), payerSeed: seed, budget: 20_000n * UNIT, log: silentLogger() });
    const resolv = join(dir, 'resolv.conf');
    writeFileSync(resolv, 'nameserver 10.0.0.53\n');
    let clientTun: MemoryTun | undefined;
    const events: ClientEvent[] = [];
    client = new ClientDaemon({
      path: [{ endpoint: { host: '127.0.0.1', port: Number(listening.listen.split(':')[1]) }, publicKey: key.publicKey, address: relayK!.address, pricePerGiB: PRICE }],
      tunName: 'tvpn8',
      controlPath: join(dir, 'ctl', 'client.sock'),
      stateDir: join(dir, 'state'),
      dns: 'off',
      resolvConf: resolv,
      resolvConfExplicit: true,
      log: silentLogger(),
      run: (argv) => (argv.join(' ').startsWith('ip -j route') ? JSON.stringify([{ dst: 'default', gateway: '198.18.0.1', dev: 'eth9' }]) : ''),
      openTun: (o) => (clientTun = new MemoryTun(o)),
      onEvent: (e) => events.push(e),
      payments: { pay, quotes: [{ relay: relayK!.address, pricePerGiB: PRICE }] },
    });
    const up = await client.connect();
    const iChannels = events.findIndex((e) => e.event === 'channels');
    const iBuild = events.findIndex((e) => e.event === 'progress' && e.step === 'building');
    const iPaid = events.findIndex((e) => e.event === 'progress' && e.step === 'paid');
    assert.ok(iChannels >= 0 && iChannels < iBuild && iBuild < iPaid, 'channel opened before the build, bound after it');
    const ch = events[iChannels] as Extract<ClientEvent, { event: 'channels' }>;
    assert.equal(ch.hops.length, 1);
    assert.equal(ch.hops[0]!.relay, relayK!.address);
    const channelId = ch.hops[0]!.channelId;

    // ~6 MiB of IP towards the exit, in bursts (more than one credit window: receipts must flow)
    const payload = Buffer.alloc(1200, 3);
    let sent = 0;
    for (let burst = 0; burst < 40; burst++) {
      clientTun!.inject(Array.from({ length: 128 }, () => udpPacket(up.address, '198.18.99.9', payload)));
      sent += 128;
      await until('exit TUN keeps up', () => relayTun!.written.length >= sent - 256, 20_000);
    }
    await until('every packet at the exit', () => relayTun!.written.length === sent, 20_000);
    const st = client.status();
    const p = st.payments as { state: string; held: number; hops: Array<{ state: string; signed: number; measuredBytes: string }> };
    assert.equal(p.state, 'active');
    assert.equal(p.hops[0]!.state, 'bound');
    assert.ok(p.hops[0]!.signed >= 4, `receipts signed: ${p.hops[0]!.signed}`);
    assert.ok(BigInt(p.hops[0]!.measuredBytes) >= 5n * MiB);

    const metrics = await (await fetch(listening.metrics!)).text();
    const receipted = /^topvpn_relay_receipted_value_total(?:\{[^}]*\})? (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(metrics);
    assert.ok(receipted && Number(receipted[1]) > 0, 'relay metrics show receipted value');

    await client.disconnect('test');
    const settled = events.find((e) => e.event === 'settled') as Extract<ClientEvent, { event: 'settled' }> | undefined;
    assert.ok(settled && settled.error === undefined, JSON.stringify(settled));
    assert.equal(settled.closeTxs.length, 1);
    const promised = BigInt(settled.channels[0]!.promised);
    assert.ok(promised > 0n);
    // the watchtower sees the close and claims the last receipt while the relay runs
    await until('watchtower claim of the last receipt', async () => {
      const c = parseRpcChannel(await rpcCall(url, 'channel_get', [channelId]));
      return c.status === 'closing' && c.claimed === promised;
    }, 90_000);
    const c = parseRpcChannel(await rpcCall(url, 'channel_get', [channelId]));
    assert.equal(c.claimed, amountForBytes(c.cumulativeBytes, PRICE));
    await relay.stop();
    const rs = relay.stats().payments as { address: string; claimedAmount: string };
    assert.equal(rs.address, relayK!.address);
    for (const u of d.rpcUrls()) await until(`supply on ${u}`, async () => (await rpcCall<{ ok: boolean }>(u, 'supply_get')).ok, 30_000);
  } finally {
    await client?.disconnect('cleanup');
    await relay?.stop();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
