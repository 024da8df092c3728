/**
 * Block sync of one chain: a node behind (a peer announced a higher height, or commits are
 * buffered above tip+1) asks a peer — preferably a validator of the next height — for up to
 * 32 records from tip+1, plus the audit certificates it misses above its final height, and asks
 * again as soon as a response brought it blocks while it is still behind. A node that is not
 * behind polls every POLL_MS (a restarted node knows nothing of the network's height) with
 * `max: 0`: the answer is the peer's tip and the audits the asker misses, never blocks, since the
 * blocks a busy node has not applied yet are already on their way to it as announcements.
 * A height counts as missing only if its block is not here (queued, buffered, or in a response
 * being applied): a busy node whose queue holds the next blocks is slow, not behind, and asking
 * would only fetch and decode them twice. A node asks when more than LAG_BLOCKS heights are
 * missing, when one or two have been missing for STALL_MS (an announcement of height h can
 * arrive just before the block itself, from another validator), or, as a safety net, when its
 * tip has not moved for STUCK_MS while a higher height is known. For heights the asker already
 * holds, a response carries only the audit certificate, never the block again.
 *
 * A tip in a sync response is a claim, not evidence (the heights the runtime knows come from
 * blocks it verified and announcements by the height's validators). The highest claim counts
 * towards the known height until its claimant is asked for the blocks it claims: the request
 * goes to the claimant, and an answer without the first block asked for withdraws the claim
 * and leaves that peer's claims unheard for REFUTED_MS. A peer claiming heights it cannot
 * serve costs one block request per REFUTED_MS at most, never a node that believes it is
 * behind for good.
 */

/** A height missing (not held) this long: ask a peer. */
export const STALL_MS = 1000;
/** Tip unchanged this long while a higher height is known, even if its blocks are held: ask a peer. */
export const STUCK_MS = 5000;
/** Behind by more than this many heights: ask at once. */
export const LAG_BLOCKS = 2;
/** A node that is not behind asks for the network's tip this often. */
export const POLL_MS = 3000;
/** At most one request per this interval, except the next batch of a catch-up in progress. */
export const MIN_REQUEST_GAP_MS = 500;
/** A peer whose claimed tip it could not serve is not heard on tips for this long. */
export const REFUTED_MS = 60_000;
import type { Certificate } from '../consensus/certificate.js';
import type { Block, QC } from '../consensus/types.js';
import type { ExtCommitProof } from './commit-proof.js';
import type { AuditRecord, BlockRecord } from './payload.js';
import type { RuntimeHost } from './runtime-types.js';

export interface SyncRequest {
  from: number;
  /** Blocks wanted from `from` (at most 64); 0 = a poll: the tip and the audits only. */
  max: number;
  auditFrom?: number;
}

export interface SyncResponse {
  /** `rec` for heights ≥ the request's `from`; below it only `height` and `audit`. */
  records: Array<{ rec?: BlockRecord; audit?: AuditRecord; height?: number }>;
  tip: number;
  /** The request answered (its `from` and `max`), so an answer is matched to its request. */
  req?: { from: number; max: number };
}

/** What sync reads from (and drives in) its chain runtime. */
export interface SyncContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  stopped(): boolean;
  height(): number;
  finalHeight(): number;
  /** The highest height known from verified blocks and the height's validators' announcements. */
  knownHeight(): number;
  /** Commits are buffered above tip+1. */
  hasPending(): boolean;
  /** The highest h such that every block tip+1 … h is here, queued or buffered (tip if tip+1 is not). */
  heldThrough(): number;
  validators(): readonly string[];
  record(height: number): Promise<BlockRecord | undefined>;
  auditOf(height: number): Promise<AuditRecord | undefined>;
  /** Commits a synced block at tip+1 (commit proof checked); false if refused. */
  commit(block: Block, qc: QC, proof: ExtCommitProof): Promise<boolean>;
  verifyAudit(cert: Certificate, height: number, hash: string): boolean;
  acceptAudit(height: number, audit: AuditRecord): void;
  /** Runs `fn` on the runtime's serial queue. */
  enqueue(fn: () => Promise<void>): void;
}

export class ChainSync {
  private lastSyncAt = 0;
  /** Tip height when last seen moving, and when. */
  private tipSeen = -1;
  private tipMovedAt = 0;
  /** The lowest missing height and since when it has been missing (undefined: none missing). */
  private gap: { height: number; since: number } | undefined;
  /** Highest block height of the responses waiting on the serial queue (0 when none). */
  private applyingThrough = 0;
  /** The highest tip claimed by a peer above the known height (see the module comment). */
  private claim: { peer: string; tip: number } | undefined;
  /** The last block request (max > 0) and its peer: its answer tests that peer's claim. */
  private asked: { peer: string; from: number } | undefined;
  /** Peers whose claim was refuted, until when. */
  private readonly refuted = new Map<string, number>();

  constructor(private readonly ctx: SyncContext) {}

  /** The known height with the standing claim: what sync tries to reach. */
  knownHeight(): number {
    const claimed = this.claim && this.claim.tip > this.ctx.height() ? this.claim.tip : 0;
    return Math.max(this.ctx.knownHeight(), claimed);
  }

