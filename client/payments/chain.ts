/**
 * The client's channels on chain, over a node's JSON-RPC: open (per plan), wait until final,
 * close, finalize, query. Txs are signed by the payer's key and sent on its home shard.
 *
 * Nonces: the next nonce is max(account nonce on chain, the last one this object used + 1), so
 * several txs may be sent back to back (the node accepts a run of consecutive nonces). A tx the
 * node refuses is a TxRejectedError naming the chain rule (e.g. "channel-open: balance …").
 * The channel id of an open is channelIdFor(chainId, payer, nonce) (chain/state).
 */
import { nextNonce, RpcCallError, type AccountNonces } from '../../chain/node/rpc-client.js';
import { channelIdFor, homeChain, txSigningBytes, type Channel, type SignedTx, type Tx, type TxOp } from '../../chain/state/index.js';
import { ed25519Sign, keyPairFromSeed } from '../../chain/state/crypto.js';
import { defaultRpcCall, rpcChainIdentity, rpcGetChannel, rpcWaitTx, type RpcCallFn, type TxState, type WaitTxOptions } from '../../relay/payments/chain-rpc.js';
import type { ChannelPlan } from './channels.js';

export { TxFailedError, TxTimeoutError } from '../../relay/payments/chain-rpc.js';

/** The node refused a tx at submission (the message names the rule). */
export class TxRejectedError extends Error {
  override readonly name = 'TxRejectedError';
  constructor(
    readonly rule: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Who signs the txs: client/wallet's Wallet satisfies it; `seedSigner` wraps a raw seed. */
export interface TxSigner {
  readonly address: string;
  /** Ed25519 signature (64 B) over `message`. */
  sign(message: Uint8Array): Uint8Array;
}

/** A TxSigner over a raw 32-byte Ed25519 seed. */
export function seedSigner(seed: Uint8Array): TxSigner {
  if (seed.length !== 32) throw new TxRejectedError(undefined, 'payer seed must be 32 bytes');
  const s = Uint8Array.from(seed);
  return { address: keyPairFromSeed(s).address, sign: (m) => ed25519Sign(s, m) };
}

export interface ClientChainOptions {
  url: string;
  chainId: string;
  shardCount: number;
  /** The payer (a Wallet, or seedSigner(seed)). */
  signer: TxSigner;
  /** Fee per tx (≥ the chain's minFee). */
  fee: bigint;
  timeoutMs?: number;
  call?: RpcCallFn;
}

/** One hop of an executed plan: `deposit`/`txHash` only for channels opened now (reused ones have neither). */
export interface OpenedChannel {
  hop: number;
  relay: string;
  channelId: string;
  deposit?: bigint;
  txHash?: string;
}

/** The node's refusal of a nonce another pending tx of the sender holds (chain/node/mempool.ts). */
const NONCE_TAKEN = /nonce \d+ from this sender is already pending/;
const NONCE_RETRIES = 8;

export class ClientChain {
  readonly payer: string;
  private readonly call: RpcCallFn;
  private nextNonce = -1;

  constructor(readonly o: ClientChainOptions) {
    this.payer = o.signer.address;
    this.call = o.call ?? defaultRpcCall;
  }

  /** Reads the chain id and shard count from the node (chain_status). */
  static async connect(o: Omit<ClientChainOptions, 'chainId' | 'shardCount'>): Promise<ClientChain> {
    const id = await rpcChainIdentity(o.call ?? defaultRpcCall, o.url, o.timeoutMs);
    return new ClientChain({ ...o, ...id });
  }

  /** Balance and committed nonce; `pendingNonce` is the next nonce after the payer's txs the node still holds. */
  async account(): Promise<{ balance: bigint; nonce: number; pendingNonce: number }> {
    const a = await this.call<AccountNonces & { balance: string }>(this.o.url, 'account_get', [this.payer], this.o.timeoutMs);
    return { balance: BigInt(a.balance), nonce: a.nonce, pendingNonce: nextNonce(a) };
  }

  /** Committed height of the payer's home shard (where its channels live: closesAt is on it). */
  async homeHeight(): Promise<number> {
    const home = homeChain(this.payer, this.o.shardCount);
    const s = await this.call<{ chains: Array<{ chain: string; height: number }> }>(this.o.url, 'chain_status', [], this.o.timeoutMs);
    const c = s.chains?.find((x) => x.chain === home);
    if (c === undefined || !Number.isSafeInteger(c.height)) throw new TxRejectedError(undefined, `chain_status has no ${home}`);
    return c.height;
  }

  getChannel(channelId: string): Promise<Channel | null> {
    return rpcGetChannel(this.call, this.o.url, channelId, this.o.timeoutMs);
  }

  /** Opens one channel to `relay`; resolves once the node admitted the tx (not yet final). */
  async openChannel(relay: string, deposit: bigint): Promise<{ channelId: string; txHash: string }> {
    const { nonce, hash } = await this.send({ type: 'channel-open', relay, deposit });
    return { channelId: channelIdFor(this.o.chainId, this.payer, nonce), txHash: hash };
  }

  /**
   * Opens the channels a plan asks for (its 'open' hops; `relays[i]` must be hop i's address as
   * planned) and waits until every open is final. Reused hops are returned as they are.
   */
  async openPlanned(plan: ChannelPlan, wait: WaitTxOptions = {}): Promise<OpenedChannel[]> {
    const out: OpenedChannel[] = [];
    for (const [hop, h] of plan.hops.entries()) {
      if (h.action === 'reuse') out.push({ hop, relay: h.relay, channelId: h.channelId });
      else {
        const r = await this.openChannel(h.relay, h.deposit);
        out.push({ hop, relay: h.relay, channelId: r.channelId, deposit: h.deposit, txHash: r.txHash });
      }
    }
    for (const r of out) if (r.txHash) await this.waitFinal(r.txHash, wait);
    return out;
  }

  /** Starts closing (the relay then has the challenge window to claim). */
  async closeChannel(channelId: string): Promise<string> {
    return (await this.send({ type: 'channel-close', channelId })).hash;
  }

  /** After the challenge window: refunds deposit − claimed. */
  async finalizeChannel(channelId: string): Promise<string> {
    return (await this.send({ type: 'channel-finalize', channelId })).hash;
  }

  /** Waits until the tx is final (default) or committed, with an ok result (TxFailedError otherwise). */
  waitFinal(hash: string, o: WaitTxOptions = {}): Promise<TxState> {
    return rpcWaitTx(this.call, this.o.url, hash, o);
  }

  /**
   * Signs `op` with the next nonce on the payer's home shard and submits it. The nonce is the
   * node's pendingNonce (a tx another process of this wallet left pending, e.g. a close sent at
   * the last disconnect, holds its nonce); if the node still reports that nonce taken (a race with
   * another process), the next ones are tried, at most NONCE_RETRIES times.
   */
  private async send(op: TxOp): Promise<{ nonce: number; hash: string }> {
    const acct = await this.account();
    let nonce = Math.max(acct.pendingNonce, this.nextNonce);
    for (let attempt = 0; ; attempt++) {
      const tx: Tx = { chainId: this.o.chainId, chain: homeChain(this.payer, this.o.shardCount), from: this.payer, nonce, fee: this.o.fee, op };
      const stx: SignedTx = { tx, signature: Buffer.from(this.o.signer.sign(txSigningBytes(tx))).toString('hex') };
      try {
        const hash = await this.call<string>(this.o.url, 'tx_submit', [stx], this.o.timeoutMs);
        this.nextNonce = nonce + 1;
        return { nonce, hash };
      } catch (e) {
        if (!(e instanceof RpcCallError)) throw e;
        if (NONCE_TAKEN.test(e.message) && attempt < NONCE_RETRIES) {
          nonce++;
          continue;
        }
        const rule = (e.data as { rule?: string } | undefined)?.rule;
        throw new TxRejectedError(rule, `${op.type} refused by the node: ${e.message}`);
      }
    }
  }
}
