/**
 * Deterministic in-memory simulator for the consensus core: n nodes, one seeded PRNG, a virtual clock,
 * and a message scheduler with random delays (hence reordering), drops and duplicates before GST
 * (global stabilization time), bounded delays and no drops after it. Every message goes through
 * encodeMessage/decodeMessage. One node may be Byzantine; nodes may crash at a given time.
 */
import { createSigner, type Signer } from './crypto.js';
import { blockHash, signVote } from './certificate.js';
import { sha256Hex } from './encoding.js';
import { decodeMessage, encodeMessage } from './messages.js';
import { createConsensus, lookupBlock, step, type ConsensusConfig, type ConsensusState } from './core.js';
import type { Block, CommitProof, ConsensusAction, QC, SafetyState, ConsensusEvent, Message, ProposalMsg, SignedVote, VoteEvidence } from './types.js';

/**
 * equivocate: two different proposals (and conflicting votes) to the two halves of the group;
 * conflictingVotes: a vote for the block to one half, for a made-up block to the other;
 * withhold: never votes; invalid: proposes payloads the application rejects;
 * fork: as leader, proposes a block extending the QC two levels below its highest QC (a sibling of
 * a possibly committed block), the attack the lock exists for; mixed: one of these at random per message.
 */
export type ByzantineBehavior = 'equivocate' | 'conflictingVotes' | 'withhold' | 'invalid' | 'fork' | 'mixed';
const BEHAVIORS: readonly Exclude<ByzantineBehavior, 'mixed'>[] = ['equivocate', 'conflictingVotes', 'withhold', 'invalid', 'fork'];

export interface SimOptions {
  readonly n: number;
  readonly seed: number;
  readonly chainId?: string;
  readonly chain?: string;
  /** Delay bounds before GST (ms of virtual time). */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Max delay after GST. */
  readonly syncDelayMs?: number;
  /** Drop and duplicate probabilities before GST. */
  readonly dropRate?: number;
  readonly duplicateRate?: number;
  readonly gstMs?: number;
  readonly baseTimeoutMs?: number;
  readonly maxTimeoutMs?: number;
  readonly byzantine?: { readonly index: number; readonly behavior: ByzantineBehavior };
  readonly crashes?: readonly { readonly index: number; readonly atMs: number }[];
}

/** Seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic test keys: seed_i = sha256('topvpn-sim-key-' + i). */
export function simSigners(n: number): Signer[] {
  return Array.from({ length: n }, (_, i) => createSigner(new Uint8Array(Buffer.from(sha256Hex(`topvpn-sim-key-${i}`), 'hex'))));
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly node: number;
  readonly event: ConsensusEvent | { readonly type: 'wire'; readonly now: number; readonly from: string; readonly bytes: Uint8Array };
}

export interface SimNode {
  state: ConsensusState;
  readonly signer: Signer;
  readonly committed: Block[];
  /** Proof of the latest commit (the certified child of the last committed block). */
  lastProof: CommitProof | null;
  /** QC certifying the last committed block, and the last persisted safety state (what a restart restores). */
  lastQC: QC | null;
  persisted: SafetyState | null;
  readonly evidence: VoteEvidence[];
  readonly rejects: string[];
  crashed: boolean;
  readonly byzantine: boolean;
}

const enc = new TextEncoder();
export const INVALID_PREFIX = 'INVALID';

export class Simulator {
  readonly nodes: SimNode[];
  readonly signers: Signer[];
  now = 0;
  delivered = 0;
  dropped = 0;
  private readonly rng: () => number;
  private readonly queue: Pending[] = [];
  private seq = 0;
  private readonly index = new Map<string, number>();
  /** Nodes cut off from the network (all their messages are dropped). */
  readonly isolated = new Set<number>();
  private readonly cfgBase: Omit<ConsensusConfig, 'signer' | 'restore'>;
  private readonly o: Required<Omit<SimOptions, 'byzantine' | 'crashes'>>;

