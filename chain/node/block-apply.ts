/**
 * Applying a committed block of one chain: the block is executed on the committed state (or
 * the result this node already computed for it is reused) and must reproduce the payload's
 * state and receipts roots; an auditor re-checks every tx signature first (except for synced
 * blocks, which carry their own audit certificates). One validator per height announces the
 * block to every node outside the validator group and a second one its height.
 */
import type { Block, QC } from '../consensus/types.js';
import { applyBlock } from '../state/apply.js';
import type { BlockResult, ChainState } from '../state/types.js';
import type { ExtCommitProof } from './commit-proof.js';
import type { GroupAt } from './epochs.js';
import { decodePayload, type PayloadV1 } from './payload.js';
import { hashOf, type ExecEntry, type RuntimeHost } from './runtime-types.js';

/** The payload and execution result of committed `block` on `state`, or undefined (logged) if refused. */
export function executeCommitted(host: RuntimeHost, chain: string, state: ChainState, block: Block, known: ExecEntry | undefined, checkSignatures: boolean): { payload: PayloadV1; result: BlockResult } | undefined {
  const payload = known && known.height === block.height ? known.payload : decodePayload(block.payload);
  if (checkSignatures) {
    // Auditing re-checks everything the validators checked: every tx signature (once per node).
    for (const stx of payload.body.txs) {
      if (!host.verifyTx(stx, hashOf(stx))) {
        host.log.error({ chain, height: block.height }, 'audit: committed block carries a bad tx signature; not signing');
        return undefined;
      }
    }
  }
  let result = known?.result;
  if (!result || result.state.height !== block.height) result = applyBlock(state, payload.body, host.params);
  if (result.stateRoot !== payload.stateRoot || result.receiptsRoot !== payload.receiptsRoot) {
    host.log.error({ chain, height: block.height }, 'execution does not match the committed roots: block refused');
    return undefined;
  }
  return { payload, result };
}

/**
 * Announces a block our core committed to everyone outside its validator group: validator
 * height mod n sends the block, validator height + 1 mod n only a `commit-hint` with the height,
 * so a node the block does not reach (its sender crashed) learns the height and syncs it from a
 * peer (chain-sync.ts) instead of every node receiving every block twice.
 */
export function announceCommit(host: RuntimeHost, chain: string, g: GroupAt, block: Block, qc: QC, proof: ExtCommitProof): void {
  const n = g.validators.length;
  const i = g.validators.indexOf(host.self);
  const outside = (): string[] => host.allNodes.filter((a) => !g.validators.includes(a));
  if (i === block.height % n) host.net.multicast(outside(), { k: 'commit', c: chain, body: { block, qc, proof } });
  else if (i === (block.height + 1) % n) host.net.multicast(outside(), { k: 'commit-hint', c: chain, body: { height: block.height } satisfies CommitHint });
}

/** The second announcer's message: a block of this height is committed (see announceCommit). */
export interface CommitHint {
  readonly height: number;
}
