/**
 * Audit certificates of one chain. Members of a height's auditor group re-execute each
 * committed block (in commit) and sign an audit share; ⌊2n/3⌋+1 matching shares of the
 * auditor group of that height make the audit certificate. A shard height is final when it
 * and every height below it are committed and audited; `fin/<chain>` is stored with the
 * certificate (`aud/<chain>/<height>`) that advances it.
 *
 * Shares live in memory and travel once, so a share lost (its multicast missed a peer, or the
 * nodes holding it restarted) would leave its height unaudited for good. An auditor's own
 * share is therefore kept in the height's block record (written in the commit batch), and
 * while its chain's final height has not moved for RESEND_AFTER_MS, the auditor multicasts
 * again its shares of the first RESEND_HEIGHTS heights above it: a height never audited
 * is certified as soon as a quorum of its auditors is up again.
 */
import { certificateError, certificateSigningBytes, makeCertificate, signCertificateShare, type Certificate } from '../consensus/certificate.js';
import type { VerifyCache } from '../consensus/crypto.js';
import { quorumSize, type Block } from '../consensus/types.js';
import type { GroupAt } from './epochs.js';
import type { AuditRecord, BlockRecord } from './payload.js';
import { heightKey, type BatchOp } from './store.js';
import type { RuntimeHost } from './runtime-types.js';

/** Final height unchanged this long while higher heights are committed: resend our shares. */
export const RESEND_AFTER_MS = 3000;
/** Heights above the final one whose shares one resend carries. */
export const RESEND_HEIGHTS = 8;

export interface AuditShareMsg {
  height: number;
  blockHash: string;
  signer: string;
  signature: string;
}

/** What the tracker reads from (and reports to) its chain runtime. */
export interface AuditContext {
  readonly chain: string;
  readonly host: RuntimeHost;
  readonly verifyCache: VerifyCache;
  /** Committed height. */
  height(): number;
  finalHeight(): number;
  groupAt(height: number): GroupAt | undefined;
  /** A committed block record held in memory. */
  recent(height: number): BlockRecord | undefined;
  /** A peer showed a height above ours exists. */
  noteHeight(height: number): void;
  /** Every height ≤ h is committed and audited. */
  advanceFinal(height: number): void;
  /** Test-only fault injection: true = do not sign (nor resend). */
  withholdAudit(): boolean;
}

export class AuditTracker {
  private readonly audits = new Map<number, AuditRecord>();
  private readonly shares = new Map<number, Map<string, { hash: string; signature: string }>>();
  /** The final height as last seen by `resendStalled`, and since when (ms). */
  private finalSeen = -1;
  private finalSince = 0;
  private lastResendAt = 0;

  constructor(private readonly ctx: AuditContext) {}

  /** Our share for a block we executed ourselves (its roots matched); undefined while withholding. Stored in its record, then `publish`ed. */
  share(block: Block): AuditShareMsg | undefined {
    if (this.ctx.withholdAudit()) return undefined;
    const { host, chain } = this.ctx;
    const share = signCertificateShare(host.signer, { chainId: host.chainId, chain, height: block.height, blockHash: block.hash, kind: 'audit' });
    return { height: block.height, blockHash: block.hash, signer: share.signer, signature: share.signature };
  }

  /** Multicasts our share and counts it here. */
  publish(msg: AuditShareMsg): void {
    this.ctx.host.net.multicast(this.ctx.host.allNodes, { k: 'audit', c: this.ctx.chain, body: msg });
    this.onShare(msg);
  }

  /**
   * Called periodically: once the final height has stood still for RESEND_AFTER_MS below the
   * committed one, publishes again our stored shares of the RESEND_HEIGHTS heights above it
   * (at most once per RESEND_AFTER_MS). Returns the heights resent.
   */
  resendStalled(now: number): number[] {
    const fin = this.ctx.finalHeight();
    if (fin !== this.finalSeen) {
      this.finalSeen = fin;
      this.finalSince = now;
    }
    if (fin >= this.ctx.height() || now - this.finalSince < RESEND_AFTER_MS || now - this.lastResendAt < RESEND_AFTER_MS || this.ctx.withholdAudit()) return [];
    this.lastResendAt = now;
    const self = this.ctx.host.self;
    const sent: number[] = [];
    for (let h = fin + 1; h <= Math.min(this.ctx.height(), fin + RESEND_HEIGHTS); h++) {
      const rec = this.ctx.recent(h);
      if (!rec?.auditShare || this.audits.has(h)) continue;
      this.publish({ height: h, blockHash: rec.block.hash, signer: self, signature: rec.auditShare });
      sent.push(h);
    }
    return sent;
  }