  /**
   * Sends a sync request if the chain is behind (see the module comment), else a poll if the last
   * request is POLL_MS old. `continuing` = called on a response that brought blocks or a higher
   * tip: if still behind, the next request goes out without waiting MIN_REQUEST_GAP_MS.
   */
  maybeSync(continuing = false): void {
    const ctx = this.ctx;
    if (ctx.stopped()) return;
    const now = Date.now();
    const height = ctx.height();
    if (height !== this.tipSeen) {
      this.tipSeen = height;
      this.tipMovedAt = now;
    }
    const known = this.knownHeight();
    const lag = Math.max(known - height, ctx.hasPending() ? LAG_BLOCKS : 0);
    // Blocks already here (queued, buffered, or in a response being applied) are not missing.
    const here = Math.max(height, ctx.heldThrough(), this.applyingThrough);
    const missing = known - here;
    if (missing <= 0) this.gap = undefined;
    else if (this.gap?.height !== here + 1) this.gap = { height: here + 1, since: now };
    const gapStalled = this.gap !== undefined && now - this.gap.since >= STALL_MS;
    const behind = missing > LAG_BLOCKS || gapStalled || (lag > 0 && now - this.tipMovedAt >= STUCK_MS);
    if (!behind && now - this.lastSyncAt < POLL_MS) return;
    if (!(behind && continuing) && now - this.lastSyncAt < MIN_REQUEST_GAP_MS) return;
    this.lastSyncAt = now;
    const peers = ctx.host.net.connectedPeers();
    // A claimant that went away cannot prove its claim: the claim goes with it.
    if (this.claim && !peers.includes(this.claim.peer)) this.claim = undefined;
    const validators = ctx.validators();
    const prefer = peers.filter((p) => validators.includes(p));
    const pool = prefer.length > 0 ? prefer : peers;
    if (pool.length === 0) return;
    // Blocks are asked of whoever claimed the height sync is trying to reach, so the claim is tested.
    const claimant = behind && this.claim && this.claim.tip > here ? this.claim.peer : undefined;
    const peer = claimant ?? pool[Math.floor(Math.random() * pool.length)]!;
    const req: SyncRequest = { from: height + 1, max: behind ? 32 : 0, auditFrom: ctx.finalHeight() + 1 };
    this.asked = behind ? { peer, from: req.from } : undefined;
    ctx.host.net.send(peer, { k: 'sync-req', c: ctx.chain, body: req });
  }

  async onRequest(from: string, req: SyncRequest): Promise<void> {
    if (typeof req?.from !== 'number' || typeof req.max !== 'number') return;
    const ctx = this.ctx;
    const records: SyncResponse['records'] = [];
    const start = Math.max(1, Math.min(req.from, typeof req.auditFrom === 'number' ? req.auditFrom : req.from));
    const end = Math.min(ctx.height(), req.from + Math.min(64, Math.max(0, req.max)) - 1);
    for (let h = start; h <= end; h++) {
      const audit = await ctx.auditOf(h);
      if (h < req.from) {
        if (audit) records.push({ height: h, audit }); // the asker holds the block: only its audit is useful
        continue;
      }
      const rec = await ctx.record(h);
      if (!rec) break;
      records.push(audit ? { rec, audit } : { rec });
    }
    const res: SyncResponse = { records, tip: ctx.height(), req: { from: req.from, max: req.max } };
    ctx.host.net.send(from, { k: 'sync-res', c: ctx.chain, body: res });
  }

  /** A peer's answer to our request (`from` = the peer). */
  onResponse(from: string, m: SyncResponse): void {
    if (!m || !Array.isArray(m.records)) return;
    const ctx = this.ctx;
    const knownBefore = this.knownHeight();
    let top = 0;
    for (const item of m.records) if (typeof item?.rec?.block?.height === 'number') top = Math.max(top, item.rec.block.height);
    // Only the answer to the block request itself tests the claim (an earlier poll's answer can come first).
    const asked = this.asked?.peer === from && m.req?.from === this.asked.from && m.req.max > 0 ? this.asked : undefined;
    if (asked) {
      this.asked = undefined;
      const served = m.records.some((item) => item?.rec?.block?.height === asked.from);
      if (!served && this.claim?.peer === from) {
        ctx.host.log.debug({ chain: ctx.chain, peer: from.slice(0, 12), claimed: this.claim.tip, from: asked.from }, 'sync: a peer did not serve the height it claimed; claim withdrawn');
        this.claim = undefined;
        this.refuted.set(from, Date.now() + REFUTED_MS);
      }
    }
    this.noteClaim(from, m.tip);
    const learned = this.knownHeight() > knownBefore;
    this.applyingThrough = Math.max(this.applyingThrough, top);
    ctx.enqueue(async () => {
      const before = ctx.height();
      for (const item of m.records) {
        if (item === null || typeof item !== 'object') continue;
        const { rec, audit, height } = item;
        const h = rec?.block ? rec.block.height : height;
        if (typeof h !== 'number') continue;
        if (rec?.block && rec.proof && h === ctx.height() + 1) {
          if (!(await ctx.commit(rec.block, rec.qc, rec.proof))) break;
        }
        if (audit && h <= ctx.height()) {
          const mine = await ctx.record(h);
          if (mine && ctx.verifyAudit(audit.cert, h, mine.block.hash)) ctx.acceptAudit(h, audit);
        }
      }
      // Still behind after a response that brought blocks or news of a higher tip: the next
      // request goes out now (if the lag rules say so), not after MIN_REQUEST_GAP_MS.
      if (this.applyingThrough <= top) this.applyingThrough = 0;
      if (this.claim && this.claim.tip <= ctx.height()) this.claim = undefined; // reached
      if (this.knownHeight() > ctx.height()) this.maybeSync(learned || ctx.height() > before);
    });
  }

  /** Records `peer`'s tip as the standing claim if it is the highest (and the peer is heard). */
  private noteClaim(peer: string, tip: unknown): void {
    if (typeof tip !== 'number' || !Number.isSafeInteger(tip) || tip <= this.knownHeight()) return;
    const until = this.refuted.get(peer);
    if (until !== undefined) {
      if (Date.now() < until) return;
      this.refuted.delete(peer);
    }
    this.claim = { peer, tip };
  }
}
