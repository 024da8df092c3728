/**
 * Epoch handover pieces of a chain runtime (contract in chain/README.md, "Handover"):
 * - a run of epochs with the same validators is one consensus period; heights of the running
 *   core's period are `own`, heights above the period's last height are empty `tail` blocks
 *   (only serve the 2-chain, never applied), heights whose election is not final here `wait`
 *   (shards) or are provisionally `own` (the beacon, which elects from its own blocks);
 * - consensus messages of a later period (views ≥ (periodStart+1)·VIEW_EPOCH_STRIDE) are held
 *   until that period's core starts here, then replayed in arrival order;
 * - the safety state is persisted per period (`cs/<chain>` for period 0, else `cs/<chain>/p<k>`);
 * - a member rotated out hands its pending txs to the new group.
 */
import type { ConsensusConfig } from '../consensus/core.js';
import type { decodeMessage } from '../consensus/messages.js';
import type { Block, QC, SafetyState } from '../consensus/types.js';
import type { ChainState, SignedTx } from '../state/types.js';
import { VIEW_EPOCH_STRIDE, sameMembers, type GroupAt } from './epochs.js';
import type { Mempool } from './mempool.js';
import type { Network } from './net.js';
import { hashOf } from './runtime-types.js';
import { encodeTxList } from './tx-codec.js';

export type ConsensusMessage = ReturnType<typeof decodeMessage>;

/** Payload of a block above the last height of its committee's period (never applied). */
export const TAIL_PAYLOAD = new Uint8Array(0);

/** At most this many early consensus messages are held (oldest dropped first). */
const STASH_MAX = 256;

/** View a consensus message belongs to (undefined for block requests/responses). */
export function messageView(m: ConsensusMessage): number | undefined {
  switch (m.type) {
    case 'proposal':
      return m.block.view;
    case 'vote':
      return m.vote.vote.view;
    case 'timeout':
      return m.view;
    case 'sync':
      return m.tc?.view ?? m.highQC.view;
    default:
      return undefined;
  }
}

/** True iff heights of `g` and `h` are run by the same validator group (one consensus period). */
export function samePeriod(g: GroupAt, h: GroupAt): boolean {
  return g.periodStart === h.periodStart && sameMembers(g.validators, h.validators);
}

/** Store key of the safety state of the consensus period of `g` (period 0 keeps the historic key). */
export function safetyKey(chain: string, g: GroupAt): string {
  return g.periodStart === 0 ? `cs/${chain}` : `cs/${chain}/p${g.periodStart}`;
}

/**
 * How a core of `coreGroup` treats a height whose group is `g` (undefined: election not final
 * here). A shard waits for the beacon's election. The beacon (`provisional`) cannot wait for its
 * own election, which it commits only through the heights above it: an unknown height is built
 * and voted as its own; if the election changes the committee, every node drops this core on
 * committing the period's last height, before any such block can commit (epochs.ts).
 */
export function periodRole(g: GroupAt | undefined, coreGroup: GroupAt | undefined, provisional = false): 'own' | 'tail' | 'wait' {
  if (!g) return provisional && coreGroup ? 'own' : 'wait';
  return coreGroup && samePeriod(g, coreGroup) ? 'own' : 'tail';
}

/**
 * What to do when the next height's group is `next`:
 * - 'keep': the running core's period continues (or no core runs and none should: 'outside');
 * - 'switch': the running core (if any) stops; a new one starts iff self is in `next`.
 */
export function switchDecision(next: GroupAt, coreGroup: GroupAt | undefined, self: string): 'keep' | 'outside' | 'switch' {
  if (coreGroup && samePeriod(coreGroup, next)) return 'keep';
  if (!coreGroup && !next.validators.includes(self)) return 'outside';
  return 'switch';
}

/** Consensus messages that arrived before their period's core runs here. */
export class EarlyMessages {
  private readonly held: Array<{ from: string; msg: ConsensusMessage }> = [];

  /** True if `msg` must be held: no core runs here, or it belongs to a period after `coreGroup`'s. */
  mustHold(msg: ConsensusMessage, coreRunning: boolean, coreGroup: GroupAt | undefined): boolean {
    const view = messageView(msg);
    const later = view !== undefined && coreGroup !== undefined && view >= (coreGroup.periodStart + 1) * VIEW_EPOCH_STRIDE;
    return !coreRunning || later;
  }

  /** Holds a message that carries a view (others are useless later and dropped). */
  hold(from: string, msg: ConsensusMessage): void {
    if (messageView(msg) === undefined) return;
    this.held.push({ from, msg });
    if (this.held.length > STASH_MAX) this.held.shift();
  }

  /** Removes and returns every held message, oldest first. */
  drain(): Array<{ from: string; msg: ConsensusMessage }> {
    return this.held.splice(0);
  }
}

/** Rotated out: removes every pending tx from the pool and multicasts it to the new group (batches of 500). */
export function handOverPending(chain: string, mempool: Mempool<SignedTx>, state: ChainState, net: Network, newValidators: readonly string[]): void {
  const pending = mempool.select((a) => state.accounts.get(a)?.nonce ?? 0, mempool.size).map((p) => p.tx);
  for (const stx of pending) mempool.remove(hashOf(stx));
  for (let i = 0; i < pending.length; i += 500) net.multicast(newValidators, { k: 'txs', c: chain, body: encodeTxList(pending.slice(i, i + 500)) });
}

/** Where a new core is anchored: this node's committed tip. */
export interface CoreAnchor {
  readonly height: number;
  readonly tipBlock: Block;
  /** The tip's QC: at a handover, the previous group's (accepted as the anchor). */
  readonly tipQC: QC;
  /** Safety state stored for `g`'s period, if this node ran a core of it before. */
  readonly stored: SafetyState | undefined;
}

/**
 * Config of the core of committee `g` anchored at the tip: views start at the period's first
 * view; without a stored safety state, period 0 treats the tip QC's view as voted, later
 * periods start fresh (their views never overlap an earlier period's).
 */
export function anchoredCoreConfig(base: Omit<ConsensusConfig, 'members' | 'firstView' | 'restore'>, g: GroupAt, a: CoreAnchor): ConsensusConfig {
  const fresh: SafetyState = { lastVotedView: g.periodStart === 0 ? a.tipQC.view : 0, lockedView: 0, highQC: a.tipQC, lastTimeoutView: 0 };
  const restore = a.height > 0 ? { committed: a.tipBlock, committedQC: a.tipQC, safety: a.stored ?? fresh } : undefined;
  return { ...base, members: g.validators, firstView: g.firstView, ...(restore ? { restore } : {}) };
}
