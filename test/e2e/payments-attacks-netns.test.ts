/**
 * Payment attacks from both sides, end to end in network namespaces (needs root): a devnet
 * (1 shard, one validator + one auditor process) in tn4-chain, five relays registered on chain
 * and started with --chain-rpc (entry, middle1, middle2, middle3, exit; separate processes, each
 * in its namespace), and `topvpn connect` paying through them:
 *  a) a client that stops paying (client daemon with the test-only
 *     TOPVPN_TEST_CLIENT_STOP_PAYING_AFTER_BYTES: receipts beyond that are never sent, IP never
 *     held) is cut off by the exit after its credit window: the download stalls with at most
 *     (paid + window) / (1 − loss allowance) bytes delivered, the relay counts unpaid drops, and
 *     the chain pays the relay only the receipts it got;
 *  b) a relay that overclaims (middle3 restarted with the test-only
 *     TOPVPN_TEST_RELAY_OVERCLAIM_BYTES) gets no more receipts: the client names the hop,
 *     tears the circuit down and disconnects; the relay can claim no more than what the client
 *     measured (+ its tolerance);
 *  f) paid reconnect: with --reconnect the client opened a standby channel with the spare
 *     middle2; middle1 is killed (SIGKILL) and the client rebuilds through middle2, paying it
 *     on that channel, and traffic resumes;
 *  e) middle1 stays down while the payer disconnects and closes middle1's channel (the chain
 *     holds the old state: nothing claimed); middle1 is restarted inside the challenge window,
 *     restores its receipts from disk and its watchtower claims its best receipt;
 *  and the settlement: every channel finalized, then the payer's balance is exactly
 *  start − Σ claimed − its tx fees, each relay's exactly start + Σ (claim − burn − fee), the
 *  shard burned exactly the claims' 10 % plus every fee, and the supply invariant holds.
 * Namespaces tn4-*, underlay 198.18.0.0/24 inside them (deploy/topology.ts; isolated bridge).
 * Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { channelIdFor } from '../../chain/state/rules/channel-open.js';
import { distBin } from '../../common/paths.js';
import { amountForBytes, MiB } from '../../protocol/payment-price.js';
import { DEFAULT_TOLERANCE_PPM, DEFAULT_TOLERANCE_SLACK_BYTES } from '../../client/payments/signer.js';
import { TEST_STOP_PAYING_ENV } from '../../client/payments/client-payments.js';
import { DEFAULT_CREDIT_WINDOW_BYTES, DEFAULT_LOSS_ALLOWANCE_PPM } from '../../relay/payments/meter.js';
import { receiptsFileFor } from '../../relay/payments/receipt-store.js';
import { TEST_OVERCLAIM_ENV } from '../../relay/payments/service.js';
import { balance, getChannel, scanClaims, TX_FEE, type ClaimRecord } from '../../deploy/economy.js';
import { startPaidNetwork, type PaidNetwork } from '../../deploy/paid-network.js';
import { parseJsonObject, type Proc } from '../../deploy/procs.js';
import { scrape } from '../../deploy/prom-text.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, writeRelayList, type RelayNode, type UpEvent } from '../../deploy/topvpn.js';
import { inetUrl, netnsUnavailable, Testnet } from '../helpers/netns.js';

const PREFIX = 'tn4';
const STOP_AFTER = (5n * MiB) / 2n; // a): the client pays for 2.5 MiB, then stops
const OVERCLAIM = 64n * MiB; // b): what middle3 adds to its reports

interface RawBlock {
  body: { txs: Array<{ tx: { from: string; nonce: number; op: { type: string; channelId?: string } } }>; receipts: unknown[]; confirms: unknown[] };
  results: Array<{ status: string }>;
}

function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).some(([k, v]) => !(m[2] ?? '').includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
  }
  return sum;
}

function events(proc: Proc, name: string): Record<string, unknown>[] {
  return proc.lines('stdout').map(parseJsonObject).filter((o): o is Record<string, unknown> => o?.['event'] === name);
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('payment attacks, end to end (namespaces, devnet + relay + client processes)', { timeout: 420_000 }, () => {
  let net: Testnet | undefined;
  let pn: PaidNetwork;
  let url: string;
  let entry: RelayNode, middle1: RelayNode, middle2: RelayNode, middle3: RelayNode, exit: RelayNode;
  let payer0: bigint;
  let nonce0: number;
  let fromHeight: number;
  let burned0: bigint;
  const burnedNow = async (): Promise<bigint> => BigInt((await pn.chain.call<{ perChain: Array<{ chain: string; burned: string }> }>(url, 'supply_get')).perChain.find((c) => c.chain === pn.payerChain)!.burned);
  const relays0 = new Map<string, bigint>();
  const metricsUrl = (r: RelayNode): string => `http://${r.host.ip}:9464/metrics`;
  const relayProcs = new Map<string, Proc>();

  const paidArgs = (): string[] => ['--chain-rpc', url, '--wallet', pn.wallet.wallet, '--password-file', pn.wallet.passwordFile, '--budget', pn.budget.toString(), '--no-dns'];
  let seq = 0;
  const connect = async (list: RelayNode[], hops: number, extra: string[] = [], env: Record<string, string> = {}): Promise<ClientSession> => {
    const n = ++seq;
    const file = writeRelayList(net!, list, `tn4-relays-${n}.json`);
    const control = join(net!.dir, `client-${n}.sock`);
    const proc = net!.spawn(net!.client, [process.execPath, distBin(CLIENT_CLI), 'connect', '--relays', file, '--hops', String(hops), '--control', control, '--tun', CLIENT_TUN, '--json', ...paidArgs(), ...extra], {
      label: `client:connect-${n}`,
      env: { ...process.env, ...env },
    });
    const up = (await proc.waitForEvent('up', 120_000)) as UpEvent;
    return new ClientSession(net!, proc, up, control, CLIENT_TUN);
  };
  /** curl from the client; never throws (a stalled download is what a) expects). */
  const download = async (bytes: bigint, maxTimeS: number): Promise<{ code: number; bytes: number }> => {
    const r = await net!.exec(net!.client, ['curl', '-sS', '--max-time', String(maxTimeS), '-o', '/dev/null', '-w', '%{size_download}', inetUrl(`/bytes/${bytes}`)], { allowFail: true, timeoutMs: (maxTimeS + 10) * 1000 });
    return { code: r.code, bytes: Number(r.stdout.trim() || '0') };
  };
  const channelOfHop = (proc: Proc, hop: number): string => {
    const ch = events(proc, 'channels').at(-1)?.['hops'] as Array<{ channelId: string }> | undefined;
    assert.ok(ch?.[hop], 'the client reported its channels');
    return ch[hop]!.channelId;
  };
  const chainChannel = (id: string) => getChannel(pn.chain, url, id);
  const finalHeight = () => pn.chain.finalHeight(url, pn.payerChain);
  const restartRelay = async (r: RelayNode, label: string, env: Record<string, string> = {}): Promise<Proc> => {
    const old = relayProcs.get(r.host.name) ?? r.proc;
    await old.stop(10_000);
    const proc = net!.procs.spawn(`${r.host.name}:${label}`, old.argv, { env: { ...process.env, ...env } });
    relayProcs.set(r.host.name, proc);
    await proc.waitForEvent('listening', 30_000);
    return proc;
  };
  const receiptsFile = (r: RelayNode): string => receiptsFileFor(join(net!.dir, `${r.host.name}.chain-key.json`));
  const storedBest = (r: RelayNode, channelId: string): { seq: number; amount: bigint } | undefined => {
    if (!existsSync(receiptsFile(r))) return undefined;
    const j = JSON.parse(readFileSync(receiptsFile(r), 'utf8')) as { channels: Array<{ channelId: string; best: { receipt: { seq: number; cumulativeAmount: string } } }> };
    const c = j.channels.find((x) => x.channelId === channelId);
    return c ? { seq: c.best.receipt.seq, amount: BigInt(c.best.receipt.cumulativeAmount) } : undefined;
  };

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: 5, chain: true, handleSignals: false });
    pn = await startPaidNetwork(net, { shards: 1, group: 1, auditors: 1, relayArgs: (h) => ['--metrics', `${h.ip}:9464`] });
    [entry, middle1, middle2, middle3, exit] = pn.relays as [RelayNode, RelayNode, RelayNode, RelayNode, RelayNode];
    assert.deepEqual(pn.relays.map((r) => r.host.name), ['entry', 'middle1', 'middle2', 'middle3', 'exit']);
    url = pn.chain.urls[0]!;
    payer0 = await balance(pn.chain, url, pn.payer.address);
    nonce0 = (await pn.chain.call<{ nonce: number }>(url, 'account_get', [pn.payer.address])).nonce;
    for (const r of pn.relays) relays0.set(r.address!, await balance(pn.chain, url, r.address!));
    fromHeight = await finalHeight();
    burned0 = await burnedNow();
  });

  after(async () => {
    await pn?.chain.stop();
    await net?.teardown();
  });

  test('a) a client that stops paying is cut off by the exit after the credit window', async () => {
    const m0 = await scrape(net!, exit.host, metricsUrl(exit));
    const s = await connect([exit], 1, [], { [TEST_STOP_PAYING_ENV]: STOP_AFTER.toString() });
    const channelId = channelOfHop(s.proc, 0);
    const want = 24n * MiB;
    const dl = await download(want, 15);
    const m1 = await scrape(net!, exit.host, metricsUrl(exit));
    const st = (await s.status())['payments'] as { withheld: number; hops: Array<{ measuredBytes: string }> };
    // the bound: what the exit may carry for receipts of ≤ STOP_AFTER bytes, plus one packet
    const bound = ((STOP_AFTER + DEFAULT_CREDIT_WINDOW_BYTES) * 1_000_000n) / (1_000_000n - BigInt(DEFAULT_LOSS_ALLOWANCE_PPM)) + 2048n;
    console.log(`# a) downloaded ${dl.bytes} B of ${want} (curl exit ${dl.code}); bound ${bound} B; unpaid drops ${metric(m1, 'topvpn_relay_drops_total', { reason: 'unpaid' }) - metric(m0, 'topvpn_relay_drops_total', { reason: 'unpaid' })}; receipts withheld ${st.withheld}`);
    assert.notEqual(dl.code, 0, 'the download did not complete');
    assert.ok(BigInt(dl.bytes) <= bound, `delivered ${dl.bytes} B ≤ paid + credit window (${bound} B)`);
    assert.ok(BigInt(dl.bytes) >= STOP_AFTER, `what was paid for was delivered (${dl.bytes} B)`);
    assert.ok(metric(m1, 'topvpn_relay_drops_total', { reason: 'unpaid' }) > metric(m0, 'topvpn_relay_drops_total', { reason: 'unpaid' }), 'the exit dropped unpaid traffic');
    assert.ok(st.withheld > 0, 'the client withheld receipts');
    const { exit: ex } = await s.disconnect(60_000);
    assert.equal(ex.code, 0);
    const settled = events(s.proc, 'settled').at(-1)!;
    assert.equal(settled['error'], undefined, JSON.stringify(settled));
    // the exit's watchtower claims the best receipt it got: ≤ STOP_AFTER bytes, priced exactly
    await until('watchtower claim on the unpaid channel', async () => (await chainChannel(channelId)).claimed > 0n, 60_000);
    const ch = await chainChannel(channelId);
    assert.equal(ch.status, 'closing');
    assert.ok(ch.cumulativeBytes <= STOP_AFTER && ch.cumulativeBytes > 0n, `claimed bytes ${ch.cumulativeBytes} ≤ ${STOP_AFTER}`);
    assert.equal(ch.claimed, amountForBytes(ch.cumulativeBytes, exit.pricePerGiB!));
  });

  test('b) a relay that overclaims gets no more receipts; the client disconnects; its claim stays within what was measured', async () => {
    await restartRelay(middle3, 'relay-overclaim', { [TEST_OVERCLAIM_ENV]: OVERCLAIM.toString() });
    const s = await connect([middle3, exit], 2);
    const channelId = channelOfHop(s.proc, 0);
    await download(16n * MiB, 10);
    const err = await s.proc.waitForLine((l) => (l.includes('relay overclaimed') ? parseJsonObject(l) : undefined), { stream: 'stderr', timeoutMs: 30_000 });
    assert.equal(err?.['hop'], 0, 'the client names the overclaiming hop');
    const exited = await s.proc.exited;
    assert.equal(exited.code, 1, 'the client disconnected on its own (a failure)');
    const down = events(s.proc, 'down').at(-1)!;
    assert.match(String(down['reason']), /relay overclaimed \(hop 0\)/);
    const settled = events(s.proc, 'settled').at(-1)!;
    assert.equal(settled['error'], undefined, JSON.stringify(settled));
    const hop0 = (settled['channels'] as Array<{ channelId: string; promised: string; measuredBytes: string; signed: number }>)[0]!;
    assert.equal(hop0.channelId, channelId);
    const measured = BigInt(hop0.measuredBytes);
    const allowance = measured + (measured * DEFAULT_TOLERANCE_PPM + 999_999n) / 1_000_000n + DEFAULT_TOLERANCE_SLACK_BYTES;
    console.log(`# b) overclaim detected after ${hop0.signed} receipt(s); measured ${measured} B; promised ${hop0.promised}`);
    assert.ok(measured < OVERCLAIM, 'the relay claimed far more than the client measured');
    assert.ok(BigInt(hop0.promised) <= amountForBytes(allowance, middle3.pricePerGiB!), 'the client never signed beyond what it measured (+ tolerance)');
    // whatever middle3 claims (watchtower), it is bounded by the client's receipts
    await until('middle3 claims or has nothing to claim', async () => {
      const c = await chainChannel(channelId);
      return c.status === 'closing' && (BigInt(hop0.promised) === 0n || c.claimed > 0n);
    }, 60_000);
    const ch = await chainChannel(channelId);
    assert.ok(ch.claimed <= BigInt(hop0.promised), `claimed ${ch.claimed} ≤ promised ${hop0.promised}`);
    assert.ok(ch.cumulativeBytes <= allowance);
  });

  test('f+e) paid reconnect through a standby channel after the middle is killed; the killed relay, restarted after the close, claims its receipts', async () => {
    // entry, middle1, middle2, exit with --hops 3: the path is entry, middle1, exit; middle2 is the spare
    const s = await connect([entry, middle1, middle2, exit], 3, ['--reconnect']);
    const c1 = channelOfHop(s.proc, 1);
    assert.equal((await chainChannel(c1)).relay, middle1.address);
    const first = await download(6n * MiB, 30);
    assert.equal(first.code, 0);
    assert.equal(BigInt(first.bytes), 6n * MiB);
    // middle1 has persisted the receipt the client saw it accept
    const acked = ((await s.status())['payments'] as { hops: Array<{ bestAckedSeq: number }> }).hops[1]!.bestAckedSeq;
    assert.ok(acked > 0);
    await until('middle1 persisted its best receipt', () => (storedBest(middle1, c1)?.seq ?? 0) >= acked, 10_000);
    const held = storedBest(middle1, c1)!;

    const m1proc = relayProcs.get('middle1') ?? middle1.proc;
    m1proc.signal('SIGKILL');
    assert.equal((await m1proc.exited).signal, 'SIGKILL');
    const reconnecting = await s.proc.waitForEvent('reconnecting', 30_000);
    assert.equal(reconnecting['deadHop'], 1);
    assert.deepEqual(reconnecting['path'], [entry.endpoint, middle2.endpoint, exit.endpoint], 'the spare replaces the dead middle');
    await s.proc.waitForEvent('reconnected', 60_000);
    // more than a credit window: every hop of the new circuit must accept receipts for it to pass
    const second = await download(10n * MiB, 30);
    assert.equal(second.code, 0, 'traffic resumed through the new paid circuit');
    assert.equal(BigInt(second.bytes), 10n * MiB);
    const pay = (await s.status())['payments'] as { state: string; hops: Array<{ channelId: string; state: string; signed: number; acks: Record<string, number> }> };
    assert.equal(pay.state, 'active');
    for (const [i, h] of pay.hops.entries()) assert.ok((h.acks['accepted'] ?? 0) > 0, `hop ${i} accepted receipts on the new circuit`);
    const c2 = pay.hops[1]!.channelId;
    assert.notEqual(c2, c1);
    assert.equal((await chainChannel(c2)).relay, middle2.address, 'hop 1 is paid on the standby channel with middle2');
    assert.ok(pay.hops[1]!.signed > 0, 'middle2 received receipts');

    // e) the payer disconnects while middle1 is down: its channel closes with nothing claimed
    const { exit: ex } = await s.disconnect(60_000);
    assert.equal(ex.code, 0);
    const settled = events(s.proc, 'settled').at(-1)!;
    assert.equal(settled['error'], undefined, JSON.stringify(settled));
    await until('middle1 channel closing', async () => (await chainChannel(c1)).status === 'closing', 30_000);
    const closing = await chainChannel(c1);
    assert.equal(closing.claimed, 0n, 'the chain holds the old state');
    await restartRelay(middle1, 'relay-restarted');
    const restartedAt = await finalHeight();
    console.log(`# e) middle1 restarted at height ${restartedAt}; the challenge window ends at ${closing.closesAt}`);
    assert.ok(restartedAt < closing.closesAt!, 'restarted inside the challenge window');
    await until('the restarted middle1 claims its best receipt', async () => (await chainChannel(c1)).claimed === held.amount, 60_000);
    const after = await chainChannel(c1);
    assert.equal(after.seq, held.seq, 'the best receipt it held was claimed: the relay lost nothing');
    assert.equal(after.status, 'closing');
  });

  test('settlement: every channel finalized; balances, burn and supply add up exactly', async () => {
    // every channel this payer opened in the suite (from the blocks), then the window, then finalize
    const to0 = await finalHeight();
    const opened: Array<{ id: string; deposit: bigint }> = [];
    for (let h = fromHeight + 1; h <= to0; h++) {
      const b = await pn.chain.call<RawBlock>(url, 'chain_getBlock', [pn.payerChain, h]);
      const skip = b.body.confirms.length + b.body.receipts.length;
      b.body.txs.forEach((stx, i) => {
        const t = stx.tx;
        if (t.op.type !== 'channel-open' || t.from !== pn.payer.address || b.results[skip + i]?.status !== 'ok') return;
        opened.push({ id: t.op.channelId ?? channelIdFor(pn.chain.devnet.chainId, t.from, t.nonce), deposit: 0n });
      });
    }
    assert.ok(opened.length >= 7, `channels opened: ${opened.length} (a: 1, b: 2, f: 3 + 1 standby)`);
    const { ClientChain, seedSigner } = await import('../../client/payments/chain.js');
    const payerChain = await ClientChain.connect({ url, signer: seedSigner(Buffer.from(pn.payer.seedHex, 'hex')), fee: TX_FEE, call: pn.chain.call });
    for (const o of opened) {
      const c = await chainChannel(o.id);
      o.deposit = c.deposit;
      if (c.status === 'open') await payerChain.waitFinal(await payerChain.closeChannel(o.id), { timeoutMs: 60_000 });
    }
    const closesAt = Math.max(...(await Promise.all(opened.map(async (o) => (await chainChannel(o.id)).closesAt ?? 0))));
    await until('every challenge window over', async () => (await finalHeight()) >= closesAt, 120_000);
    for (const o of opened) {
      if ((await chainChannel(o.id)).status === 'closing') await payerChain.waitFinal(await payerChain.finalizeChannel(o.id), { timeoutMs: 60_000 });
    }
    const finals = await Promise.all(opened.map((o) => chainChannel(o.id)));
    for (const c of finals) assert.equal(c.status, 'finalized');
    const toHeight = await finalHeight();
    const claims: ClaimRecord[] = await scanClaims(pn.chain, url, pn.payerChain, fromHeight, toHeight, new Map(opened.map((o) => [o.id, { deposit: o.deposit }])));
    const claimed = finals.reduce((a, c) => a + c.claimed, 0n);
    assert.equal(claims.reduce((a, k) => a + k.delta, 0n), claimed, 'the claims in the blocks add up to what the channels paid');
    const nonce1 = (await pn.chain.call<{ nonce: number }>(url, 'account_get', [pn.payer.address])).nonce;
    const payerFees = BigInt(nonce1 - nonce0) * TX_FEE;
    assert.equal(await balance(pn.chain, url, pn.payer.address), payer0 - claimed - payerFees, 'payer: − what was claimed − its own tx fees, nothing else');
    for (const r of pn.relays) {
      const got = claims.filter((k) => k.relay === r.address).reduce((a, k) => a + k.delta - k.burn - k.fee, 0n);
      assert.equal(await balance(pn.chain, url, r.address!), relays0.get(r.address!)! + got, `${r.host.name}: + Σ (claim − burn − fee)`);
    }
    for (const k of claims) assert.equal(k.burn, (k.delta * 10n + 99n) / 100n);
    const burns = claims.reduce((a, k) => a + k.burn, 0n);
    assert.equal((await burnedNow()) - burned0, burns + payerFees + BigInt(claims.length) * TX_FEE, 'burned: the claims\' 10 % + every tx fee');
    console.log(`# settlement: ${opened.length} channels, ${claims.length} claims, claimed ${claimed}, payer fees ${payerFees}`);
    for (const u of pn.chain.urls) await until(`supply on ${u}`, async () => (await pn.chain.call<{ ok: boolean }>(u, 'supply_get')).ok, 30_000);
  });
});
