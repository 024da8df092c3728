/**
 * Everything a client daemon needs for payments, in one object: plan and open (or reuse) one
 * channel per hop within a budget, start a PaymentSession on a built circuit, remember each
 * channel's last receipt (the resume point when it is reused), and close what is no longer used.
 *
 *   const pay = await ClientPayments.connect({ rpcUrl, signer: wallet, payerSeed, budget, log });
 *   const hops = await pay.prepare(path.map((r) => ({ relay: r.address, pricePerGiB: r.pricePerGiB })));
 *   const built = await circuit.build();
 *   const session = pay.session(circuit, hops, { clock, log });
 *   await session.bind();            // then route IP through session.sendIp / session.onIp
 *   ...
 *   session.finish(); circuit.close(); await pay.cleanup();
 *
 * `known` (the channels this payer holds, with their last receipts) is kept in memory;
 * `onChange` hands it over after every change so the daemon can persist it (it holds no secret).
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Circuit } from '../circuit.js';
import { ClientChain, type TxSigner } from './chain.js';
import { planChannels, planCleanup, type KnownChannel, type PlanOptions, type HopQuote } from './channels.js';
import { PaymentSession, type HopChannel, type PaymentSessionOptions } from './session.js';
import type { RpcCallFn, WaitTxOptions } from '../../relay/payments/chain-rpc.js';

/**
 * TEST ONLY (attack suites): a client daemon started with this variable set stops sending
 * receipts once a hop's receipt would cover more than that many bytes, and keeps sending IP
 * (PaymentSession stopPayingAfterBytes): the relays must cut it off after their credit window.
 */
export const TEST_STOP_PAYING_ENV = 'TOPVPN_TEST_CLIENT_STOP_PAYING_AFTER_BYTES';

/** Devnet/default chain minFee (chain/state/params.ts: 0.01 TOP). */
export const DEFAULT_TX_FEE = 10_000n;

export interface ClientPaymentsConfig {
  rpcUrl: string;
  /** Signs channel txs (client/wallet's Wallet). */
  signer: TxSigner;
  /** The same key's 32-byte seed: HopSigner signs receipts with it. */
  payerSeed: Uint8Array;
  /** Most one prepare() may lock or spend (new deposits + open fees), base units. */
  budget: bigint;
  fee?: bigint;
  plan?: Omit<PlanOptions, 'budget' | 'openFee'>;
  wait?: WaitTxOptions;
  known?: KnownChannel[];
  onChange?: (known: KnownChannel[]) => void;
  log: Logger;
  call?: RpcCallFn;
}

export class ClientPayments {
  private readonly known: KnownChannel[];
  private readonly inUse = new Set<string>();

  private constructor(
    readonly chain: ClientChain,
    private readonly cfg: ClientPaymentsConfig,
  ) {
    this.known = (cfg.known ?? []).map((k) => ({ ...k }));
  }

  static async connect(cfg: ClientPaymentsConfig): Promise<ClientPayments> {
    const chain = await ClientChain.connect({ url: cfg.rpcUrl, signer: cfg.signer, fee: cfg.fee ?? DEFAULT_TX_FEE, ...(cfg.call ? { call: cfg.call } : {}) });
    return new ClientPayments(chain, cfg);
  }

  get chainId(): string {
    return this.chain.o.chainId;
  }

  /** The channels this payer holds (copies). */
  channels(): KnownChannel[] {
    return this.known.map((k) => ({ ...k }));
  }

