/**
 * The node's JSON-RPC methods. Positional or named params. Amounts are decimal strings.
 *   chain_status []                       → node and per-chain heights
 *   chain_getBlock [chain, height]        → block, roots, body, results, QC, audit certificate
 *   account_get [address]                 → {address, chain, balance, nonce, pendingNonce, resource}: nonce is
 *                                           the committed one; pendingNonce the next free one after this
 *                                           sender's txs waiting in this node's pool, or, on a node that
 *                                           does not validate the sender's shard, forwarded from it (60 s)
 *   tx_submit [signedTx]                  → tx hash, or error -32000 "<rule>: <why>"
 *   tx_get [hash]                         → {status: pending|committed|final|unknown, result}
 *   node_list []                          → registered nodes (beacon) + directory + committees
 *   node_get [address]                    → one registered node: {address, role, status, deposit, votes,
 *                                           stake, jailed, slashed, unbondingUntil?, endpoints, price,
 *                                           region, keys, registeredAt, height}, or error -32001
 *   committee_get [chain, height?]        → {epoch, validators, auditors, periodStart, firstView} running that
 *                                           height (default: the next one), or -32001 if not elected yet
 *   channel_get [id]                      → channel, or error -32001
 *   supply_get []                         → supply invariant report over all chains
 *   evidence_list []                      → double-vote evidence seen by this node (for `slash` txs)
 *   metrics_get []                        → counters (tx verifications, view changes (also per chain), commits, p2p
 *                                           messages and bytes sent per kind)
 *   net_peers []                          → p2p peers: {address, source (registry|directory|bootstrap|inbound),
 *                                           multiaddr, dialed?, connected, dialFailures}
 * Subscriptions (WebSocket): newBlocks, finalBlocks, channelEvents.
 */
import { homeChain } from '../state/index.js';
import { signatureVerifications } from '../consensus/index.js';
import type { ChainNode } from './node.js';
import { MalformedTxError, TxRejected } from './node.js';
import { nodeStatusOf } from './node-status.js';
import { decodePayload } from './payload.js';
import { RpcError, RPC_INVALID_PARAMS, RPC_NOT_FOUND, RPC_TX_REJECTED, intParam, param, stringParam, type RpcServer } from './rpc.js';
import type { Network } from './net.js';

const HEX32 = /^[0-9a-f]{64}$/;

