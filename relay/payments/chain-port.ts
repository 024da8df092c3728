/**
 * The relay's ChainPort over a node's JSON-RPC, and the watchtower feed.
 *
 * RpcChainPort: `getChannel` = channel_get (the node's committed state; null when unknown);
 * `submitClaim` = a channel-claim tx built with buildClaimTx (executes on the payer's home shard;
 * the payer is read from the channel once and remembered — it never changes) sent with
 * tx_submit; resolves to the tx hash once the node admitted it (the node dry-runs claims, so a
 * stale/forged/over-deposit claim is refused here, as a ChainRpcError naming the rule).
 * `waitTx` polls tx_get. It also serves as the payment hooks' ChannelSource (wrap it in
 * CachedChannelSource).
 *
 * ChannelWatcher: subscribes to `channelEvents` over the node's WebSocket and calls `onClosing`
 * for every applied channel-close of a channel `isOurs` accepts. When the subscription cannot be
 * had (or drops), it polls `getChannel` for the channels `channels()` lists every `pollMs`,
 * reporting those seen `closing`, and tries to subscribe again on the next poll.
 */
import WebSocket from 'ws';
import { RpcCallError } from '../../chain/node/rpc-client.js';
import type { PaymentReceipt } from '../../chain/state/payment-receipt.js';
import type { Channel } from '../../chain/state/types.js';
import type { Logger } from '../../common/log.js';
import type { ChainPort } from './claims.js';
import { buildClaimTx } from './claims.js';
import { ChainRpcError, defaultRpcCall, rpcChainIdentity, rpcGetChannel, rpcWaitTx, type RpcCallFn, type TxState, type WaitTxOptions } from './chain-rpc.js';
import type { ChannelSource } from './hooks.js';

export interface RpcChainPortOptions {
  /** Node JSON-RPC URL (http://host:port). */
  url: string;
  chainId: string;
  shardCount: number;
  /** The relay's Ed25519 seed (32 bytes) and address: claims are signed by the relay. */
  relaySeed: Uint8Array;
  relay: string;
  /** Fee of each claim tx (≥ the chain's minFee; paid out of the claim). */
  fee: bigint;
  timeoutMs?: number;
  call?: RpcCallFn;
}

export class RpcChainPort implements ChainPort, ChannelSource {
  private readonly call: RpcCallFn;
  private readonly payers = new Map<string, string>();
  submissions = 0;
  rejections = 0;

  constructor(readonly o: RpcChainPortOptions) {
    if (o.relaySeed.length !== 32) throw new ChainRpcError('relay seed must be 32 bytes');
    this.call = o.call ?? defaultRpcCall;
  }

  /** Reads the chain id and shard count from the node (chain_status). */
  static async connect(o: Omit<RpcChainPortOptions, 'chainId' | 'shardCount'>): Promise<RpcChainPort> {
    const id = await rpcChainIdentity(o.call ?? defaultRpcCall, o.url, o.timeoutMs);
    return new RpcChainPort({ ...o, ...id });
  }

  async getChannel(channelId: string): Promise<Channel | null> {
    const ch = await rpcGetChannel(this.call, this.o.url, channelId, this.o.timeoutMs);
    if (ch) this.payers.set(ch.id, ch.payer);
    return ch;
  }

  async submitClaim(receipt: PaymentReceipt, signature: string): Promise<string> {
    this.submissions++;
    let payer = this.payers.get(receipt.channelId);
    if (payer === undefined) {
      const ch = await this.getChannel(receipt.channelId);
      if (ch === null) throw new ChainRpcError(`channel ${receipt.channelId.slice(0, 12)} unknown to the node`);
      payer = ch.payer;
    }
    const stx = buildClaimTx({ chainId: this.o.chainId, shardCount: this.o.shardCount, payer, relaySeed: this.o.relaySeed, relay: this.o.relay, fee: this.o.fee, best: { receipt, signature } });
    try {
      const hash = await this.call<string>(this.o.url, 'tx_submit', [stx], this.o.timeoutMs);
      if (typeof hash !== 'string') throw new ChainRpcError('tx_submit: no hash');
      return hash;
    } catch (e) {
      if (e instanceof RpcCallError) {
        this.rejections++;
        throw new ChainRpcError(`claim refused by the node: ${e.message}`);
      }
      throw e;
    }
  }

  waitTx(hash: string, o?: WaitTxOptions): Promise<TxState> {
    return rpcWaitTx(this.call, this.o.url, hash, o);
  }
}

