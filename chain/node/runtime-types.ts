/**
 * Types and small helpers shared by the parts of a chain runtime (chain-runtime.ts is the
 * coordinator; epoch-handover.ts, audit.ts, block-persist.ts, payload-build.ts,
 * receipt-source.ts and chain-sync.ts hold its pieces).
 */
import type { Logger } from 'pino';
import type { Signer } from '../consensus/crypto.js';
import type { Block, BlockHeader } from '../consensus/types.js';
import type { ChainParams } from '../state/params.js';
import { txHashOf } from '../state/tx.js';
import type { BlockResult, ChainState, SignedTx } from '../state/types.js';
import type { VoteEvidence } from '../state/vote-evidence.js';
import type { Network } from './net.js';
import type { BlockRecord, PayloadV1 } from './payload.js';
import type { BatchOp, KvStore } from './store.js';
import type { GroupAt } from './epochs.js';
import type { ByzantineOptions } from './test-hooks.js';
import type { ChainRuntime } from './chain-runtime.js';

export interface RuntimeTiming {
  baseTimeoutMs: number;
  /**
   * Leader waits this long in its view before building a block (batches txs). Default 500 ms:
   * every block costs the nodes a fixed amount of work (votes, QCs, audit shares, commit proofs,
   * a LevelDB batch, the state root) whatever its size; at 500 ms saturated throughput is higher
   * than at 300 ms and finality stays well under a second, while at 1 s its p50 passes a second
   * (chain/README.md, "Performance").
   */
  blockIntervalMs: number;
  /**
   * Idle pause: the most a leader waits for work before an empty block when the two before it
   * were empty too. Work (a tx in its pool, receipts final for this chain) ends it at once, and
   * replicas add it to a view's timeout when the view's justify block is empty.
   */
  idleBlockMs: number;
  maxTxsPerBlock: number;
  maxReceiptsPerBlock: number;
  /** State snapshot every this many blocks (blocks in between are replayed on restart). */
  snapshotEvery: number;
}

export const DEFAULT_TIMING: RuntimeTiming = { baseTimeoutMs: 1500, blockIntervalMs: 500, idleBlockMs: 400, maxTxsPerBlock: 2000, maxReceiptsPerBlock: 2000, snapshotEvery: 20 };

/** The genesis `timing` block (all optional; names as in genesis.json). */
export interface GenesisTiming {
  readonly baseTimeoutMs?: number;
  readonly minBlockIntervalMs?: number;
  readonly idleBlockMs?: number;
  readonly maxTxsPerBlock?: number;
}

/** The runtime timing a genesis `timing` block overrides (a 0 timeout or tx cap keeps the default). */
export function timingFromGenesis(t: GenesisTiming | undefined): Partial<RuntimeTiming> {
  return {
    ...(t?.baseTimeoutMs ? { baseTimeoutMs: t.baseTimeoutMs } : {}),
    ...(t?.minBlockIntervalMs !== undefined ? { blockIntervalMs: t.minBlockIntervalMs } : {}),
    ...(t?.maxTxsPerBlock ? { maxTxsPerBlock: t.maxTxsPerBlock } : {}),
    ...(t?.idleBlockMs !== undefined ? { idleBlockMs: t.idleBlockMs } : {}),
  };
}

/** What a runtime needs from its node (other chains, shared caches, events). */
export interface RuntimeHost {
  readonly chainId: string;
  readonly params: ChainParams;
  readonly self: string;
  readonly signer: Signer;
  readonly net: Network;
  readonly store: KvStore;
  readonly log: Logger;
  readonly allNodes: readonly string[];
  runtime(chain: string): ChainRuntime | undefined;
  /** Committee of a height (epochs.ts); undefined while the beacon election it needs is not final here. */
  groupAt(chain: string, height: number): GroupAt | undefined;
  /** Extra writes stored atomically with a committed block (the beacon's election records). */
  commitOps?(rt: ChainRuntime, block: Block, state: ChainState): BatchOp[];
  /** Verifies a tx signature once per node (cached by hash + signature). */
  verifyTx(stx: SignedTx, hash: string): boolean;
  onCommitted(rt: ChainRuntime, rec: BlockRecord, payload: PayloadV1): void;
  onFinal(rt: ChainRuntime, height: number): void;
  onIncident?(kind: 'view_change' | 'commit_refused' | 'validation' | 'store' | 'sync' | 'internal', chain: string): void;
  /** New double-vote evidence detected by this runtime's core (the node reports it in a `slash` tx). */
  onEvidence?(rt: ChainRuntime, evidence: VoteEvidence): void;
  readonly byzantine?: ByzantineOptions;
}

/** A payload this node executed (built or validated), by payload hash, until its height commits. */
export interface ExecEntry {
  readonly payloadHash: string;
  readonly payload: PayloadV1;
  readonly result: BlockResult;
  readonly height: number;
}

export function headerOnly(b: Block): BlockHeader {
  return { chainId: b.chainId, chain: b.chain, height: b.height, view: b.view, parentHash: b.parentHash, justify: b.justify, proposer: b.proposer, payloadHash: b.payloadHash, hash: b.hash };
}

/** txHash memoized per decoded tx object (shared with chain/state's applyBlock). */
export function hashOf(stx: SignedTx): string {
  return txHashOf(stx);
}
