/**
 * The node's JSON-RPC surface (chain/node/rpc.ts's real RpcServer: HTTP + WebSocket
 * subscriptions) served in-process over a FakeChain (the real chain/state applyBlock):
 * chain_status, account_get, channel_get, tx_submit, tx_get and the channelEvents topic, with
 * the shapes of chain/node/rpc-methods.ts. Like the node, tx_submit dry-runs claims and
 * current-nonce txs on the committed state and refuses them naming the rule. `mine()` applies the queued txs and publishes the
 * channel events of the block, as the node does.
 */
import { RpcError, RpcServer } from '../../../chain/node/rpc.js';
import { applyTx, decodeJson, txHash, type ItemResult, type SignedTx } from '../../../chain/state/index.js';
import { silentLogger } from '../../../common/log.js';
import type { FakeChain } from '../payments/fake-chain.js';

export class RpcFakeNode {
  readonly server = new RpcServer(silentLogger());
  url = '';
  private readonly txs = new Map<string, { status: 'pending' | 'final'; chain: string; height?: number; result?: ItemResult }>();

  constructor(readonly chain: FakeChain) {
    const s = this.server;
    s.register('chain_status', () => ({ chainId: chain.params.chainId, chains: [...chain.states.keys()].map((c) => ({ chain: c, height: chain.state(c).height, finalHeight: chain.state(c).height })) }));
    s.register('account_get', (p) => {
      const address = (p as string[])[0]!;
      const a = chain.state(chain.home(address)).accounts.get(address);
      return { address, chain: chain.home(address), balance: a?.balance ?? 0n, nonce: a?.nonce ?? 0 };
    });
    s.register('channel_get', (p) => {
      const id = (p as string[])[0]!;
      for (const [c, st] of chain.states) if (st.channels.get(id)) return { chain: c, ...st.channels.get(id) };
      throw new RpcError(-32001, `no channel ${id}`);
    });
    s.register('tx_submit', (p) => {
      const stx = decodeJson<SignedTx>(JSON.stringify((p as unknown[])[0]));
      if (stx.tx.chainId !== chain.params.chainId) throw new RpcError(-32000, `tx: chain id ${stx.tx.chainId}`, { rule: 'tx' });
      const hash = txHash(stx.tx);
      const st = chain.states.get(stx.tx.chain as never);
      if (!st) throw new RpcError(-32000, `tx: unknown chain ${stx.tx.chain}`, { rule: 'tx' });
      const isClaim = stx.tx.op.type === 'channel-claim';
      if (isClaim || stx.tx.nonce === (st.accounts.get(stx.tx.from)?.nonce ?? 0)) {
        const { result } = applyTx(st, stx, chain.params);
        if (result.status !== 'ok') throw new RpcError(-32000, `${result.error?.rule ?? 'tx'}: ${result.error?.message ?? result.status}`, { rule: result.error?.rule });
      }
      chain.mempool.push(stx);
      this.txs.set(hash, { status: 'pending', chain: stx.tx.chain });
      return hash;
    });
    s.register('tx_get', (p) => {
      const hash = (p as string[])[0]!;
      const t = this.txs.get(hash);
      return t ? { hash, ...t } : { hash, status: 'unknown' };
    });
  }

  async listen(): Promise<string> {
    const a = await this.server.listen('127.0.0.1', 0);
    this.url = `http://127.0.0.1:${a.port}`;
    return this.url;
  }

  /** Mines one block per shard; every result is recorded for tx_get and channel txs are published. */
  mine(expectOk = true): void {
    const queued = [...this.chain.mempool];
    const blocks = this.chain.mine(expectOk);
    for (const b of blocks) {
      for (const r of b.results) {
        const t = this.txs.get(r.id);
        if (t) Object.assign(t, { status: 'final', height: b.state.height, result: r });
        const stx = queued.find((q) => txHash(q.tx) === r.id);
        if (stx && stx.tx.op.type.startsWith('channel-')) this.server.publish('channelEvents', { chain: b.state.chain, height: b.state.height, type: stx.tx.op.type, from: stx.tx.from, op: stx.tx.op, status: r.status });
      }
    }
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
