/**
 * Every Prometheus metric a `topchain` node exports (GET /metrics on its RPC port);
 * grafana/ dashboards are linted against METRIC_NAMES. Counters end in _total, durations are
 * _seconds; label values come from fixed lists (chain: beacon | shard-<i> | other).
 * Token amounts are base units (10^6 per TOP) exported as float64 (toSample).
 *
 *   topchain_up                            gauge      1 while the node runs
 *   topchain_height{chain}                 gauge      committed height
 *   topchain_final_height{chain}           gauge      final height (validator QC + auditor certificate)
 *   topchain_blocks_total{chain}           counter    blocks committed
 *   topchain_block_seconds{chain}          histogram  time between consecutive committed blocks
 *   topchain_finality_seconds{kind}        histogram  kind=block: commit → final on this node;
 *                                                     kind=tx: admission at this node → final
 *   topchain_txs_total{chain,result}       counter    ok|failed|invalid (executed) | rejected (refused at admission)
 *   topchain_receipts_applied_total{chain} counter    cross-chain receipts applied
 *   topchain_view_changes_total{chain}     counter    views entered by timeout certificate
 *   topchain_committee_member{chain,role}  gauge      1 if this node is a validator / auditor of the chain
 *   topchain_mempool_txs{chain}            gauge      txs waiting in this node's mempool
 *   topchain_supply{kind}                  gauge      circulating|staked|locked|channels|in_flight|burned (partition
 *                                                     genesis + issued) and reserve
 *   topchain_supply_ok                     gauge      1 if the supply invariant holds over all chains (last decided value:
 *                                                     undecidable while this node has one chain ahead of another)
 *   topchain_tx_verifications_total        counter    Ed25519 tx signature checks by this node
 *   topchain_peers                         gauge      peers with an open message stream
 *   topchain_p2p_sent_messages_total{kind} counter    node-to-node messages sent, one per recipient (kind from MESSAGE_KINDS)
 *   topchain_p2p_sent_bytes_total{kind}    counter    their framed bytes before transport encryption
 *   topchain_errors_total{kind}            counter    kind from CHAIN_ERROR_KINDS
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CounterSync, toSample } from '../../common/metrics-server.js';
import type { SupplyReport } from '../state/index.js';
import { MESSAGE_KINDS, type MessageKind, type TrafficCount } from './net.js';

export const TX_RESULTS = ['ok', 'failed', 'invalid', 'rejected'] as const;
export const FINALITY_KINDS = ['block', 'tx'] as const;
export const COMMITTEE_ROLES = ['validator', 'auditor'] as const;
export const SUPPLY_KINDS = ['circulating', 'staked', 'locked', 'channels', 'in_flight', 'burned', 'reserve'] as const;
/** commit_refused: a peer's block failed verification; validation: a proposal's payload was refused; store: a LevelDB write failed; sync: serving a sync request failed; internal: anything else. */
export const CHAIN_ERROR_KINDS = ['commit_refused', 'validation', 'store', 'sync', 'internal'] as const;
export type ChainErrorKind = (typeof CHAIN_ERROR_KINDS)[number];

export const METRIC_NAMES = [
  'topchain_up',
  'topchain_height',
  'topchain_final_height',
  'topchain_blocks_total',
  'topchain_block_seconds',
  'topchain_finality_seconds',
  'topchain_txs_total',
  'topchain_receipts_applied_total',
  'topchain_view_changes_total',
  'topchain_committee_member',
  'topchain_mempool_txs',
  'topchain_supply',
  'topchain_supply_ok',
  'topchain_tx_verifications_total',
  'topchain_consensus_verifications_total',
  'topchain_peers',
  'topchain_p2p_sent_messages_total',
  'topchain_p2p_sent_bytes_total',
  'topchain_errors_total',
] as const;

/** A bounded chain label: 'beacon', 'shard-<i>', else 'other'. */
export function chainLabel(chain: string): string {
  return chain === 'beacon' || /^shard-(0|[1-9][0-9]{0,3})$/.test(chain) ? chain : 'other';
}

export interface RuntimeSnapshot {
  readonly chain: string;
  readonly height: number;
  readonly finalHeight: number;
  readonly isValidator: boolean;
  readonly isAuditor: boolean;
  readonly mempool: { readonly size: number };
}

