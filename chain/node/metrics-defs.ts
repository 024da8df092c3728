/**
 * Prometheus metric definitions for a `topchain` node, by the metrics/Grafana owner.
 * (chain/node/metrics.ts was taken by the chain-node owner while this was written; the two
 * define the same names with the same types and labels except where noted in the report, and
 * grafana/ dashboards lint clean against either. One of them should remain.)
 *
 * Conventions: counters end in `_total`, durations are `_seconds`; every label takes values
 * from a fixed list. `chain` is 'beacon' or 'shard-<i>' (bounded by the shard count; any other
 * string is exported as 'other').
 *
 * Every node follows every chain, so per-chain figures (heights, blocks, committed txs) are the
 * same on every node up to lag: dashboards aggregate them with max/avg, not sum.
 *
 * Supply amounts are chain base units (10^6 per TOP) exported as float64: exact up to 2^53
 * base units (9.0e9 TOP), the nearest double above (relative error ≤ 2^-53). The kinds
 * partition the supply: circulating + locked + staked + channels + in_flight + burned =
 * genesis total + issued; `reserve` is the unissued reward reserve (outside that sum).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildVersion, toSample } from '../../common/metrics-server.js';
import type { ItemResult } from '../state/types.js';
import type { SupplyReport } from '../state/supply.js';

export const FINALITY_KINDS = ['validate', 'audit'] as const;
export type FinalityKind = (typeof FINALITY_KINDS)[number];
/** ok / failed / invalid: execution result of a committed tx; rejected: refused at submission by this node. */
export const TX_RESULTS = ['ok', 'failed', 'invalid', 'rejected'] as const;
export type TxResult = (typeof TX_RESULTS)[number];
export const COMMITTEE_ROLES = ['validator', 'auditor'] as const;
export const SUPPLY_KINDS = ['circulating', 'locked', 'staked', 'channels', 'in_flight', 'burned', 'reserve'] as const;
export type SupplyKind = (typeof SUPPLY_KINDS)[number];
export const CHAIN_ERROR_KINDS = ['store', 'network', 'consensus', 'sync', 'audit', 'rpc', 'supply', 'internal'] as const;
export type ChainErrorKind = (typeof CHAIN_ERROR_KINDS)[number];

/** Seconds between consecutive committed blocks of one chain. */
export const BLOCK_BUCKETS = [0.05, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30];
/** validate: block proposed → committed (3-chain); audit: committed → audit certificate. */
export const FINALITY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];

export const CHAIN_METRIC_NAMES = [
  'topchain_up',
  'topchain_build_info',
  'topchain_height',
  'topchain_final_height',
  'topchain_blocks_total',
  'topchain_block_seconds',
  'topchain_finality_seconds',
  'topchain_txs_total',
  'topchain_view_changes_total',
  'topchain_committee_member',
  'topchain_mempool_txs',
  'topchain_supply',
  'topchain_supply_ok',
  'topchain_peers',
  'topchain_tx_verifications_total',
  'topchain_errors_total',
] as const;
export const METRIC_NAMES = CHAIN_METRIC_NAMES;

/** 'beacon' | 'shard-<i>'; anything else becomes 'other' (labels stay bounded). */
export function chainLabel(chain: string): string {
  return chain === 'beacon' || /^shard-\d{1,4}$/.test(chain) ? chain : 'other';
}

/** What observeRuntime reads from a ChainRuntime (structural, so tests need no node). */
export interface RuntimeView {
  readonly chain: string;
  readonly height: number;
  readonly finalHeight: number;
  readonly isValidator: boolean;
  readonly isAuditor: boolean;
  readonly mempool: { readonly size: number };
}

export interface ChainMetricsOptions {
  version?: string;
  /** Chains this node follows (beacon + shards): their series exist from the start. */
  chains?: readonly string[];
}

export interface ChainMetrics {
  readonly registry: Registry;
  readonly up: Gauge<never>;
  readonly buildInfo: Gauge<'version' | 'nodejs'>;
  readonly height: Gauge<'chain'>;
  readonly finalHeight: Gauge<'chain'>;
  readonly blocks: Counter<'chain'>;
  readonly blockSeconds: Histogram<'chain'>;
  readonly finalitySeconds: Histogram<'kind'>;
  readonly txs: Counter<'chain' | 'result'>;
  readonly viewChanges: Counter<'chain'>;
  readonly committeeMember: Gauge<'chain' | 'role'>;
  readonly mempoolTxs: Gauge<'chain'>;
  readonly supply: Gauge<'kind'>;
  readonly supplyOk: Gauge<never>;
  readonly peers: Gauge<never>;
  readonly txVerifications: Counter<never>;
  readonly errors: Counter<'kind'>;
  /** Heights, mempool size and committee membership of one chain runtime. */
  observeRuntime(rt: RuntimeView): void;
  /**
   * A block of `chain` was committed at `rec.committedAt` (Unix ms): counts it, its txs by
   * result, and the time since the previous block of that chain committed here.
   */
  observeBlock(chain: string, rec: { readonly committedAt: number; readonly results: readonly Pick<ItemResult, 'kind' | 'status'>[] }): void;
  observeFinality(kind: FinalityKind, seconds: number): void;
  /** A tx refused at submission (TxRejected). */
  txRejected(chain: string): void;
  viewChange(chain: string): void;
  /** Supply gauges from checkSupply() over all chains. */
  observeSupply(report: SupplyReport): void;
  error(kind: ChainErrorKind): void;
}