  constructor(private readonly opts: SimOptions) {
    this.o = {
      n: opts.n,
      seed: opts.seed,
      chainId: opts.chainId ?? 'topvpn-sim',
      chain: opts.chain ?? 'shard-0',
      minDelayMs: opts.minDelayMs ?? 1,
      maxDelayMs: opts.maxDelayMs ?? 300,
      syncDelayMs: opts.syncDelayMs ?? 20,
      dropRate: opts.dropRate ?? 0,
      duplicateRate: opts.duplicateRate ?? 0,
      gstMs: opts.gstMs ?? 0,
      baseTimeoutMs: opts.baseTimeoutMs ?? 200,
      maxTimeoutMs: opts.maxTimeoutMs ?? 3000,
    };
    this.rng = prng(opts.seed);
    this.signers = simSigners(opts.n);
    const members = this.signers.map((s) => s.publicKey);
    members.forEach((m, i) => this.index.set(m, i));
    this.cfgBase = {
      chainId: this.o.chainId,
      chain: this.o.chain,
      members,
      genesisId: 'sim-genesis',
      baseTimeoutMs: this.o.baseTimeoutMs,
      maxTimeoutMs: this.o.maxTimeoutMs,
    };
    this.nodes = this.signers.map((signer, i) => ({
      state: createConsensus({ ...this.cfgBase, signer }),
      signer,
      committed: [],
      lastProof: null,
      lastQC: null,
      persisted: null,
      evidence: [],
      rejects: [],
      crashed: false,
      byzantine: opts.byzantine?.index === i,
    }));
    this.nodes.forEach((_, i) => this.push(0, i, { type: 'start', now: 0 }));
  }

  /** Stop node i now (its queued events are dropped until restart). */
  crash(i: number): void {
    (this.nodes[i] as SimNode).crashed = true;
  }

  /** Restart node i from what it persisted: last committed block + its QC, and the safety state. */
  restart(i: number): void {
    const node = this.nodes[i] as SimNode;
    const last = node.committed[node.committed.length - 1];
    const restore = last && node.lastQC && node.persisted ? { committed: last, committedQC: node.lastQC, safety: node.persisted } : undefined;
    node.state = createConsensus({ ...this.cfgBase, signer: node.signer, ...(restore ? { restore } : {}) });
    node.crashed = false;
    this.push(this.now, i, { type: 'start', now: this.now });
  }

  get members(): string[] {
    return this.signers.map((s) => s.publicKey);
  }