export interface ChainMetrics {
  readonly registry: Registry;
  readonly up: Gauge;
  readonly height: Gauge<'chain'>;
  readonly finalHeight: Gauge<'chain'>;
  readonly blocks: Counter<'chain'>;
  readonly blockSeconds: Histogram<'chain'>;
  readonly finality: Histogram<'kind'>;
  readonly txs: Counter<'chain' | 'result'>;
  readonly receiptsApplied: Counter<'chain'>;
  readonly viewChanges: Counter<'chain'>;
  readonly committeeMember: Gauge<'chain' | 'role'>;
  readonly mempoolTxs: Gauge<'chain'>;
  readonly supply: Gauge<'kind'>;
  readonly supplyOk: Gauge;
  readonly txVerifications: Counter;
  readonly consensusVerifications: Counter;
  readonly peers: Gauge;
  readonly errors: Counter<'kind'>;
  /** A committed block: counts it, its tx results and receipts, and the time since the chain's previous block. */
  observeBlock(chain: string, b: { committedAt: number; height?: number; results: ReadonlyArray<{ kind: string; status: string }>; txHashes?: readonly string[] }): void;
  /** A block became final (audit certificate; beacon: on commit). */
  observeFinal(chain: string, height: number, now?: number): void;
  txAdmitted(hash: string, now?: number): void;
  txRejected(chain: string): void;
  viewChange(chain: string): void;
  error(kind: ChainErrorKind): void;
  observeRuntime(r: RuntimeSnapshot): void;
  observeSupply(report: SupplyReport): void;
  /** Cumulative tx verifications of the node (fed through CounterSync: never decreases). */
  observeVerifications(total: number): void;
  /** Cumulative consensus-signature verifications of the process (votes, QCs, timeouts, audit shares). */
  observeConsensusVerifications(total: number): void;
  /** Cumulative messages and bytes sent per kind (Network.sentTraffic). */
  observeTraffic(sent: ReadonlyMap<MessageKind, Readonly<TrafficCount>>): void;
}

