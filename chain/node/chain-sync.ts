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
}

/** What sync reads from (and drives in) its chain runtime. */
export interface SyncContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  stopped(): boolean;
  height(): number;
  finalHeight(): number;
  knownHeight(): number;
  noteHeight(height: number): void;
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

  constructor(private readonly ctx: SyncContext) {}

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
    const known = ctx.knownHeight();
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
    const validators = ctx.validators();
    const prefer = peers.filter((p) => validators.includes(p));
    const pool = prefer.length > 0 ? prefer : peers;
    if (pool.length === 0) return;
    const peer = pool[Math.floor(Math.random() * pool.length)]!;
    const req: SyncRequest = { from: height + 1, max: behind ? 32 : 0, auditFrom: ctx.finalHeight() + 1 };
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
    const res: SyncResponse = { records, tip: ctx.height() };
    ctx.host.net.send(from, { k: 'sync-res', c: ctx.chain, body: res });
  }

  onResponse(m: SyncResponse): void {
    if (!m || !Array.isArray(m.records)) return;
    const ctx = this.ctx;
    const knownBefore = ctx.knownHeight();
    if (typeof m.tip === 'number') ctx.noteHeight(m.tip);
    const learned = ctx.knownHeight() > knownBefore;
    let top = 0;
    for (const item of m.records) if (typeof item?.rec?.block?.height === 'number') top = Math.max(top, item.rec.block.height);
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
      if (ctx.knownHeight() > ctx.height()) this.maybeSync(learned || ctx.height() > before);
    });
  }
}
