/**
 * Txs entering one chain's pool: a tx submitted here (already verified) is pooled if this
 * node is a validator of the next height and, batched over 10 ms, gossiped to that group;
 * a gossiped tx is pooled after the checks (right chain, not stale, signature once per node).
 * A node that only forwards (not a validator) remembers the (sender, nonce) slots it forwarded
 * for FORWARDED_NONCE_TTL_MS, so its `pendingNonce` and its refusal of a second tx in a taken
 * slot match what the validators' pools will do with them.
 */
import type { ChainState, SignedTx } from '../state/types.js';
import { isStaleClaim } from './claims.js';
import { MempoolFullError, type Mempool } from './mempool.js';
import { hashOf, type RuntimeHost } from './runtime-types.js';
import { decodeTxList, encodeTxList } from './tx-codec.js';

/** What intake reads from its chain runtime. */
export interface IntakeContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  readonly mempool: Mempool<SignedTx>;
  state(): ChainState;
  isValidator(): boolean;
  validators(): readonly string[];
}

/** How long a forwarding node holds a (sender, nonce) slot it forwarded: long enough for the tx to commit, short enough that a tx the validators dropped frees its slot soon. */
export const FORWARDED_NONCE_TTL_MS = 60_000;
/** Senders a forwarding node tracks at most (the map is cleared beyond it, as the tx status map is). */
const FORWARDED_SENDERS_MAX = 100_000;

export class TxIntake {
  private gossipBuf: SignedTx[] = [];
  private gossipTimer = false;
  /** Forwarding nodes only: sender → nonce → the tx forwarded in that slot. */
  private readonly forwarded = new Map<string, Map<number, { hash: string; at: number }>>();

  constructor(
    private readonly ctx: IntakeContext,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Adds a verified tx to the pool (validators) or forwards it to the validators. Throws
   * MempoolFullError when the pool is full or the (sender, nonce) slot is taken by another tx
   * (in the pool, or forwarded from here within FORWARDED_NONCE_TTL_MS).
   */
  admitLocal(stx: SignedTx, hash: string): void {
    const { from, nonce } = stx.tx;
    const nonceFree = stx.tx.op.type === 'channel-claim';
    if (this.ctx.isValidator()) {
      this.ctx.mempool.add({ hash, from, nonce, nonceFree, tx: stx, addedAt: this.now() });
    } else if (!nonceFree) {
      this.holdForwarded(from, nonce, hash);
    }
    this.queueGossip(stx);
  }

  /**
   * Last nonce of the run of pending nonces of `sender` starting at `from` (from − 1 when none):
   * over the pool on a validator, over the slots it forwarded on a forwarding node.
   */
  pendingRunEnd(sender: string, from: number): number {
    if (this.ctx.isValidator()) return this.ctx.mempool.pendingRunEnd(sender, from);
    const slots = this.forwarded.get(sender);
    const oldest = this.now() - FORWARDED_NONCE_TTL_MS;
    let n = from;
    for (let s = slots?.get(n); s !== undefined && s.at > oldest; s = slots?.get(n)) n++;
    return n - 1;
  }

  /** Takes the slot for a forwarded tx (kept as it is if this tx already holds it: submitted again, it is forwarded again). */
  private holdForwarded(from: string, nonce: number, hash: string): void {
    const now = this.now();
    let slots = this.forwarded.get(from);
    if (!slots) {
      if (this.forwarded.size >= FORWARDED_SENDERS_MAX) this.forwarded.clear();
      this.forwarded.set(from, (slots = new Map()));
    }
    const committed = this.ctx.state().accounts.get(from)?.nonce ?? 0;
    for (const [n, s] of slots) if (n < committed || s.at <= now - FORWARDED_NONCE_TTL_MS) slots.delete(n);
    const cur = slots.get(nonce);
    if (cur?.hash === hash) return;
    if (cur) throw new MempoolFullError(`nonce: a transaction with nonce ${nonce} from this sender is already pending`);
    // The validators' per-sender pool limit, so a forwarding node never holds more (and the prune above stays short).
    if (slots.size >= this.ctx.mempool.maxPerSender) throw new MempoolFullError(`mempool: sender has ${slots.size} pending transactions`);
    slots.set(nonce, { hash, at: now });
  }

  private queueGossip(stx: SignedTx): void {
    this.gossipBuf.push(stx);
    if (this.gossipTimer) return;
    this.gossipTimer = true;
    setTimeout(() => {
      this.gossipTimer = false;
      const batch = this.gossipBuf;
      this.gossipBuf = [];
      if (batch.length > 0) this.ctx.host.net.multicast(this.ctx.validators(), { k: 'txs', c: this.ctx.chain, body: encodeTxList(batch) });
    }, 10).unref();
  }

  /**
   * A batch gossiped by a peer (only validators of the next height pool it): a tx list
   * (tx-codec.ts), or an array of txs as nodes before the binary list sent. A list that does
   * not decode is dropped whole.
   */
  onGossip(body: unknown): void {
    if (!this.ctx.isValidator()) return;
    let txs: unknown[];
    if (body instanceof Uint8Array) {
      try {
        txs = decodeTxList(body);
      } catch (e) {
        this.ctx.host.log.warn({ chain: this.ctx.chain, err: (e as Error).message }, 'gossiped tx list refused');
        return;
      }
    } else if (Array.isArray(body)) txs = body;
    else return;
    for (const stx of txs) this.admitGossiped(stx as SignedTx);
  }

  private admitGossiped(stx: SignedTx): void {
    const { chain, host, mempool } = this.ctx;
    try {
      if (!stx?.tx || stx.tx.chain !== chain || stx.tx.chainId !== host.chainId) return;
      const hash = hashOf(stx);
      if (mempool.has(hash)) return;
      const state = this.ctx.state();
      if (stx.tx.op?.type !== 'channel-claim' && stx.tx.nonce < (state.accounts.get(stx.tx.from)?.nonce ?? 0)) return;
      if (isStaleClaim(state, stx)) return;
      if (!host.verifyTx(stx, hash)) return;
      mempool.add({ hash, from: stx.tx.from, nonce: stx.tx.nonce, nonceFree: stx.tx.op.type === 'channel-claim', tx: stx, addedAt: this.now() });
    } catch {
      // full pool or duplicate slot: drop
    }
  }
}
