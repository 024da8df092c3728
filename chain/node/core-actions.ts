/**
 * Carries out the actions of one consensus core step (chain/consensus/core.ts) for a chain
 * runtime, in order: the core's safety state is persisted (per period, epoch-handover.ts)
 * before any message that depends on it is sent; payload requests go to the BlockProducer;
 * equivocation evidence is kept (memory, store `ev/<chain>/<signer>/<view>`) and reported.
 */
import { messageValue } from '../consensus/messages.js';
import type { Block, CommitProof, ConsensusAction, ConsensusEvent, QC } from '../consensus/types.js';
import type { VoteEvidence } from '../state/vote-evidence.js';
import type { BlockProducer } from './block-producer.js';
import { safetyKey } from './epoch-handover.js';
import type { GroupAt } from './epochs.js';
import type { ExecCache } from './exec-cache.js';
import type { RuntimeHost } from './runtime-types.js';
import type { ByzantineHooks } from './test-hooks.js';

/** What the actions need from their chain runtime. */
export interface ActionContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  readonly exec: ExecCache;
  readonly producer: BlockProducer;
  readonly byz: ByzantineHooks | undefined;
  /** Evidence kept in memory (at most 1000, served over RPC). */
  readonly evidence: VoteEvidence[];
  validators(): readonly string[];
  later(ms: number, fn: () => void): void;
  enqueueEvent(ev: ConsensusEvent): void;
  /** Commits a block our own core committed. */
  commit(block: Block, qc: QC, proof: CommitProof): Promise<boolean>;
  onEvidence(evidence: VoteEvidence): void;
}

export async function runAction(ctx: ActionContext, a: ConsensusAction, group: GroupAt | undefined): Promise<void> {
  switch (a.type) {
    case 'persist':
      if (group) await ctx.host.store.batch([{ type: 'put', key: safetyKey(ctx.chain, group), value: a.safety }]);
      return;
    case 'broadcast':
      if (a.msg.type === 'proposal') ctx.exec.notePayload(a.msg.block.hash, a.msg.block.payloadHash);
      for (const m of ctx.byz ? ctx.byz.broadcast(a.msg) : [a.msg]) ctx.host.net.multicast(group?.validators ?? ctx.validators(), { k: 'cons', c: ctx.chain, body: messageValue(m) });
      return;
    case 'send':
      ctx.host.net.send(a.to, { k: 'cons', c: ctx.chain, body: messageValue(a.msg) });
      return;
    case 'schedule': {
      const { kind, view } = a;
      ctx.later(a.at - Date.now(), () => ctx.enqueueEvent({ type: 'timer', now: Date.now(), kind, view }));
      return;
    }
    case 'requestPayload':
      ctx.host.log.debug({ chain: ctx.chain, view: a.view }, 'build payload');
      await ctx.producer.build(a.view, a.parent);
      return;
    case 'requestValidation': {
      const b = a.block;
      ctx.exec.notePayload(b.hash, b.payloadHash);
      void ctx.producer.validate(b).then((valid) => ctx.enqueueEvent({ type: 'validated', now: Date.now(), blockHash: b.hash, valid }));
      return;
    }
    case 'commit':
      await ctx.commit(a.block, a.qc, a.proof);
      return;
    case 'evidence': {
      // Kept (memory + store) and served over RPC (evidence_list): any funded account can
      // turn it into a `slash` tx on its home shard; the beacon burns the slashed deposit.
      const key = `ev/${ctx.chain}/${a.evidence.a.signer}/${a.evidence.a.vote.view}`;
      ctx.host.log.warn({ chain: ctx.chain, signer: a.evidence.a.signer.slice(0, 12), view: a.evidence.a.vote.view }, 'equivocation evidence');
      if (ctx.evidence.length < 1000) ctx.evidence.push(a.evidence);
      await ctx.host.store.batch([{ type: 'put', key, value: a.evidence }]);
      ctx.onEvidence(a.evidence);
      return;
    }
    case 'enterView':
      ctx.host.log.debug({ chain: ctx.chain, view: a.view, via: a.via, leader: a.leader.slice(0, 8) }, 'enter view');
      if (a.via === 'tc') {
        ctx.host.log.debug({ chain: ctx.chain, view: a.view }, 'view entered by timeout certificate');
        ctx.host.onIncident?.('view_change', ctx.chain);
      }
      return;
    case 'reject':
      ctx.host.log.debug({ chain: ctx.chain, from: a.from.slice(0, 12), msg: a.msgType, reason: a.reason }, 'consensus rejected message');
      return;
  }
}
