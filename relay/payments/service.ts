/**
 * Everything a relay daemon needs for payments, in one object: the payment hooks for its
 * RelayEngine (channels read from a node over JSON-RPC with a short cache), the ReceiptBook, the
 * ClaimWorker ticking on a timer, and the watchtower (channelEvents subscription, polling
 * fallback) that makes the worker claim a closing channel at once.
 *
 *   const pay = await RelayPayments.start({ rpcUrl, relaySeed, pricePerGiB, log });
 *   const engine = new RelayEngine({ ..., hooks: pay.hooks });
 *   pay.hooks.attach(engine);
 *   ...
 *   await pay.stop(); // claims every receipt worth claiming (shutdown mode), then stops
 *
 * The relay's chain address is derived from its Ed25519 seed (its node key / wallet).
 */
import { keyPairFromSeed } from '../../chain/state/crypto.js';
import { SystemClock, type Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import { ChannelWatcher, RpcChainPort, type WatchMode } from './chain-port.js';
import type { RpcCallFn } from './chain-rpc.js';
import { ClaimWorker, defaultClaimPolicy, type TickReport } from './claims.js';
import { CachedChannelSource, createRelayPaymentHooks, type PaymentEvent, type RelayPaymentHooks, type RelayPaymentStats } from './hooks.js';
import { reconcile, ledgerInputs, type EarningsReport } from './ledger.js';
import { ReceiptBook } from './meter.js';
import { ReceiptStore } from './receipt-store.js';

/**
 * TEST ONLY (attack suites): a relay started with this variable set adds that many bytes to the
 * served figures of every PAYMENT_REQUIRED / RECEIPT_ACK it sends, i.e. it overclaims. Never set
 * it in production: honest clients stop paying such a relay (client/payments/signer.ts).
 */
export const TEST_OVERCLAIM_ENV = 'TOPVPN_TEST_RELAY_OVERCLAIM_BYTES';

export const DEFAULT_CLAIM_TICK_MS = 5_000;
/** Devnet/default chain params (chain/state/params.ts): minFee 0.01 TOP, burn 10 %. */
export const DEFAULT_CLAIM_FEE = 10_000n;
export const DEFAULT_BURN_PERCENT = 10n;

export interface RelayPaymentsConfig {
  /** Node JSON-RPC URL (http://host:port). */
  rpcUrl: string;
  /** The relay's Ed25519 seed (32 bytes): signs claims; its public key is the relay's address. */
  relaySeed: Uint8Array;
  pricePerGiB: bigint;
  /** Claim tx fee (≥ the chain's minFee). */
  fee?: bigint;
  /** The chain's claimBurnPercent (for the ledger and dust checks). */
  burnPercent?: bigint;
  creditWindowBytes?: bigint;
  /** Claim when a channel owes at least this many bytes' worth (default 1 GiB, see claims.ts). */
  claimThresholdBytes?: bigint;
  claimTickMs?: number;
  channelCacheMs?: number;
  watchPollMs?: number;
  log: Logger;
  clock?: Clock;
  onEvent?: (ev: PaymentEvent) => void;
  onClaims?: (r: TickReport) => void;
  call?: RpcCallFn;
  /**
   * Where the best receipts are kept across restarts (receipt-store.ts); loaded at start (the
   * claim worker then claims what is due, a closed channel at once), saved on every receipt.
   */
  receiptsFile?: string;
  /** TEST ONLY: see TEST_OVERCLAIM_ENV (default: read from that variable, else 0). */
  reportInflationBytes?: bigint;
}

export interface RelayPaymentsStats {
  address: string;
  chainId: string;
  watch: WatchMode;
  hooks: RelayPaymentStats;
  claims: { confirmed: number; lastTick: number };
  channelLookups: number;
}

export class RelayPayments {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private lastTick = 0;
  private stopped = false;

  private constructor(
    readonly address: string,
    readonly port: RpcChainPort,
    readonly cache: CachedChannelSource,
    readonly book: ReceiptBook,
    readonly hooks: RelayPaymentHooks,
    readonly worker: ClaimWorker,
    readonly watcher: ChannelWatcher,
    private readonly cfg: RelayPaymentsConfig,
    readonly store: ReceiptStore | undefined,
  ) {}

  /** Connects to the node (chain id, shards), starts the watchtower and the claim timer. */
  static async start(cfg: RelayPaymentsConfig): Promise<RelayPayments> {
    const address = keyPairFromSeed(cfg.relaySeed).address;
    const fee = cfg.fee ?? DEFAULT_CLAIM_FEE;
    const burnPercent = cfg.burnPercent ?? DEFAULT_BURN_PERCENT;
    const port = await RpcChainPort.connect({ url: cfg.rpcUrl, relaySeed: cfg.relaySeed, relay: address, fee, ...(cfg.call ? { call: cfg.call } : {}) });
    const clock = cfg.clock ?? new SystemClock();
    const cache = new CachedChannelSource(port, clock, cfg.channelCacheMs);
    const book = new ReceiptBook();
    const store = cfg.receiptsFile !== undefined ? new ReceiptStore(cfg.receiptsFile, address, cfg.log) : undefined;
    const restored = store?.restoreInto(book);
    if (restored) cfg.log.info({ file: cfg.receiptsFile, ...restored }, 'receipts restored');
    const envInflation = process.env[TEST_OVERCLAIM_ENV];
    const inflation = cfg.reportInflationBytes ?? (envInflation !== undefined && /^\d+$/.test(envInflation) ? BigInt(envInflation) : 0n);
    if (inflation > 0n) cfg.log.warn({ bytes: inflation.toString() }, `${TEST_OVERCLAIM_ENV} set: this relay overclaims (test only)`);
    // finalized channels (worker's chain view) have nothing left to claim: not kept on disk
    let notFinalized = (_id: string): boolean => true;
    const hooks = createRelayPaymentHooks({
      chainId: port.o.chainId,
      relay: address,
      pricePerGiB: cfg.pricePerGiB,
      ...(cfg.creditWindowBytes !== undefined ? { creditWindowBytes: cfg.creditWindowBytes } : {}),
      chain: cache,
      book,
      log: cfg.log,
      ...(inflation > 0n ? { reportInflationBytes: inflation } : {}),
      onOutcome: (ev) => {
        if (ev.type === 'receipt' && store) store.schedule(book, notFinalized);
        cfg.onEvent?.(ev);
      },
    });
    const worker: ClaimWorker = new ClaimWorker(port, book, defaultClaimPolicy({ pricePerGiB: cfg.pricePerGiB, fee, burnPercent, ...(cfg.claimThresholdBytes !== undefined ? { thresholdBytes: cfg.claimThresholdBytes } : {}) }));
    notFinalized = (id) => worker.chainView(id)?.status !== 'finalized';
    let self: RelayPayments | undefined;
    const watcher = new ChannelWatcher({
      url: cfg.rpcUrl,
      port,
      isOurs: (id) => book.get(id) !== undefined,
      channels: () => book.accountsList().map((a) => a.channelId),
      onClosing: (id) => {
        cfg.log.info({ channel: id.slice(0, 12) }, 'watchtower: channel closing; claiming');
        cache.invalidate(id);
        worker.onChannelClosing(id);
        void self?.tick();
      },
      log: cfg.log,
      ...(cfg.watchPollMs !== undefined ? { pollMs: cfg.watchPollMs } : {}),
    });
    self = new RelayPayments(address, port, cache, book, hooks, worker, watcher, cfg, store);
    await watcher.start();
    const r = self;
    r.timer = setInterval(() => void r.tick(), cfg.claimTickMs ?? DEFAULT_CLAIM_TICK_MS);
    r.timer.unref();
    // Restored receipts: a channel closed while we were away is claimed now, not at the next tick.
    if (restored && restored.restored > 0) void r.tick();
    cfg.log.info({ address: address.slice(0, 16), chainId: port.o.chainId, watch: watcher.mode }, 'payments ready');
    return r;
  }

  /** One claim-worker round (serialised: a round in progress is awaited, not doubled). */
  tick(mode: 'normal' | 'shutdown' = 'normal'): Promise<void> {
    const run = async (): Promise<void> => {
      try {
        const rep = await this.worker.tick(mode);
        this.lastTick = rep.tick;
        this.cache.prune();
        for (const f of rep.failed) this.cfg.log.warn({ channel: f.channelId.slice(0, 12), err: f.error }, 'claim failed');
        for (const s of rep.submitted) this.cfg.log.info({ channel: s.channelId.slice(0, 12), reason: s.reason, delta: s.delta.toString(), tx: s.txHash.slice(0, 16) }, 'claim submitted');
        this.cfg.onClaims?.(rep);
      } catch (e) {
        this.cfg.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'claim round failed');
      }
    };
    const prev = this.ticking ?? Promise.resolve();
    const next = prev.then(run);
    this.ticking = next.finally(() => {
      if (this.ticking === next) this.ticking = undefined;
    });
    return next;
  }

  /** Earnings per channel and in total (ledger.ts), from the book and the worker's chain view. */
  earnings(): EarningsReport {
    return reconcile(ledgerInputs(this.book, this.worker), this.cfg.burnPercent ?? DEFAULT_BURN_PERCENT);
  }

  stats(): RelayPaymentsStats {
    return {
      address: this.address,
      chainId: this.port.o.chainId,
      watch: this.watcher.mode,
      hooks: this.hooks.stats(),
      claims: { confirmed: this.worker.confirmed.length, lastTick: this.lastTick },
      channelLookups: this.cache.lookups,
    };
  }

  /** Claims whatever is worth claiming (shutdown mode), then stops the timer and the watchtower. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher.stop();
    await this.tick('shutdown');
    if (this.store) {
      this.store.schedule(this.book, (id) => this.worker.chainView(id)?.status !== 'finalized');
      this.store.flush();
    }
  }
}