/** Creates the chain metrics on `registry` (a fresh one by default, never the global one). */
export function createChainMetrics(registry: Registry = new Registry(), opts: { chains?: readonly string[] } = {}): ChainMetrics {
  const r = registry;
  const chains = (opts.chains ?? ['beacon', 'shard-0', 'shard-1']).map(chainLabel);
  const up = new Gauge({ name: 'topchain_up', help: '1 while the chain node process runs', registers: [r] });
  up.set(1);
  const height = new Gauge({ name: 'topchain_height', help: 'Committed height of each chain on this node', labelNames: ['chain'], registers: [r] });
  const finalHeight = new Gauge({ name: 'topchain_final_height', help: 'Final height (validator QC + auditor certificate) of each chain', labelNames: ['chain'], registers: [r] });
  const blocks = new Counter({ name: 'topchain_blocks_total', help: 'Blocks committed per chain on this node', labelNames: ['chain'], registers: [r] });
  const blockSeconds = new Histogram({ name: 'topchain_block_seconds', help: 'Time between consecutive committed blocks of a chain', labelNames: ['chain'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [r] });
  const finality = new Histogram({ name: 'topchain_finality_seconds', help: 'Finality delay: block = commit to final on this node; tx = admission at this node to final', labelNames: ['kind'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60], registers: [r] });
  const txs = new Counter({ name: 'topchain_txs_total', help: 'Transactions executed in committed blocks by result, or rejected at admission', labelNames: ['chain', 'result'], registers: [r] });
  const receiptsApplied = new Counter({ name: 'topchain_receipts_applied_total', help: 'Cross-chain receipts applied by committed blocks', labelNames: ['chain'], registers: [r] });
  const viewChanges = new Counter({ name: 'topchain_view_changes_total', help: 'Consensus views entered by timeout certificate', labelNames: ['chain'], registers: [r] });
  const committeeMember = new Gauge({ name: 'topchain_committee_member', help: '1 if this node is a validator or auditor of the chain, else 0', labelNames: ['chain', 'role'], registers: [r] });
  const mempoolTxs = new Gauge({ name: 'topchain_mempool_txs', help: "Transactions waiting in this node's mempool per chain", labelNames: ['chain'], registers: [r] });
  const supply = new Gauge({ name: 'topchain_supply', help: 'Where the supply sits over all chains in base units, as seen by this node', labelNames: ['kind'], registers: [r] });
  const supplyOk = new Gauge({ name: 'topchain_supply_ok', help: '1 if the supply invariant holds over all chains as seen by this node (last value decided on a consistent cut of the chains)', registers: [r] });
  const txVerifications = new Counter({ name: 'topchain_tx_verifications_total', help: 'Ed25519 transaction signature verifications done by this node', registers: [r] });
  const consensusVerifications = new Counter({ name: 'topchain_consensus_verifications_total', help: 'Ed25519 verifications of consensus signatures (votes, QCs, timeouts, audit shares) done by this node', registers: [r] });
  const peers = new Gauge({ name: 'topchain_peers', help: 'Peers this node has an open message stream to', registers: [r] });
  const sentMessages = new Counter({ name: 'topchain_p2p_sent_messages_total', help: 'Node-to-node messages sent by kind, one per recipient', labelNames: ['kind'], registers: [r] });
  const sentBytes = new Counter({ name: 'topchain_p2p_sent_bytes_total', help: 'Bytes of node-to-node messages sent by kind (framed, before transport encryption)', labelNames: ['kind'], registers: [r] });
  for (const kind of MESSAGE_KINDS) {
    sentMessages.inc({ kind }, 0);
    sentBytes.inc({ kind }, 0);
  }
  const errors = new Counter({ name: 'topchain_errors_total', help: 'Errors by kind (refused blocks and payloads, store and sync failures)', labelNames: ['kind'], registers: [r] });
  for (const chain of chains) {
    for (const result of TX_RESULTS) txs.inc({ chain, result }, 0);
    blocks.inc({ chain }, 0);
    receiptsApplied.inc({ chain }, 0);
    viewChanges.inc({ chain }, 0);
  }
  for (const kind of CHAIN_ERROR_KINDS) errors.inc({ kind }, 0);
  for (const kind of FINALITY_KINDS) finality.zero({ kind });
  const verifySync = new CounterSync();
  const consensusVerifySync = new CounterSync();
  const trafficSync = new CounterSync();

  const lastBlockAt = new Map<string, number>();
  const commitAt = new Map<string, number>();
  const admittedAt = new Map<string, number>();
  const finalWait = new Map<string, string[]>();
  const m: ChainMetrics = {
    registry: r,
    up,
    height,
    finalHeight,
    blocks,
    blockSeconds,
    finality,
    txs,
    receiptsApplied,
    viewChanges,
    committeeMember,
    mempoolTxs,
    supply,
    supplyOk,
    txVerifications,
    consensusVerifications,
    peers,
    errors,
    observeBlock(chainName, b) {
      const chain = chainLabel(chainName);
      blocks.inc({ chain });
      const last = lastBlockAt.get(chain);
      if (last !== undefined && b.committedAt >= last) blockSeconds.observe({ chain }, (b.committedAt - last) / 1000);
      lastBlockAt.set(chain, b.committedAt);
      let receipts = 0;
      for (const res of b.results) {
        if (res.kind === 'tx' && (res.status === 'ok' || res.status === 'failed' || res.status === 'invalid')) txs.inc({ chain, result: res.status });
        else if (res.kind === 'receipt' && res.status !== 'invalid') receipts++;
      }
      if (receipts > 0) receiptsApplied.inc({ chain }, receipts);
      if (b.height !== undefined) {
        const k = `${chain}/${b.height}`;
        commitAt.set(k, b.committedAt);
        if (commitAt.size > 20_000) commitAt.clear();
        const mine = (b.txHashes ?? []).filter((h) => admittedAt.has(h));
        if (mine.length > 0) finalWait.set(k, mine);
        if (finalWait.size > 20_000) finalWait.clear();
      }
    },
    observeFinal(chainName, h, now = Date.now()) {
      const k = `${chainLabel(chainName)}/${h}`;
      const t = commitAt.get(k);
      if (t !== undefined) {
        finality.observe({ kind: 'block' }, Math.max(0, now - t) / 1000);
        commitAt.delete(k);
      }
      const mine = finalWait.get(k);
      if (mine) {
        finalWait.delete(k);
        for (const hash of mine) {
          const a = admittedAt.get(hash);
          if (a === undefined) continue;
          admittedAt.delete(hash);
          finality.observe({ kind: 'tx' }, Math.max(0, now - a) / 1000);
        }
      }
    },
    txAdmitted(hash, now = Date.now()) {
      if (admittedAt.size > 100_000) admittedAt.clear();
      admittedAt.set(hash, now);
    },
    txRejected(chain) {
      txs.inc({ chain: chainLabel(chain), result: 'rejected' });
    },
    viewChange(chain) {
      viewChanges.inc({ chain: chainLabel(chain) });
    },
    error(kind) {
      errors.inc({ kind });
    },
    observeRuntime(rt) {
      const chain = chainLabel(rt.chain);
      height.set({ chain }, rt.height);
      finalHeight.set({ chain }, rt.finalHeight);
      committeeMember.set({ chain, role: 'validator' }, rt.isValidator ? 1 : 0);
      committeeMember.set({ chain, role: 'auditor' }, rt.isAuditor ? 1 : 0);
      mempoolTxs.set({ chain }, rt.mempool.size);
    },
    observeSupply(rep) {
      const sum = (f: (p: SupplyReport['perChain'][number]) => bigint): number => toSample(rep.perChain.reduce((a, p) => a + f(p), 0n));
      supply.set({ kind: 'circulating' }, sum((p) => p.balances));
      supply.set({ kind: 'staked' }, sum((p) => p.nodeDeposits));
      supply.set({ kind: 'locked' }, sum((p) => p.votes + p.unlocking + p.resourceLocked));
      supply.set({ kind: 'channels' }, sum((p) => p.channels));
      supply.set({ kind: 'in_flight' }, toSample(rep.inFlight));
      supply.set({ kind: 'burned' }, sum((p) => p.burned));
      supply.set({ kind: 'reserve' }, sum((p) => p.reserve));
      // Undecidable while one chain is ahead of another (a node catching up): keep the last verdict.
      if (rep.consistent) supplyOk.set(rep.ok ? 1 : 0);
    },
    observeVerifications(total) {
      verifySync.advance(txVerifications, total);
    },
    observeConsensusVerifications(total) {
      consensusVerifySync.advance(consensusVerifications, total);
    },
    observeTraffic(sent) {
      for (const [kind, c] of sent) {
        trafficSync.advance(sentMessages, c.messages, { kind });
        trafficSync.advance(sentBytes, c.bytes, { kind });
      }
    },
  };
  return m;
}
