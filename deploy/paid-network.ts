/**
 * The paid testnet, end to end, shared by `npm start` (deploy/main.ts) and the netns test:
 * a devnet in the chain namespace, relays registered on chain (deposit + price) and started
 * with --chain-rpc, a client wallet funded at genesis, a paying `topvpn connect`, and the
 * settlement after disconnect: the client closes its channels, the relays' watchtowers claim,
 * the relays stop (shutdown claims), the challenge window passes, the payer finalizes (refund),
 * and the figures are read back from the chain (claims from the channel shard's blocks, burn
 * per claim, refunds, balances, supply on every node).
 */
import { join } from 'node:path';
import { ClientChain, seedSigner } from '../client/payments/chain.js';
import type { KeyPair } from '../chain/node/keys.js';
import { ChainNet, waitFor } from './chain-net.js';
import {
  balance,
  channelChain,
  DEFAULT_BUDGET,
  DEFAULT_PRICE_PER_GIB,
  getChannel,
  registerRelay,
  scanClaims,
  supplyOk,
  TX_FEE,
  writeChainKey,
  writeClientWallet,
  type ClaimRecord,
} from './economy.js';
import { parseJsonObject, type Proc } from './procs.js';
import type { Host, Testnet } from './testnet.js';
import { connectClient, keygen, startRelays, type ClientSession, type RelayNode } from './topvpn.js';
import { RELAY_PORT } from './topology.js';

export class PaidNetworkError extends Error {
  override readonly name = 'PaidNetworkError';
}

export interface PaidNetworkOptions {
  shards?: number;
  group?: number;
  auditors?: number;
  pricePerGiB?: bigint;
  budget?: bigint;
  /** More `toprelay start` args for relay host `host` (e.g. --metrics, --region). */
  relayArgs?: (host: Host, i: number) => string[];
  onProgress?: (msg: string) => void;
}

export interface PaidNetwork {
  net: Testnet;
  chain: ChainNet;
  relays: RelayNode[];
  payer: KeyPair;
  wallet: { wallet: string; passwordFile: string; address: string };
  /** The payer's home shard: where its channels live. */
  payerChain: string;
  budget: bigint;
  /** Claim lines ("claim submitted") seen in the relays' logs so far. */
  claimsSeen: () => number;
  /** The same, by the claim worker's reason (e.g. threshold, watchtower, shutdown). */
  claimReasons: () => Record<string, number>;
}