  private push(at: number, node: number, event: Pending['event']): void {
    const p: Pending = { at, seq: this.seq++, node, event };
    const q = this.queue;
    q.push(p);
    let i = q.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (before(q[parent] as Pending, p)) break;
      q[i] = q[parent] as Pending;
      i = parent;
    }
    q[i] = p;
  }

  private pop(): Pending | undefined {
    const q = this.queue;
    const top = q[0];
    const last = q.pop();
    if (q.length > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const cur = (k: number): Pending => (k === i ? last : (q[k] as Pending));
        if (l < q.length && before(q[l] as Pending, cur(m))) m = l;
        if (r < q.length && before(q[r] as Pending, cur(m))) m = r;
        if (m === i) break;
        q[i] = q[m] as Pending;
        i = m;
      }
      q[i] = last;
    }
    return top;
  }

  /** Send a message over the simulated network (subject to delay/drop/duplication). */
  deliver(from: number, to: number, msg: Message | Uint8Array): void {
    if (from === to) return;
    if (this.isolated.has(from) || this.isolated.has(to)) {
      this.dropped++;
      return;
    }
    const pre = this.now < this.o.gstMs;
    if (pre && this.rng() < this.o.dropRate) {
      this.dropped++;
      return;
    }
    const bytes = msg instanceof Uint8Array ? msg : encodeMessage(msg);
    const copies = pre && this.rng() < this.o.duplicateRate ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const max = pre ? this.o.maxDelayMs : this.o.syncDelayMs;
      const delay = this.o.minDelayMs + Math.floor(this.rng() * Math.max(1, max - this.o.minDelayMs));
      this.push(this.now + delay, to, { type: 'wire', now: this.now + delay, from: this.signers[from]!.publicKey, bytes });
    }
  }

  /** Process events in time order until virtual time `untilMs` (or nothing is left). */
  runUntil(untilMs: number): void {
    for (;;) {
      const top = this.queue[0];
      if (!top || top.at > untilMs) break;
      this.pop();
      this.now = Math.max(this.now, top.at);
      for (const c of this.opts.crashes ?? []) if (c.atMs <= this.now) (this.nodes[c.index] as SimNode).crashed = true;
      const node = this.nodes[top.node] as SimNode;
      if (node.crashed) continue;
      let ev: ConsensusEvent;
      if (top.event.type === 'wire') {
        this.delivered++;
        let msg: Message;
        try {
          msg = decodeMessage(top.event.bytes);
        } catch (e) {
          node.rejects.push(`malformed: ${(e as Error).message}`);
          continue;
        }
        ev = { type: 'message', now: this.now, from: top.event.from, msg };
        if (msg.type === 'blockRequest' && !lookupBlock(node.state, msg.hash)) this.answerFromStore(top.node, top.event.from, msg.hash);
      } else ev = { ...top.event, now: this.now } as ConsensusEvent;
      const r = step(node.state, ev);
      node.state = r.state;
      this.apply(top.node, r.actions);
    }
    this.now = Math.max(this.now, untilMs);
  }

  /**
   * A committed block the core no longer holds (it restarted past it, or pruned it), answered from
   * the node's own committed chain, as the README lets a node answer from its store. The simulator
   * has no block sync; chain/node catches such a member up through chain-sync instead.
   */
  private answerFromStore(i: number, asker: string, hash: string): void {
    const b = (this.nodes[i] as SimNode).committed.find((x) => x.hash === hash);
    const j = this.index.get(asker);
    if (b && j !== undefined) this.deliver(i, j, { type: 'blockResponse', block: b });
  }

  private apply(i: number, actions: readonly ConsensusAction[]): void {
    const node = this.nodes[i] as SimNode;
    for (const a of node.byzantine ? this.corrupt(i, actions) : actions) {
      switch (a.type) {
        case 'broadcast':
          for (let j = 0; j < this.nodes.length; j++) this.deliver(i, j, a.msg);
          break;
        case 'send': {
          const j = this.index.get(a.to);
          if (j !== undefined) this.deliver(i, j, a.msg);
          break;
        }
        case 'schedule':
          this.push(Math.max(a.at, this.now), i, { type: 'timer', now: a.at, kind: a.kind, view: a.view });
          break;
        case 'requestPayload': {
          const bad = node.byzantine && this.behavior() === 'invalid';
          const payload = enc.encode(`${bad ? INVALID_PREFIX : 'tx'}:${i}:${a.view}:${a.height}`);
          this.push(this.now, i, { type: 'payloadReady', now: this.now, view: a.view, parentHash: a.parent.hash, payload });
          break;
        }
        case 'requestValidation': {
          const valid = !Buffer.from(a.block.payload).toString('utf8').startsWith(INVALID_PREFIX);
          this.push(this.now, i, { type: 'validated', now: this.now, blockHash: a.block.hash, valid });
          break;
        }
        case 'commit':
          node.committed.push(a.block);
          node.lastProof = a.proof;
          node.lastQC = a.qc;
          break;
        case 'evidence':
          node.evidence.push(a.evidence);
          break;
        case 'reject':
          node.rejects.push(`${a.msgType}: ${a.reason}`);
          break;
        case 'persist':
          node.persisted = a.safety;
          break;
        case 'enterView':
          break;
      }
    }
  }

  private behavior(): Exclude<ByzantineBehavior, 'mixed'> {
    const b = this.opts.byzantine?.behavior ?? 'withhold';
    return b === 'mixed' ? (BEHAVIORS[Math.floor(this.rng() * BEHAVIORS.length)] as Exclude<ByzantineBehavior, 'mixed'>) : b;
  }

  /** Rewrites the Byzantine node's outgoing actions (it runs an honest core underneath to stay in step). */
  private corrupt(i: number, actions: readonly ConsensusAction[]): ConsensusAction[] {
    const signer = this.signers[i] as Signer;
    const out: ConsensusAction[] = [];
    const others = this.nodes.map((_, j) => j).filter((j) => j !== i);
    const half = others.slice(0, Math.ceil(others.length / 2));
    const rest = others.slice(half.length);
    const sendTo = (js: number[], msg: Message): void => {
      for (const j of js) out.push({ type: 'send', to: this.signers[j]!.publicKey, msg });
    };
    for (const a of actions) {
      if (a.type !== 'broadcast' || (a.msg.type !== 'vote' && a.msg.type !== 'proposal')) {
        out.push(a);
        continue;
      }
      const b = this.behavior();
      if (b === 'withhold' && a.msg.type === 'vote') continue;
      if (b === 'equivocate' && a.msg.type === 'proposal') {
        const alt = this.altProposal(signer, a.msg, `equivocation:${i}:${a.msg.block.view}`);
        sendTo(half, a.msg);
        sendTo(rest, alt);
        continue;
      }
      if (b === 'fork' && a.msg.type === 'proposal') {
        const fork = this.forkProposal(i, a.msg);
        out.push({ type: 'broadcast', msg: fork ?? a.msg });
        continue;
      }
      if ((b === 'conflictingVotes' || b === 'equivocate') && a.msg.type === 'vote') {
        const v = a.msg.vote.vote;
        const other: SignedVote = signVote(signer, { ...v, blockHash: sha256Hex(`fake:${v.view}:${this.rng()}`) });
        sendTo(half, a.msg);
        sendTo(rest, { type: 'vote', vote: other });
        continue;
      }
      out.push(a);
    }
    return out;
  }

  /**
   * A proposal at the same view that skips the highest QC: it extends the parent's parent (a sibling
   * of the highest certified block) or one level further (a sibling of a block others may have locked).
   */
  private forkProposal(i: number, m: ProposalMsg): ProposalMsg | null {
    const st = (this.nodes[i] as SimNode).state;
    // A proposal not extending QC(view-1) must carry TC(view-1).
    const tc = st.lastTC && st.lastTC.view + 1 === m.block.view ? st.lastTC : null;
    if (!tc) return null;
    let child = st.blocks.get(m.block.parentHash);
    const levels = this.rng() < 0.5 ? 1 : 2;
    for (let k = 1; k < levels && child; k++) child = st.blocks.get(child.parentHash);
    const tip = child ? st.blocks.get(child.parentHash) : undefined;
    if (!child || !tip) return null;
    const payload = enc.encode(`fork:${i}:${m.block.view}:${levels}`);
    const { hash: _h, payload: _p, ...rest } = { ...m.block, height: tip.height + 1, parentHash: tip.hash, justify: child.justify };
    void _h;
    void _p;
    const header = { ...rest, payloadHash: sha256Hex(payload) };
    const block: Block = { ...header, hash: blockHash(header), payload };
    const vote = signVote(this.signers[i] as Signer, { chainId: block.chainId, chain: block.chain, height: block.height, view: block.view, blockHash: block.hash });
    return { type: 'proposal', block, signature: vote.signature, tc };
  }

  private altProposal(signer: Signer, m: ProposalMsg, tag: string): ProposalMsg {
    const payload = enc.encode(tag);
    const { hash: _old, payload: _p, ...rest } = m.block;
    void _old;
    void _p;
    const header = { ...rest, payloadHash: sha256Hex(payload) };
    const block: Block = { ...header, hash: blockHash(header), payload };
    const vote = signVote(signer, { chainId: block.chainId, chain: block.chain, height: block.height, view: block.view, blockHash: block.hash });
    return { ...m, block, signature: vote.signature };
  }

  honest(): SimNode[] {
    return this.nodes.filter((n) => !n.byzantine);
  }

  /** Throws if two honest nodes committed different blocks at one height, or a node's commits skip/repeat heights. */
  checkSafety(): void {
    const byHeight = new Map<number, string>();
    for (const [k, node] of this.nodes.entries()) {
      if (node.byzantine) continue;
      node.committed.forEach((b, idx) => {
        if (b.height !== idx + 1) throw new Error(`node ${k} committed height ${b.height} at position ${idx}`);
        const h = byHeight.get(b.height);
        if (h === undefined) byHeight.set(b.height, b.hash);
        else if (h !== b.hash) throw new Error(`safety violated at height ${b.height}`);
      });
    }
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