export function registerMethods(rpc: RpcServer, node: ChainNode, net: Network, info: { rpcUrl: string; p2p: string[] }): void {
  rpc.register('chain_status', () => ({
    chainId: node.chainId,
    address: node.self,
    rpc: info.rpcUrl,
    p2p: info.p2p,
    uptimeMs: Date.now() - node.startedAt,
    peers: net.connectedPeers().length,
    chains: [...node.runtimes.values()].map((r) => ({
      chain: r.chain,
      height: r.height,
      finalHeight: r.finalHeight,
      tipHash: r.tipHash,
      validator: r.isValidator,
      auditor: r.isAuditor,
      view: r.coreView() ?? null,
      epoch: r.committee.epoch,
      mempool: r.mempool.size,
      txsCommitted: r.txsCommitted,
    })),
  }));

  rpc.register('net_peers', () => net.peerTable?.() ?? net.connectedPeers().map((address) => ({ address, connected: true })));

  rpc.register('chain_getBlock', async (p) => {
    const chain = stringParam(p, 0, 'chain');
    const height = intParam(p, 1, 'height')!;
    const rt = node.runtimes.get(chain);
    if (!rt) throw new RpcError(RPC_INVALID_PARAMS, `unknown chain ${chain}`);
    const rec = await rt.record(height);
    if (!rec) throw new RpcError(RPC_NOT_FOUND, `no block ${chain}#${height}`);
    const payload = decodePayload(rec.block.payload);
    const audit = await rt.auditOf(height);
    const { payload: _bytes, ...header } = rec.block;
    void _bytes;
    return {
      ...header,
      stateRoot: payload.stateRoot,
      receiptsRoot: payload.receiptsRoot,
      body: payload.body,
      results: rec.results,
      outgoing: rec.outgoing,
      qc: rec.qc,
      audit: audit?.cert ?? null,
      final: height <= rt.finalHeight,
      committedAt: rec.committedAt,
      finalAt: audit?.finalAt ?? null,
    };
  });

  rpc.register('account_get', (p) => {
    const address = stringParam(p, 0, 'address', HEX32);
    const chain = homeChain(address, node.params.shardCount);
    const st = node.runtime(chain).state;
    const a = st.accounts.get(address);
    const nonce = a?.nonce ?? 0;
    const pendingNonce = node.runtime(chain).pendingRunEnd(address, nonce) + 1;
    return { address, chain, balance: a?.balance ?? 0n, nonce, pendingNonce, resource: a?.resource ?? null, height: st.height };
  });

  rpc.register('tx_submit', (p) => {
    const raw = param(p, 0, 'tx');
    try {
      const stx = (node.constructor as typeof ChainNode).parseSignedTx(raw);
      return node.submitTx(stx);
    } catch (e) {
      if (e instanceof MalformedTxError) throw new RpcError(RPC_TX_REJECTED, e.message, { rule: e.rule, field: e.field });
      if (e instanceof TxRejected) throw new RpcError(RPC_TX_REJECTED, e.message, { rule: e.rule });
      throw new RpcError(RPC_TX_REJECTED, `tx: ${(e as Error).message}`, { rule: 'tx' });
    }
  });

  rpc.register('committee_get', (p) => {
    const chain = stringParam(p, 0, 'chain');
    const rt = node.runtimes.get(chain);
    if (!rt) throw new RpcError(RPC_INVALID_PARAMS, `unknown chain ${chain}`);
    const height = intParam(p, 1, 'height', true) ?? rt.height + 1;
    const g = rt.groupAt(height);
    if (!g) throw new RpcError(RPC_NOT_FOUND, `committee of ${chain}#${height} not elected yet (beacon behind)`);
    return { chain, height, epoch: g.epoch, validators: g.validators, auditors: g.auditors, periodStart: g.periodStart, firstView: g.firstView, epochBlocks: node.schedule.epochBlocks };
  });

  rpc.register('tx_get', async (p) => {
    const hash = stringParam(p, 0, 'hash', HEX32);
    return { hash, ...(await node.txStatus(hash)) };
  });

  rpc.register('node_list', () => {
    const beacon = node.runtime('beacon').state;
    return {
      nodes: Object.values(beacon.nodes),
      directory: node.opts.genesis.nodes,
      committees: node.opts.genesis.committees,
      /** Committees running each chain's next height (differs from genesis once re-elected). */
      current: Object.fromEntries([...node.runtimes.values()].map((r) => [r.chain, { epoch: r.committee.epoch, validators: r.validators, auditors: r.auditors }])),
    };
  });

  rpc.register('node_get', (p) => {
    const address = stringParam(p, 0, 'address', HEX32);
    const v = nodeStatusOf(node.runtime('beacon').state, address);
    if (!v) throw new RpcError(RPC_NOT_FOUND, `no node registered by ${address}`);
    return v;
  });

  rpc.register('channel_get', (p) => {
    const id = stringParam(p, 0, 'id');
    for (const rt of node.runtimes.values()) {
      const ch = rt.state.channels.get(id);
      if (ch) return { chain: rt.chain, ...ch };
    }
    throw new RpcError(RPC_NOT_FOUND, `no channel ${id}`);
  });

  rpc.register('supply_get', () => {
    const r = node.supply();
    return { ok: r.ok, consistent: r.consistent, message: r.message, expected: r.expected, actual: r.actual, inFlight: r.inFlight, reserveOk: r.reserveOk, perChain: r.perChain, heights: Object.fromEntries([...node.runtimes.values()].map((x) => [x.chain, x.height])) };
  });

  rpc.register('evidence_list', () => [...node.runtimes.values()].flatMap((r) => r.evidence.map((e) => ({ chain: r.chain, evidence: e }))));

  rpc.register('metrics_get', () => ({
    txVerifications: node.txVerifications,
    consensusVerifications: signatureVerifications.count,
    viewChanges: node.viewChanges,
    viewChangesByChain: Object.fromEntries(node.viewChangesByChain),
    txsCommitted: Object.fromEntries([...node.runtimes.values()].map((r) => [r.chain, r.txsCommitted])),
    sent: Object.fromEntries(net.sentTraffic?.() ?? []),
  }));
}
