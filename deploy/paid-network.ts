/**
 * The paid testnet, end to end, shared by `npm start` (deploy/main.ts) and the netns test:
 * a devnet in the chain namespace, relays registered on chain (deposit + price) and started
 * with --chain-rpc, a client wallet funded at genesis, a paying `topvpn connect`, and the
 * settlement after disconnect: the client closes its channels, the relays' watchtowers claim,
 * the relays stop (shutdown claims), the challenge window passes, the payer finalizes (refund),
 * and the figures are read back from the chain (claims from the channel shard's blocks, burn
 * per claim, refunds, balances, supply on every node).
 * With `discovery`, every relay also publishes a signed descriptor over libp2p (a country from
 * RELAY_COUNTRIES, its own chain address as operator, a bandwidth); the first relay's libp2p
 * address is the bootstrap peer of the others and of the client, which then connects without
 * --relays: it learns the relays from that peer, checks them on chain and picks its own path.
 */
import { join } from 'node:path';
import { distBin } from '../common/paths.js';
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
import { CLIENT_CLI, connectClient, connectDiscovered, keygen, startRelay, type ClientSession, type RelayNode, type RelayOptions } from './topvpn.js';
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
  /** Relays publish descriptors over libp2p and the client finds them (see the module comment). */
  discovery?: boolean;
  onProgress?: (msg: string) => void;
}

/** Countries the testnet's relays declare, by relay index (cycled). */
export const RELAY_COUNTRIES = ['DE', 'FR', 'NL', 'SE', 'CH', 'AT', 'BE', 'DK', 'FI', 'NO'] as const;
/** The relays' libp2p (discovery) TCP port. */
export const P2P_PORT = 4001;
/** Bandwidth the relays advertise, Mbit/s. */
export const RELAY_BANDWIDTH_MBIT = 1000;

/** The relay network as published over libp2p. */
export interface PublishedNetwork {
  /** The first relay's libp2p multiaddr (…/p2p/<peer id>): every other node's bootstrap peer. */
  bootstrap: string;
  /** Relay chain address → the country it declared. */
  countries: Map<string, string>;
  /** Relay chain address → the operator it declared. */
  operators: Map<string, string>;
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
  /** Set when the relays publish descriptors (option `discovery`). */
  discovery?: PublishedNetwork;
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
    const relayOpts = (i: number, discoveryArgs: string[] = []): RelayOptions => ({
      exit: i === hosts.length - 1,
      timeoutMs: 30_000,
      key: { file: regs[i]!.keyFile, publicKey: regs[i]!.onionKey },
      address: regs[i]!.address,
      pricePerGiB: price,
      extraArgs: ['--chain-rpc', regs[i]!.rpcUrl, '--node-key', regs[i]!.chainKey, '--price-per-gib', price.toString(), ...discoveryArgs, '--json', '--stats-interval', '0', ...(o.relayArgs?.(hosts[i]!, i) ?? [])],
    });
    let relays: RelayNode[];
    let discovery: PublishedNetwork | undefined;
    if (o.discovery) {
      const published = await startPublishingRelays(net, regs.map((r) => r.address), relayOpts);
      relays = published.relays;
      discovery = published.network;
      say(`relays publish descriptors over libp2p (bootstrap ${discovery.bootstrap}): ${relays.map((r) => `${r.host.name} ${discovery!.countries.get(r.address!)}`).join(', ')}`);
      const listed = await waitListed(net, chain.urls[0]!, discovery.bootstrap, relays.length);
      say(`the bootstrap relay serves ${listed} relay descriptors, all staked on chain`);
    } else {
      relays = await Promise.all(hosts.map((_, i) => startRelay(net, hosts[i]!, relayOpts(i))));
    }
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
    const out: PaidNetwork = { net, chain, relays, payer, wallet, payerChain: channelChain(payer.address, chain.devnet.shards), budget: o.budget ?? DEFAULT_BUDGET, claimsSeen: () => claims, claimReasons: () => ({ ...reasons }) };
    if (discovery) out.discovery = discovery;
    return out;
  } catch (err) {
    await chain.stop();
    throw err;
  }
}

