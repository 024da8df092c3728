/**
 * Block sync of one chain: a node behind (a peer announced a higher height, or commits are
 * buffered above tip+1) asks a peer — preferably a validator of the next height — for up to
 * 32 records from tip+1, plus the audit certificates it misses above its final height; it also
 * polls every ~3 s (a restarted node knows nothing of the network's height). Synced blocks go
 * through the same commit (proof-checked against their height's group) as announced ones.
 * A node that is behind by one or two heights while its tip still advances is only receiving
 * announcements late (its queue is busy), not missing them: it asks only once its tip has not
 * moved for STALL_MS, or when it is more than LAG_BLOCKS behind. For heights the asker already
 * holds, a response carries only the audit certificate, never the block again.
 */

/** Tip unchanged this long while behind: ask a peer. */
export const STALL_MS = 1000;
/** Behind by more than this many heights: ask at once. */
export const LAG_BLOCKS = 2;
import type { Certificate } from '../consensus/certificate.js';
import type { Block, QC } from '../consensus/types.js';
import type { ExtCommitProof } from './commit-proof.js';
import type { AuditRecord, BlockRecord } from './payload.js';
import type { RuntimeHost } from './runtime-types.js';

export interface SyncRequest {
  from: number;
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

  constructor(private readonly ctx: SyncContext) {}

  maybeSync(): void {
    const ctx = this.ctx;
    if (ctx.stopped()) return;
    const now = Date.now();
    const height = ctx.height();
    if (height !== this.tipSeen) {
      this.tipSeen = height;
      this.tipMovedAt = now;
    }
    const lag = Math.max(ctx.knownHeight() - height, ctx.hasPending() ? LAG_BLOCKS : 0);
    const behind = lag > LAG_BLOCKS || (lag > 0 && now - this.tipMovedAt >= STALL_MS);
    // Also poll now and then: a node that restarted knows nothing of the network's height.
    if (!behind && now - this.lastSyncAt < 3000) return;
    if (now - this.lastSyncAt < 500) return;
    this.lastSyncAt = now;
    const peers = ctx.host.net.connectedPeers();
    const validators = ctx.validators();
    const prefer = peers.filter((p) => validators.includes(p));
    const pool = prefer.length > 0 ? prefer : peers;
    if (pool.length === 0) return;
    const peer = pool[Math.floor(Math.random() * pool.length)]!;
    const req: SyncRequest = { from: ctx.height() + 1, max: 32, auditFrom: ctx.finalHeight() + 1 };
    ctx.host.net.send(peer, { k: 'sync-req', c: ctx.chain, body: req });
  }

  async onRequest(from: string, req: SyncRequest): Promise<void> {
    if (typeof req?.from !== 'number' || typeof req.max !== 'number') return;
    const ctx = this.ctx;
    const records: SyncResponse['records'] = [];
    const start = Math.max(1, Math.min(req.from, typeof req.auditFrom === 'number' ? req.auditFrom : req.from));
    const end = Math.min(ctx.height(), req.from + Math.min(64, Math.max(1, req.max)) - 1);
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
    if (typeof m.tip === 'number') ctx.noteHeight(m.tip);
    ctx.enqueue(async () => {
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
      if (ctx.knownHeight() > ctx.height()) {
        this.lastSyncAt = 0;
        this.maybeSync();
      }
    });
  }
}