export function createChainMetrics(registry: Registry = new Registry(), opts: ChainMetricsOptions = {}): ChainMetrics {
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> => new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> => new Gauge<L>({ name, help, labelNames, registers });

  const m = {
    registry,
    up: gauge('topchain_up', '1 while the chain node is running.'),
    buildInfo: gauge('topchain_build_info', 'Always 1; labels carry the node version and Node.js version.', ['version', 'nodejs']),
    height: gauge('topchain_height', 'Height of the latest committed block, per chain.', ['chain']),
    finalHeight: gauge('topchain_final_height', 'Highest height up to which every block is final, per chain.', ['chain']),
    blocks: counter('topchain_blocks_total', 'Blocks committed (applied) by this node, per chain.', ['chain']),
    blockSeconds: new Histogram<'chain'>({ name: 'topchain_block_seconds', help: 'Seconds between consecutive committed blocks of a chain, as seen by this node.', labelNames: ['chain'], buckets: BLOCK_BUCKETS, registers }),
    finalitySeconds: new Histogram<'kind'>({
      name: 'topchain_finality_seconds',
      help: 'Finality latency: validate = proposal to commit (validator QC 3-chain); audit = commit to audit certificate.',
      labelNames: ['kind'],
      buckets: FINALITY_BUCKETS,
      registers,
    }),
    txs: counter('topchain_txs_total', 'Transactions, per chain and result (ok/failed/invalid when committed; rejected at submission).', ['chain', 'result']),
    viewChanges: counter('topchain_view_changes_total', 'Consensus views entered by timeout certificate (view changes), per chain.', ['chain']),
    committeeMember: gauge('topchain_committee_member', "1 if this node sits in the chain's validator or auditor group, else 0.", ['chain', 'role']),
    mempoolTxs: gauge('topchain_mempool_txs', "Transactions waiting in this node's mempool, per chain.", ['chain']),
    supply: gauge('topchain_supply', 'Token supply by kind, in base units (10^6 per TOP).', ['kind']),
    supplyOk: gauge('topchain_supply_ok', '1 if the supply invariant holds over all chains, else 0.'),
    peers: gauge('topchain_peers', 'Peers currently connected.'),
    txVerifications: counter('topchain_tx_verifications_total', 'Ed25519 transaction signature verifications done.'),
    errors: counter('topchain_errors_total', 'Errors, by kind.', ['kind']),
  };

  m.up.set(1);
  m.buildInfo.set({ version: opts.version ?? buildVersion(), nodejs: process.versions.node }, 1);
  for (const k of FINALITY_KINDS) m.finalitySeconds.zero({ kind: k });
  for (const k of SUPPLY_KINDS) m.supply.set({ kind: k }, 0);
  for (const k of CHAIN_ERROR_KINDS) m.errors.inc({ kind: k }, 0);
  for (const c0 of opts.chains ?? []) {
    const chain = chainLabel(c0);
    m.blocks.inc({ chain }, 0);
    m.viewChanges.inc({ chain }, 0);
    for (const result of TX_RESULTS) m.txs.inc({ chain, result }, 0);
  }

  /** chain → committedAt (Unix ms) of the last block seen. */
  const lastBlockAt = new Map<string, number>();

  return {
    ...m,
    observeRuntime(rt: RuntimeView): void {
      const chain = chainLabel(rt.chain);
      m.height.set({ chain }, rt.height);
      m.finalHeight.set({ chain }, rt.finalHeight);
      m.mempoolTxs.set({ chain }, rt.mempool.size);
      m.committeeMember.set({ chain, role: 'validator' }, rt.isValidator ? 1 : 0);
      m.committeeMember.set({ chain, role: 'auditor' }, rt.isAuditor ? 1 : 0);
    },
    observeBlock(c0: string, rec: { readonly committedAt: number; readonly results: readonly Pick<ItemResult, 'kind' | 'status'>[] }): void {
      const chain = chainLabel(c0);
      m.blocks.inc({ chain });
      const prev = lastBlockAt.get(chain);
      if (prev !== undefined && rec.committedAt >= prev) m.blockSeconds.observe({ chain }, (rec.committedAt - prev) / 1000);
      if (prev === undefined || rec.committedAt >= prev) lastBlockAt.set(chain, rec.committedAt);
      const n: Record<'ok' | 'failed' | 'invalid', number> = { ok: 0, failed: 0, invalid: 0 };
      for (const r of rec.results) if (r.kind === 'tx') n[r.status]++;
      for (const result of ['ok', 'failed', 'invalid'] as const) if (n[result] > 0) m.txs.inc({ chain, result }, n[result]);
    },
    observeFinality(kind: FinalityKind, seconds: number): void {
      if (Number.isFinite(seconds) && seconds >= 0) m.finalitySeconds.observe({ kind }, seconds);
    },
    txRejected(chain: string): void {
      m.txs.inc({ chain: chainLabel(chain), result: 'rejected' });
    },
    viewChange(chain: string): void {
      m.viewChanges.inc({ chain: chainLabel(chain) });
    },
    observeSupply(r: SupplyReport): void {
      const sum: Record<SupplyKind, bigint> = { circulating: 0n, locked: 0n, staked: 0n, channels: 0n, in_flight: r.inFlight, burned: 0n, reserve: 0n };
      for (const p of r.perChain) {
        sum.circulating += p.balances;
        sum.locked += p.resourceLocked;
        sum.staked += p.nodeDeposits + p.votes + p.unlocking;
        sum.channels += p.channels;
        sum.burned += p.burned;
        sum.reserve += p.reserve;
      }
      for (const k of SUPPLY_KINDS) m.supply.set({ kind: k }, toSample(sum[k]));
      m.supplyOk.set(r.ok ? 1 : 0);
    },
    error(kind: ChainErrorKind): void {
      m.errors.inc({ kind });
    },
  };
}
