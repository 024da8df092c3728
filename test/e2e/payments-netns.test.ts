/**
 * Pay per byte, end to end, in network namespaces with separate processes (needs root):
 * a devnet (2 shards × 4 validators + 4 auditors, 12 node processes) in tvp-chain on the
 * testnet bridge, three relays registered on chain and started with --chain-rpc, publishing
 * descriptors over libp2p (the same network `npm start` runs), a client given only the first
 * relay as bootstrap peer and the chain RPC (no --relays) that discovers them, picks its path
 * and pays through all three (one channel per hop), real HTTP through the tunnel, then the
 * settlement of deploy/paid-network.ts: the client closes, the relays' watchtowers (or
 * shutdown claims) claim, the challenge window passes, the payer finalizes.
 * Checked against the chain: each relay was paid price × the bytes it forwarded, to within
 * one credit window; each claim burned exactly ceil(10 %) of its delta, and the payer shard's
 * burned total grew by exactly those burns plus the fees of every tx we sent; the refund is
 * deposit − claimed (minus one finalize fee per channel) on the payer's balance; each relay's
 * balance grew by its claims minus burn and fee; the supply invariant holds on every node.
 * Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { amountForBytes } from '../../protocol/payment-price.js';
import { DEFAULT_CREDIT_WINDOW_BYTES } from '../../relay/payments/meter.js';
import { balance, DEFAULT_PRICE_PER_GIB, TX_FEE } from '../../deploy/economy.js';
import { connectPaid, RELAY_COUNTRIES, settle, startPaidNetwork, summaryJson, type PaidNetwork, type Settlement } from '../../deploy/paid-network.js';
import { discoveryReport, type DiscoveryReport } from '../../deploy/topvpn.js';
import { httpDownload } from '../../deploy/traffic.js';
import { inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';

/** Namespace prefix; $TOPVPN_TEST_PREFIX runs it beside another copy of the suite. */
const PREFIX = process.env['TOPVPN_TEST_PREFIX'] ?? 'tvp';
const PRICE = DEFAULT_PRICE_PER_GIB;
const DOWNLOAD = 24 * 1024 * 1024;

interface PerChain {
  chain: string;
  burned: string;
}

async function burnedOn(pn: PaidNetwork, chain: string): Promise<bigint> {
  const s = await pn.chain.call<{ perChain: PerChain[] }>(pn.chain.urls[0]!, 'supply_get');
  return BigInt(s.perChain.find((c) => c.chain === chain)!.burned);
}