  onShare(m: AuditShareMsg): void {
    if (!m || typeof m.height !== 'number' || typeof m.signer !== 'string' || typeof m.signature !== 'string' || typeof m.blockHash !== 'string') return;
    const { host, chain } = this.ctx;
    // Auditors of the share's height; while that epoch's election is unknown here, any directory node (filtered in tryAudit).
    const g = this.ctx.groupAt(m.height);
    if (!(g ? g.auditors : host.allNodes).includes(m.signer) || m.height <= this.ctx.finalHeight() || this.audits.has(m.height)) return;
    this.ctx.noteHeight(m.height);
    const bytes = certificateSigningBytes({ chainId: host.chainId, chain, height: m.height, blockHash: m.blockHash, kind: 'audit' });
    if (!this.ctx.verifyCache.verify(m.signer, bytes, m.signature)) return;
    let s = this.shares.get(m.height);
    if (!s) this.shares.set(m.height, (s = new Map()));
    s.set(m.signer, { hash: m.blockHash, signature: m.signature });
    this.tryAudit(m.height);
  }

  /** Makes the certificate of a committed height once a quorum of its auditors signed our block hash. */
  tryAudit(height: number): void {
    if (this.audits.has(height)) return;
    const rec = this.ctx.recent(height);
    const s = this.shares.get(height);
    const g = this.ctx.groupAt(height);
    if (!rec || !s || !g || height > this.ctx.height()) return;
    const matching = [...s].filter(([signer, v]) => v.hash === rec.block.hash && g.auditors.includes(signer)).map(([signer, v]) => ({ signer, signature: v.signature }));
    if (matching.length < quorumSize(g.auditors.length)) return;
    const { host, chain } = this.ctx;
    const cert = makeCertificate({ chainId: host.chainId, chain, height, blockHash: rec.block.hash, kind: 'audit' }, matching);
    this.accept(height, { cert, finalAt: Date.now() });
  }

  /** Stores a (verified) certificate and advances finality over contiguous audited heights. */
  accept(height: number, a: AuditRecord): void {
    if (this.audits.has(height)) return;
    const { host, chain } = this.ctx;
    this.audits.set(height, a);
    this.shares.delete(height);
    const ops: BatchOp[] = [{ type: 'put', key: heightKey('aud', chain, height), value: a }];
    let h = this.ctx.finalHeight();
    while (this.audits.has(h + 1) && h + 1 <= this.ctx.height()) h++;
    if (h > this.ctx.finalHeight()) ops.push({ type: 'put', key: `fin/${chain}`, value: { height: h } });
    host.store.batch(ops).then(
      () => this.ctx.advanceFinal(h),
      (e: unknown) => {
        host.log.warn({ chain, err: (e as Error).message }, 'audit write failed');
        host.onIncident?.('store', chain);
      },
    );
  }

  /** Drops in-memory certificates far below the final height (they stay in the store). */
  prune(finalHeight: number): void {
    for (const k of this.audits.keys()) if (k < finalHeight - 1024) this.audits.delete(k);
  }

  /** Audit certificate of a height (memory or store). */
  async auditOf(height: number): Promise<AuditRecord | undefined> {
    return this.audits.get(height) ?? (await this.ctx.host.store.get<AuditRecord>(heightKey('aud', this.ctx.chain, height)));
  }

  verify(cert: Certificate, height: number, hash: string): boolean {
    const { host, chain } = this.ctx;
    return cert.kind === 'audit' && cert.chain === chain && cert.chainId === host.chainId && cert.height === height && cert.blockHash === hash && this.certError(cert, height) === null;
  }

  /** Reason an audit certificate is not signed by a quorum of the auditor group of `height`, or null. */
  private certError(cert: Certificate, height: number): string | null {
    const g = this.ctx.groupAt(height);
    return g ? certificateError(cert, g.auditors) : 'auditor group not known yet';
  }
}