  /**
   * One channel per hop: refreshes the known channels from the chain, plans (reuse or open within
   * the budget; BudgetTooSmallError if it cannot), opens the new ones and waits until they are final.
   */
  async prepare(hops: HopQuote[]): Promise<HopChannel[]> {
    await this.refresh();
    const plan = planChannels(hops, this.known, { budget: this.cfg.budget, openFee: this.chain.o.fee, ...this.cfg.plan });
    const opened = await this.chain.openPlanned(plan, this.cfg.wait);
    const out: HopChannel[] = [];
    for (const [i, h] of plan.hops.entries()) {
      const o = opened[i]!;
      if (h.action === 'open') {
        this.known.push({ channelId: o.channelId, relay: h.relay, deposit: h.deposit, promised: 0n, status: 'open', closesAt: null });
        out.push({ channelId: o.channelId, deposit: h.deposit, pricePerGiB: hops[i]!.pricePerGiB, relay: h.relay });
        this.cfg.log.info({ hop: i, channel: o.channelId.slice(0, 12), deposit: h.deposit.toString() }, 'payments: channel opened');
      } else {
        const k = this.known.find((c) => c.channelId === h.channelId)!;
        out.push({ channelId: k.channelId, deposit: k.deposit, pricePerGiB: hops[i]!.pricePerGiB, relay: h.relay, ...(k.lastReceipt ? { resume: k.lastReceipt } : {}) });
      }
    }
    this.changed();
    return out;
  }

  /** A PaymentSession for `circuit` paying `hops`; its receipts update the known channels. */
  session(circuit: Circuit, hops: HopChannel[], o: { clock: Clock; log: Logger } & Partial<Pick<PaymentSessionOptions, 'onOverclaim' | 'onExhausted' | 'signer' | 'retryMs' | 'bindTimeoutMs' | 'tickMs'>>): PaymentSession {
    for (const h of hops) this.inUse.add(h.channelId);
    const stopEnv = process.env[TEST_STOP_PAYING_ENV];
    const stopPayingAfterBytes = stopEnv !== undefined && /^\d+$/.test(stopEnv) ? BigInt(stopEnv) : undefined;
    if (stopPayingAfterBytes !== undefined) this.cfg.log.warn({ bytes: stopEnv }, `${TEST_STOP_PAYING_ENV} set: this client stops paying (test only)`);
    return new PaymentSession({
      ...o,
      ...(stopPayingAfterBytes !== undefined ? { stopPayingAfterBytes } : {}),
      circuit,
      chainId: this.chainId,
      payer: this.chain.payer,
      payerSeed: this.cfg.payerSeed,
      hops,
      onSigned: (hop, r) => {
        const k = this.known.find((c) => c.channelId === hops[hop]!.channelId);
        if (k) {
          k.promised = r.receipt.cumulativeAmount;
          k.lastReceipt = { seq: r.receipt.seq, cumulativeBytes: r.receipt.cumulativeBytes, cumulativeAmount: r.receipt.cumulativeAmount };
          this.changed();
        }
      },
    });
  }

  /** The channels of a finished session may be closed by cleanup(). */
  release(hops: HopChannel[]): void {
    for (const h of hops) this.inUse.delete(h.channelId);
  }

  /**
   * Closes open channels not in use (unless kept for reuse: `keepRelays`), finalizes closing ones
   * whose challenge window is over. Returns the tx hashes sent.
   */
  async cleanup(keepRelays?: ReadonlySet<string>): Promise<string[]> {
    await this.refresh();
    const height = await this.chain.homeHeight();
    const plan = planCleanup(this.known, { height, inUse: this.inUse, fee: this.chain.o.fee, ...(keepRelays ? { keepRelays } : {}) });
    const sent: string[] = [];
    for (const id of plan.close) sent.push(await this.chain.closeChannel(id));
    for (const id of plan.finalize) sent.push(await this.chain.finalizeChannel(id));
    return sent;
  }

  /** Re-reads every known channel's status from the chain. */
  async refresh(): Promise<void> {
    for (const k of this.known) {
      const ch = await this.chain.getChannel(k.channelId);
      if (ch === null) continue;
      k.status = ch.status;
      k.closesAt = ch.closesAt;
      if (ch.claimed > k.promised) k.promised = ch.claimed;
    }
  }

  private changed(): void {
    try {
      this.cfg.onChange?.(this.channels());
    } catch (e) {
      this.cfg.log.warn({ err: e }, 'payments: onChange threw');
    }
  }
}