/** One applied channel tx as published on `channelEvents` (chain/node/main.ts). */
export interface ChannelEvent {
  chain: string;
  height: number;
  type: string;
  from: string;
  op: { type: string; channelId?: string };
  status?: string;
}

export interface ChannelWatcherOptions {
  /** Node JSON-RPC URL (http://…); the WebSocket is the same host/port. */
  url: string;
  /** Reads channels when polling (the RpcChainPort). */
  port: ChannelSource;
  /** Is this channel one of ours (e.g. the ReceiptBook holds it)? */
  isOurs(channelId: string): boolean;
  /** Our channels to poll when the subscription is not available. */
  channels(): Iterable<string>;
  /** A channel of ours is closing (call ClaimWorker.onChannelClosing and tick it). */
  onClosing(channelId: string): void;
  log: Logger;
  pollMs?: number;
}

export type WatchMode = 'stopped' | 'subscription' | 'polling';

export class ChannelWatcher {
  private ws: WebSocket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private st: WatchMode = 'stopped';
  private readonly reported = new Set<string>();
  private polling = false;
  readonly pollMs: number;
  /** Close events seen on the subscription / closes found by polling. */
  events = 0;
  polls = 0;

  constructor(private readonly o: ChannelWatcherOptions) {
    this.pollMs = o.pollMs ?? 5_000;
  }

  get mode(): WatchMode {
    return this.st;
  }

  /** Subscribes (or falls back to polling); resolves with the mode reached. */
  async start(): Promise<WatchMode> {
    if (this.st !== 'stopped') return this.st;
    this.st = 'polling';
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref?.();
    await this.subscribe();
    return this.st;
  }

  stop(): void {
    this.st = 'stopped';
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    ws?.terminate();
  }

  private report(channelId: string): void {
    if (this.reported.has(channelId)) return;
    this.reported.add(channelId);
    try {
      this.o.onClosing(channelId);
    } catch (e) {
      this.o.log.warn({ err: e }, 'watchtower: onClosing threw');
    }
  }

  private subscribe(): Promise<void> {
    const wsUrl = this.o.url.replace(/^http/, 'ws');
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = (): void => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      let ws: WebSocket;
      try {
        ws = new WebSocket(wsUrl);
      } catch (e) {
        this.o.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'watchtower: cannot open WebSocket; polling');
        return done();
      }
      this.ws = ws;
      const timeout = setTimeout(() => {
        ws.terminate();
        done();
      }, 5_000);
      ws.on('open', () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscribe', params: ['channelEvents'] })));
      ws.on('message', (data) => {
        let m: { id?: unknown; result?: unknown; error?: unknown; method?: string; params?: { topic?: string; result?: ChannelEvent } };
        try {
          m = JSON.parse(String(data)) as typeof m;
        } catch {
          return;
        }
        if (m.id === 1) {
          clearTimeout(timeout);
          if (m.error === undefined && typeof m.result === 'string' && this.st !== 'stopped') {
            this.st = 'subscription';
            this.o.log.info({ url: wsUrl }, 'watchtower: subscribed to channelEvents');
          } else ws.terminate();
          return done();
        }
        const ev = m.params?.result;
        if (m.method !== 'subscription' || m.params?.topic !== 'channelEvents' || ev === undefined) return;
        const id = ev.op?.channelId;
        if (ev.type === 'channel-close' && ev.status === 'ok' && typeof id === 'string' && this.o.isOurs(id)) {
          this.events++;
          this.report(id);
        }
      });
      const lost = (): void => {
        clearTimeout(timeout);
        if (this.ws === ws) this.ws = undefined;
        if (this.st === 'subscription') {
          this.st = 'polling';
          this.o.log.warn('watchtower: subscription lost; polling');
        }
        done();
      };
      ws.on('close', lost);
      ws.on('error', lost);
    });
  }

  /** One polling round (also run by the timer while not subscribed). */
  async poll(): Promise<void> {
    if (this.st !== 'polling' || this.polling) return;
    this.polling = true;
    try {
      this.polls++;
      for (const id of this.o.channels()) {
        if (this.reported.has(id)) continue;
        try {
          const ch = await this.o.port.getChannel(id);
          if (ch?.status === 'closing' || ch?.status === 'finalized') this.report(id);
        } catch {
          break; // node unreachable: next round
        }
      }
      if (this.ws === undefined && this.st === 'polling') await this.subscribe();
    } finally {
      this.polling = false;
    }
  }
}