describe('paid circuit end to end (namespaces, devnet processes)', { timeout: 300_000 }, () => {
  let net: Testnet | undefined;
  let pn: PaidNetwork | undefined;
  let s: Settlement;
  let payer0: bigint;
  let relays0: bigint[];
  let burned0: bigint;
  let exitSeen: string | undefined;
  let downloaded = 0;
  let clientArgv: readonly string[] = [];
  let found: DiscoveryReport | undefined;
  let statusPath: Array<{ endpoint: string }> = [];

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 3, chain: true, handleSignals: false });
    pn = await startPaidNetwork(net, { shards: 2, group: 4, pricePerGiB: PRICE, discovery: true });
    const url = pn.chain.urls[0]!;
    payer0 = await balance(pn.chain, url, pn.payer.address);
    relays0 = await Promise.all(pn.relays.map((r) => balance(pn!.chain, url, r.address!)));
    burned0 = await burnedOn(pn, pn.payerChain);
    const fromHeight = await pn.chain.finalHeight(url, pn.payerChain);
    const session = await connectPaid(pn, 3);
    clientArgv = session.proc.argv;
    found = discoveryReport(session.proc);
    statusPath = ((await session.status())['path'] as Array<{ endpoint: string }> | undefined) ?? [];
    const ip = JSON.parse((await net.exec(net.client, ['curl', '-sS', '--fail', '--max-time', '10', inetUrl('/ip')])).stdout) as { remote?: string };
    exitSeen = ip.remote;
    downloaded = (await httpDownload(net, net.client, inetUrl(`/bytes/${DOWNLOAD}`))).bytes;
    s = await settle(pn, session, fromHeight);
  });

  after(async () => {
    await pn?.chain.stop();
    await net?.teardown();
  });

  test('traffic went through the paid circuit', () => {
    assert.equal(exitSeen, net!.host('exit').ip);
    assert.equal(downloaded, DOWNLOAD);
    assert.equal(s.channels.length, 3);
    for (const c of s.channels) assert.equal(c.status, 'finalized');
    assert.equal(s.closeTxs, 3);
    assert.equal(s.finalizeTxs, 3);
  });

  test('the client found its relays by discovery: no --relays, the path it chose is the one built', () => {
    const d = pn!.discovery;
    assert.ok(d, 'the relays published descriptors');
    assert.ok(!clientArgv.includes('--relays'), `client argv has no --relays: ${clientArgv.join(' ')}`);
    assert.equal(clientArgv[clientArgv.indexOf('--bootstrap') + 1], d.bootstrap);
    assert.match(d.bootstrap, new RegExp(`^/ip4/${net!.host('entry').ip.replace(/\./g, '\\.')}/tcp/\\d+/p2p/`), 'bootstrap is the first relay');
    assert.ok(found, 'the client printed its discovery and path events');
    assert.equal(found.relays, 3, 'all three relays discovered');
    assert.deepEqual(found.path.map((h) => h.role), ['entry', 'middle', 'exit']);
    assert.deepEqual(new Set(found.path.map((h) => h.address)), new Set(pn!.relays.map((r) => r.address)), 'the path uses the three staked relays');
    const exit = pn!.relays.find((r) => r.exit)!;
    assert.equal(found.path[2]!.address, exit.address, 'the only exit relay is the exit');
    for (const h of found.path) {
      assert.equal(h.country, d.countries.get(h.address), `${h.address.slice(0, 8)} declared its country`);
      assert.equal(h.operator, d.operators.get(h.address), `${h.address.slice(0, 8)} declared its own operator`);
      assert.equal(h.endpoint, pn!.relays.find((r) => r.address === h.address)!.endpoint);
    }
    assert.deepEqual(new Set(found.path.map((h) => h.country)), new Set(RELAY_COUNTRIES.slice(0, 3)));
    assert.deepEqual(statusPath.map((p) => p.endpoint), found.path.map((h) => h.endpoint), '`topvpn status` shows the discovered path');
  });

  test('each relay was paid price × the bytes it forwarded, within one credit window', () => {
    for (const r of pn!.relays) {
      const fig = s.relays.find((f) => f.address === r.address)!;
      const ch = s.channels.find((c) => c.relay === r.address);
      assert.ok(ch, `a channel pays ${r.host.name}`);
      assert.ok(ch.claimedBytes >= BigInt(DOWNLOAD), `${r.host.name} was paid for at least the download (${ch.claimedBytes} B)`);
      assert.equal(ch.claimed, amountForBytes(ch.claimedBytes, PRICE), `${r.host.name}: claimed = price × claimed bytes`);
      assert.equal(ch.claimed, ch.promised < ch.deposit ? ch.promised : ch.deposit, `${r.host.name}: the last receipt was claimed`);
      assert.ok(fig.servedBytes >= ch.claimedBytes, `${r.host.name}: served ${fig.servedBytes} ≥ paid ${ch.claimedBytes}`);
      assert.ok(fig.servedBytes - ch.claimedBytes <= DEFAULT_CREDIT_WINDOW_BYTES, `${r.host.name}: unpaid ${fig.servedBytes - ch.claimedBytes} B ≤ one credit window`);
      assert.equal(fig.exitCode, 0);
    }
  });

  test('burn: exactly ceil(10 %) of each claim, and the chain burned exactly that plus the fees', async () => {
    assert.ok(s.claims.length >= 3);
    for (const c of s.channels) {
      const ks = s.claims.filter((k) => k.channelId === c.channelId);
      assert.equal(ks.reduce((a, k) => a + k.delta, 0n), c.claimed, 'claim deltas add up to what the channel paid');
    }
    for (const k of s.claims) assert.equal(k.burn, (k.delta * 10n + 99n) / 100n);
    const burns = s.claims.reduce((a, k) => a + k.burn, 0n);
    const txs = 3n /* opens */ + 3n /* closes */ + BigInt(s.claims.length) + 3n; /* finalizes */
    assert.equal((await burnedOn(pn!, pn!.payerChain)) - burned0, burns + txs * TX_FEE);
    assert.equal(BigInt(summaryJson(s, 0).burned as string), burns);
  });

  test('refund = deposit − claimed; payer and relay balances match the claims', async () => {
    const url = pn!.chain.urls[0]!;
    const refunds = s.channels.reduce((a, c) => a + (c.deposit - c.claimed), 0n);
    assert.equal(s.refundBalanceDelta, refunds - 3n * TX_FEE, 'finalize refunds deposit − claimed, minus one fee per channel');
    const claimed = s.channels.reduce((a, c) => a + c.claimed, 0n);
    assert.equal(await balance(pn!.chain, url, pn!.payer.address), payer0 - claimed - 9n * TX_FEE, 'payer: − claimed − (open + close + finalize fees)');
    for (const [i, r] of pn!.relays.entries()) {
      const net = s.claims.filter((k) => k.relay === r.address).reduce((a, k) => a + k.delta - k.burn - k.fee, 0n);
      // credited through a cross-shard receipt when the relay's home shard is not the payer's
      let got = 0n;
      for (let t = 0; t < 100; t++) {
        got = await balance(pn!.chain, url, r.address!);
        if (got === relays0[i]! + net) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.equal(got, relays0[i]! + net, `${r.host.name}: + claims − burn − claim fees`);
    }
  });

  test('the supply invariant holds on every node', () => {
    assert.equal(s.supply.length, 12);
    assert.ok(s.supply.every(Boolean), JSON.stringify(s.supply));
    assert.equal(summaryJson(s, 0).supply_ok, true);
  });
});