/** Starts the chain, registers and starts paid relays (the testnet must have been made with `chain: true`). */
export async function startPaidNetwork(net: Testnet, o: PaidNetworkOptions = {}): Promise<PaidNetwork> {
  const say = o.onProgress ?? (() => {});
  const price = o.pricePerGiB ?? DEFAULT_PRICE_PER_GIB;
  const hosts = net.relays;
  const chain = await ChainNet.start(net, { shards: o.shards ?? 2, group: o.group ?? 4, ...(o.auditors !== undefined ? { auditors: o.auditors } : {}), accounts: hosts.length + 1, onProgress: say });
  try {
    await chain.waitReady();
    const accounts = chain.devnet.accounts;
    if (accounts.length < hosts.length + 1) throw new PaidNetworkError(`devnet has ${accounts.length} funded accounts, need ${hosts.length + 1}`);
    const payer = accounts[hosts.length]!;
    say(`chain ready: ${chain.urls.length} nodes, chain id ${chain.devnet.chainId}; relays and client funded at genesis`);
    // Relay i talks to node i+1 (spreads the RPC load; node 0 serves the client and the orchestrator).
    const rpcFor = (i: number): string => chain.urls[(i + 1) % chain.urls.length]!;
    const regs = await Promise.all(
      hosts.map(async (h, i) => {
        const keyFile = join(net.dir, `${h.name}.key.json`);
        const onionKey = await keygen(net, h, keyFile);
        const kp = accounts[i]!;
        const chainKey = writeChainKey(net, h.name, kp);
        const reg = { host: h, keyFile: chainKey, address: kp.address, onionKey, endpoint: `${h.ip}:${RELAY_PORT}`, rpcUrl: rpcFor(i), pricePerGiB: price };
        const hash = await registerRelay(net, chain, reg);
        say(`registered relay ${h.name} on chain: deposit 200000 TOP, price ${price} per GiB (tx ${hash.slice(0, 12)}…)`);
        return { keyFile, onionKey, chainKey, address: kp.address, rpcUrl: reg.rpcUrl };
      }),
    );
    let claims = 0;
    const reasons: Record<string, number> = {};
    const relays = await startRelays(net, {
      timeoutMs: 30_000,
      each: (h, i) => ({
        key: { file: regs[i]!.keyFile, publicKey: regs[i]!.onionKey },
        address: regs[i]!.address,
        pricePerGiB: price,
        extraArgs: ['--chain-rpc', regs[i]!.rpcUrl, '--node-key', regs[i]!.chainKey, '--price-per-gib', price.toString(), '--json', '--stats-interval', '0', ...(o.relayArgs?.(h, i) ?? [])],
      }),
    });
    for (const r of relays) {
      r.proc.onLine((line, stream) => {
        if (stream !== 'stderr' || !line.includes('"claim submitted"')) return;
        claims++;
        const reason = parseJsonObject(line)?.['reason'];
        const k = typeof reason === 'string' ? reason : 'unknown';
        reasons[k] = (reasons[k] ?? 0) + 1;
      });
    }
    const wallet = await writeClientWallet(net, payer);
    return { net, chain, relays, payer, wallet, payerChain: channelChain(payer.address, chain.devnet.shards), budget: o.budget ?? DEFAULT_BUDGET, claimsSeen: () => claims, claimReasons: () => ({ ...reasons }) };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}

/** `topvpn connect` paying through `hops` relays (channels opened before the circuit). */
export async function connectPaid(pn: PaidNetwork, hops: number, timeoutMs = 120_000): Promise<ClientSession> {
  return connectClient(pn.net, pn.relays, {
    hops,
    timeoutMs,
    extraArgs: ['--chain-rpc', pn.chain.urls[0]!, '--wallet', pn.wallet.wallet, '--password-file', pn.wallet.passwordFile, '--budget', pn.budget.toString(), '--no-dns'],
  });
}

export interface SettledChannel {
  channelId: string;
  relay: string;
  deposit: bigint;
  /** The client's last receipt's amount (what it promised). */
  promised: bigint;
  /** On chain after settlement. */
  claimed: bigint;
  claimedBytes: bigint;
  refunded: bigint;
  status: string;
}

export interface RelayFigures {
  host: string;
  address: string;
  /** Bytes the relay served on its paid circuits (its ledger), from its "stopped" line. */
  servedBytes: bigint;
  receiptedBytes: bigint;
  exitCode: number | null;
}

export interface Settlement {
  channels: SettledChannel[];
  claims: ClaimRecord[];
  relays: RelayFigures[];
  closeTxs: number;
  finalizeTxs: number;
  /** Client balance change at finalize: Σ refunds − finalize fees. */
  refundBalanceDelta: bigint;
  supply: boolean[];
  fromHeight: number;
  toHeight: number;
}

function clientEvent(proc: Proc, name: string): Record<string, unknown> | undefined {
  return proc.lines('stdout').map(parseJsonObject).reverse().find((o) => o?.['event'] === name);
}

/**
 * Disconnects the client and settles everything (see the module comment). `fromHeight` is the
 * payer shard's final height before the client connected (the claim scan starts there).
 */
export async function settle(pn: PaidNetwork, session: ClientSession, fromHeight: number, say: (m: string) => void = () => {}): Promise<Settlement> {
  const { chain } = pn;
  const url = chain.urls[0]!;
  await session.disconnect(60_000);
  const ev = clientEvent(session.proc, 'settled');
  if (!ev) throw new PaidNetworkError(`the client printed no "settled" event: ${session.proc.lines('stdout').slice(-5).join(' | ')}`);
  if (typeof ev['error'] === 'string') throw new PaidNetworkError(`the client could not close its channels: ${ev['error']}`);
  const raw = ev['channels'] as Array<{ channelId: string; relay: string; deposit: string; promised: string }>;
  const closeTxs = (ev['closeTxs'] as string[]).length;
  say(`client disconnected; ${closeTxs} channel close tx(s) sent; waiting for the relays' watchtower claims`);
  const want = raw.map((c) => ({ ...c, deposit: BigInt(c.deposit), promised: BigInt(c.promised) }));
  try {
    await waitFor('watchtower claims of the last receipts', async () => {
      for (const c of want) {
        const ch = await getChannel(chain, url, c.channelId);
        const target = c.promised < c.deposit ? c.promised : c.deposit;
        if (ch.status !== 'closing' || ch.claimed < target) return false;
      }
      return true;
    }, 90_000);
  } catch (err) {
    say(`not every last receipt was claimed while the relays ran (${(err as Error).message}); the relays' shutdown claims follow`);
  }
  say('stopping the relays (shutdown claims)');
  const relays = await Promise.all(
    pn.relays.map(async (r): Promise<RelayFigures> => {
      const st = await r.proc.stop(30_000);
      const stopped = r.proc.lines('stdout').map(parseJsonObject).find((o) => o?.['event'] === 'stopped');
      const p = (stopped?.['payments'] ?? {}) as Record<string, unknown>;
      return { host: r.host.name, address: r.address ?? '', servedBytes: BigInt(String(p['servedBytes'] ?? '0')), receiptedBytes: BigInt(String(p['receiptedBytes'] ?? '0')), exitCode: st.code };
    }),
  );
  // every channel closing, its last claim in; then the challenge window
  const closing = await Promise.all(want.map((c) => getChannel(chain, url, c.channelId)));
  const closesAt = Math.max(...closing.map((c) => c.closesAt ?? 0));
  say(`challenge window: waiting for ${pn.payerChain} height ${closesAt}`);
  await waitFor('challenge window over', async () => (await chain.finalHeight(url, pn.payerChain)) >= closesAt, 180_000);
  const payerChain = await ClientChain.connect({ url, signer: seedSigner(Buffer.from(pn.payer.seedHex, 'hex')), fee: TX_FEE, call: chain.call });
  const before = await balance(chain, url, pn.payer.address);
  let finalizeTxs = 0;
  for (const c of closing) {
    if (c.status !== 'closing') continue;
    const h = await payerChain.finalizeChannel(c.id);
    await payerChain.waitFinal(h, { timeoutMs: 90_000 });
    finalizeTxs++;
  }
  const after = await balance(chain, url, pn.payer.address);
  const final = await Promise.all(want.map((c) => getChannel(chain, url, c.channelId)));
  const toHeight = await chain.finalHeight(url, pn.payerChain);
  const claims = await scanClaims(chain, url, pn.payerChain, fromHeight, toHeight, new Map(final.map((c) => [c.id, { deposit: c.deposit }])));
  say(`finalized ${finalizeTxs} channel(s); checking the supply on ${chain.urls.length} nodes`);
  const supply = await supplyOk(chain);
  return {
    channels: final.map((c, i) => ({
      channelId: c.id,
      relay: c.relay,
      deposit: c.deposit,
      promised: want[i]!.promised,
      claimed: c.claimed,
      claimedBytes: c.cumulativeBytes,
      refunded: c.status === 'finalized' ? c.deposit - c.claimed : 0n,
      status: c.status,
    })),
    claims,
    relays,
    closeTxs,
    finalizeTxs,
    refundBalanceDelta: after - before,
    supply,
    fromHeight,
    toHeight,
  };
}

/** The final JSON line's figures (amounts as decimal strings of base units). */
export function summaryJson(s: Settlement, clientBytes: number): Record<string, unknown> {
  const sum = (xs: bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);
  return {
    client_bytes: clientBytes,
    relay_bytes: s.relays.map((r) => Number(r.servedBytes)),
    paid: sum(s.channels.map((c) => c.promised)).toString(),
    claimed: sum(s.channels.map((c) => c.claimed)).toString(),
    burned: sum(s.claims.map((c) => c.burn)).toString(),
    refunded: sum(s.channels.map((c) => c.refunded)).toString(),
    claim_txs: s.claims.length,
    supply_ok: s.supply.length > 0 && s.supply.every(Boolean),
  };
}