/**
 * Starts relay 0 with --p2p-listen, takes its libp2p address from its `listening` line, then
 * starts the others bootstrapping from it. Each declares RELAY_COUNTRIES[i] and its own chain
 * address as operator. `opts(i, discoveryArgs)` gives relay i's start options.
 */
async function startPublishingRelays(net: Testnet, addresses: readonly string[], opts: (i: number, discoveryArgs: string[]) => RelayOptions): Promise<{ relays: RelayNode[]; network: PublishedNetwork }> {
  const hosts = net.relays;
  const countries = new Map<string, string>();
  const operators = new Map<string, string>();
  const start = (i: number, bootstrap: string | undefined): Promise<RelayNode> => {
    const h = hosts[i]!;
    const country = RELAY_COUNTRIES[i % RELAY_COUNTRIES.length]!;
    countries.set(addresses[i]!, country);
    operators.set(addresses[i]!, addresses[i]!);
    const args = [
      '--p2p-listen', `/ip4/${h.ip}/tcp/${P2P_PORT}`, '--peer-key', join(net.dir, `${h.name}.peer.key`),
      '--country', country, '--operator', addresses[i]!, '--bandwidth', String(RELAY_BANDWIDTH_MBIT),
      ...(bootstrap !== undefined ? ['--bootstrap', bootstrap] : []),
    ];
    return startRelay(net, h, opts(i, args));
  };
  const first = await start(0, undefined);
  const listening = first.proc.lines('stdout').map(parseJsonObject).find((x) => x?.['event'] === 'listening');
  const multiaddrs = (listening?.['discovery'] as { multiaddrs?: string[] } | undefined)?.multiaddrs ?? [];
  const bootstrap = multiaddrs.find((m) => m.includes(`/ip4/${first.host.ip}/`)) ?? multiaddrs[0];
  if (bootstrap === undefined) {
    await first.proc.stop(10_000);
    throw new PaidNetworkError(`relay ${first.host.name} announced no discovery multiaddr: ${JSON.stringify(listening)}`);
  }
  const rest = await Promise.allSettled(hosts.slice(1).map((_, j) => start(j + 1, bootstrap)));
  const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all([first, ...rest.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))].map((r) => r.proc.stop(10_000)));
    throw failed.reason;
  }
  const relays = [first, ...rest.map((r) => (r as PromiseFulfilledResult<RelayNode>).value)];
  return { relays, network: { bootstrap, countries, operators } };
}

/**
 * Polls `topvpn relays --json` in the client namespace (what a client would learn from
 * `bootstrap` + the chain) until it lists `n` relays; returns the count.
 */
async function waitListed(net: Testnet, chainRpc: string, bootstrap: string, n: number, timeoutMs = 60_000): Promise<number> {
  let listed = 0;
  await waitFor(`the bootstrap relay serves all ${n} relays`, async () => {
    const r = await net.exec(net.client, [process.execPath, distBin(CLIENT_CLI), 'relays', '--chain-rpc', chainRpc, '--bootstrap', bootstrap, '--no-ping', '--json'], { allowFail: true, timeoutMs: 30_000 });
    const o = r.stdout.trim().split('\n').map(parseJsonObject).find((x) => x?.['event'] === 'relays');
    listed = Array.isArray(o?.['relays']) ? (o['relays'] as unknown[]).length : 0;
    return listed >= n;
  }, timeoutMs);
  return listed;
}

/**
 * `topvpn connect` paying through `hops` relays (channels opened before the circuit). With a
 * published network the client gets no relay list: only the bootstrap peer and the chain RPC
 * (+ --allow-same-subnet, the testnet being one /16, and a guard file of its own).
 */
export async function connectPaid(pn: PaidNetwork, hops: number, timeoutMs = 120_000): Promise<ClientSession> {
  const paid = ['--chain-rpc', pn.chain.urls[0]!, '--wallet', pn.wallet.wallet, '--password-file', pn.wallet.passwordFile, '--budget', pn.budget.toString(), '--no-dns'];
  if (pn.discovery) {
    return connectDiscovered(pn.net, {
      hops,
      timeoutMs,
      extraArgs: [...paid, '--bootstrap', pn.discovery.bootstrap, '--allow-same-subnet', '--guard-file', join(pn.net.dir, 'guards.json')],
    });
  }
  return connectClient(pn.net, pn.relays, { hops, timeoutMs, extraArgs: paid });
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
