/**
 * Txs entering one chain's pool: a tx submitted here (already verified) is pooled if this
 * node is a validator of the next height and, batched over 10 ms, gossiped to that group;
 * a gossiped tx is pooled after the checks (right chain, not stale, signature once per node).
 */
import type { ChainState, SignedTx } from '../state/types.js';
import { isStaleClaim } from './claims.js';
import type { Mempool } from './mempool.js';
import { hashOf, type RuntimeHost } from './runtime-types.js';

/** What intake reads from its chain runtime. */
export interface IntakeContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  readonly mempool: Mempool<SignedTx>;
  state(): ChainState;
  isValidator(): boolean;
  validators(): readonly string[];
}

export class TxIntake {
  private gossipBuf: SignedTx[] = [];
  private gossipTimer = false;

  constructor(private readonly ctx: IntakeContext) {}

  /** Adds a verified tx to the pool (validators) or forwards it to the validators. */
  admitLocal(stx: SignedTx, hash: string): void {
    if (this.ctx.isValidator()) {
      this.ctx.mempool.add({ hash, from: stx.tx.from, nonce: stx.tx.nonce, nonceFree: stx.tx.op.type === 'channel-claim', tx: stx, addedAt: Date.now() });
    }
    this.queueGossip(stx);
  }

  private queueGossip(stx: SignedTx): void {
    this.gossipBuf.push(stx);
    if (this.gossipTimer) return;
    this.gossipTimer = true;
    setTimeout(() => {
      this.gossipTimer = false;
      const batch = this.gossipBuf;
      this.gossipBuf = [];
      if (batch.length > 0) this.ctx.host.net.multicast(this.ctx.validators(), { k: 'txs', c: this.ctx.chain, body: batch });
    }, 10).unref();
  }

  /** A batch gossiped by a peer (only validators of the next height pool it). */
  onGossip(body: unknown): void {
    if (this.ctx.isValidator() && Array.isArray(body)) for (const stx of body as SignedTx[]) this.admitGossiped(stx);
  }

  private admitGossiped(stx: SignedTx): void {
    const { chain, host, mempool } = this.ctx;
    try {
      if (!stx?.tx || stx.tx.chain !== chain || stx.tx.chainId !== host.chainId) return;
      const hash = hashOf(stx);
      if (mempool.has(hash)) return;
      const state = this.ctx.state();
      if (stx.tx.op?.type !== 'channel-claim' && stx.tx.nonce < (state.accounts[stx.tx.from]?.nonce ?? 0)) return;
      if (isStaleClaim(state, stx)) return;
      if (!host.verifyTx(stx, hash)) return;
      mempool.add({ hash, from: stx.tx.from, nonce: stx.tx.nonce, nonceFree: stx.tx.op.type === 'channel-claim', tx: stx, addedAt: Date.now() });
    } catch {
      // full pool or duplicate slot: drop
    }
  }
}
