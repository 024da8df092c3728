/**
 * TEST-ONLY misbehaviour of a validator (Byzantine fault injection). Nothing here runs unless
 * a test asks for it:
 * - in-process tests pass `ChainNodeOptions.byzantine` directly;
 * - a node process reads it from its environment ONLY via `byzantineFromEnv` (chain/node/main.ts):
 *     TOPVPN_TEST_BYZANTINE=equivocate|invalid-proposal|withhold[,…]
 *   and refuses to start (TestHookRefusedError) unless TOPVPN_TEST_HOOKS=devnet is set too,
 *   so a stray variable on a real server stops the node instead of making it misbehave.
 *
 * Modes, on every chain whose validator group (or, for `withhold`, auditor group) the node is in:
 * - `equivocate`: after an honest vote it also broadcasts a validly signed vote for a made-up
 *   block at the same height and view (its 5th vote, then every 40th) until the beacon shows it
 *   jailed: honest members turn the pair into evidence and a `slash` tx;
 * - `invalid-proposal`: every block it proposes commits to a wrong state root, so honest
 *   validators refuse it and the view times out;
 * - `withhold`: it never sends its consensus votes nor its audit shares (it still proposes
 *   when leader, with the proposer's own signature the protocol requires).
 */
import { signVote } from '../consensus/certificate.js';
import type { Signer } from '../consensus/crypto.js';
import { sha256Hex } from '../consensus/encoding.js';
import type { Message } from '../consensus/types.js';
import type { PayloadV1 } from './payload.js';

export type ByzantineMode = 'equivocate' | 'invalid-proposal' | 'withhold';

export const BYZANTINE_MODES: readonly ByzantineMode[] = ['equivocate', 'invalid-proposal', 'withhold'];

/** Environment variable naming the modes (comma-separated). */
export const BYZANTINE_ENV = 'TOPVPN_TEST_BYZANTINE';
/** Environment variable that must equal `devnet` for BYZANTINE_ENV to be honoured. */
export const TEST_HOOKS_ENV = 'TOPVPN_TEST_HOOKS';

export interface ByzantineOptions {
  /** Double-vote once on this chain, right after the first honest vote there (unit tests). */
  readonly equivocateOn?: string;
  /** Process-level modes (see the file comment). */
  readonly modes?: readonly ByzantineMode[];
}

export class TestHookRefusedError extends Error {
  override name = 'TestHookRefusedError';
}

/**
 * The Byzantine options a node process was asked for, or undefined. Throws
 * TestHookRefusedError when BYZANTINE_ENV is set without TEST_HOOKS_ENV=devnet, or names an
 * unknown mode.
 */
export function byzantineFromEnv(env: NodeJS.ProcessEnv): ByzantineOptions | undefined {
  const raw = env[BYZANTINE_ENV];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (env[TEST_HOOKS_ENV] !== 'devnet') {
    throw new TestHookRefusedError(`${BYZANTINE_ENV} is a test-only fault injection; refused without ${TEST_HOOKS_ENV}=devnet`);
  }
  const modes = raw.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of modes) {
    if (!(BYZANTINE_MODES as readonly string[]).includes(m)) throw new TestHookRefusedError(`${BYZANTINE_ENV}: unknown mode "${m}" (want ${BYZANTINE_MODES.join('|')})`);
  }
  return { modes: modes as ByzantineMode[] };
}

/** What the hooks may ask of their chain runtime. */
export interface ByzantineContext {
  readonly chain: string;
  readonly signer: Signer;
  /** True once this node's own record on its beacon state is jailed. */
  isJailed(): boolean;
  log(msg: string, fields: Record<string, unknown>): void;
}

/** First own vote (1-based) that is doubled in `equivocate` mode, then every EQUIVOCATE_EVERY-th. */
const EQUIVOCATE_FIRST = 5;
const EQUIVOCATE_EVERY = 40;

/** Per-chain state of the hooks; the runtime calls it at its broadcast, payload and audit sites. */
export class ByzantineHooks {
  private votes = 0;
  private onceDone = false;
  private withheldVotes = 0;
  private withheldShares = 0;

  constructor(
    private readonly opts: ByzantineOptions,
    private readonly ctx: ByzantineContext,
  ) {}

  private has(m: ByzantineMode): boolean {
    return this.opts.modes?.includes(m) ?? false;
  }

  /** The consensus messages to broadcast instead of `msg` (possibly none, possibly a double vote). */
  broadcast(msg: Message): Message[] {
    if (msg.type !== 'vote') return [msg];
    if (this.has('withhold')) {
      if (this.withheldVotes++ === 0) this.ctx.log('byzantine test hook: withholding votes', { chain: this.ctx.chain, height: msg.vote.vote.height });
      return [];
    }
    this.votes++;
    const once = this.opts.equivocateOn === this.ctx.chain && !this.onceDone;
    const periodic = this.has('equivocate') && this.votes >= EQUIVOCATE_FIRST && (this.votes - EQUIVOCATE_FIRST) % EQUIVOCATE_EVERY === 0 && !this.ctx.isJailed();
    if (!once && !periodic) return [msg];
    this.onceDone = true;
    const v = msg.vote.vote;
    const fake = signVote(this.ctx.signer, { ...v, blockHash: sha256Hex(`equivocation:${v.blockHash}`) });
    this.ctx.log('byzantine test hook: double vote', { chain: this.ctx.chain, height: v.height, view: v.view });
    return [msg, { type: 'vote', vote: fake }];
  }

  /** The payload to propose instead of `p` (`invalid-proposal`: a wrong state root). */
  payload(p: PayloadV1): PayloadV1 {
    if (!this.has('invalid-proposal')) return p;
    this.ctx.log('byzantine test hook: invalid proposal', { chain: this.ctx.chain, height: p.body.height });
    return { ...p, stateRoot: sha256Hex(`invalid:${p.stateRoot}`) };
  }

  /** True when this node must not send its audit share (`withhold`). */
  withholdAudit(): boolean {
    if (!this.has('withhold')) return false;
    if (this.withheldShares++ === 0) this.ctx.log('byzantine test hook: withholding audit shares', { chain: this.ctx.chain });
    return true;
  }
}
