import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { MemoryHub } from '../../../chain/node/net.js';
import type { NetMessage } from '../../../chain/node/net.js';
import { AuditTracker, RESEND_AFTER_MS, RESEND_HEIGHTS, type AuditShareMsg } from '../../../chain/node/audit.js';
import { MemoryStore } from '../../../chain/node/store.js';
import type { BlockRecord } from '../../../chain/node/payload.js';
import type { RuntimeHost } from '../../../chain/node/runtime-types.js';
import type { GroupAt } from '../../../chain/node/epochs.js';
import { certificateSigningBytes } from '../../../chain/consensus/certificate.js';
import { createSigner, generateKey, VerifyCache } from '../../../chain/consensus/crypto.js';
import type { Block } from '../../../chain/consensus/types.js';
import { silentLogger } from '../../../common/log.js';

/** Drops every audit share of one chain while `dropping` is set. */
class ShareDroppingHub extends MemoryHub {
  dropping = false;
  dropped = 0;
  constructor(private readonly chain: string) {
    super();
  }
  override deliver(from: string, to: string, msg: NetMessage): void {
    if (this.dropping && msg.k === 'audit' && msg.c === this.chain) {
      this.dropped++;
      return;
    }
    super.deliver(from, to, msg);
  }
}

/**
 * Audit shares travel once. Heights whose shares were lost (here: dropped on the wire while
 * they were committed) and whose auditors then all restarted (the shares they held in memory
 * are gone too) are certified only because each auditor stored its own share with the block and
 * sends it again while its final height stands still (audit.ts RESEND_AFTER_MS). Without that,
 * the chain keeps committing but never finalizes again.
 */
test('in-memory cluster: heights whose audit shares were lost, and whose nodes all restarted, become final', async () => {
  const hub = new ShareDroppingHub('shard-1');
  const c = await startCluster({ accounts: 2, hub });
  try {
    const rt = (i: number) => c.nodes[i]!.runtime('shard-1');
    await waitFor('shard-1 final', () => c.nodes.every((_, i) => rt(i).finalHeight >= 3));
    hub.dropping = true;
    await new Promise((r) => setTimeout(r, 300)); // shares already delivered have been counted
    const stuck = c.nodes.map((_, i) => rt(i).finalHeight);
    await waitFor('shard-1 commits without finalizing', () => c.nodes.every((_, i) => rt(i).height >= stuck[i]! + 4));
    assert.ok(hub.dropped > 0);
    assert.deepEqual(c.nodes.map((_, i) => rt(i).finalHeight), stuck, 'nothing becomes final while the shares are dropped');
    // Every node restarts (its shares in memory are lost), then the shares flow again.
    for (let i = 0; i < c.nodes.length; i++) await c.restart(i);
    hub.dropping = false;
    const committed = Math.min(...c.nodes.map((_, i) => rt(i).height));
    await waitFor('every node finalizes past the heights whose shares were lost', () => c.nodes.every((_, i) => rt(i).finalHeight >= committed + 1), 30_000);
    for (const n of c.nodes) assert.ok(n.supply().ok, n.supply().message);
  } finally {
    await c.stopAll();
  }
});

/** One auditor's tracker over a fake chain (heights 1..height committed, records in memory). */
function trackerOf(opts: { height: number; final: number }) {
  const keys = [0, 1, 2, 3].map(() => createSigner(generateKey().seed));
  const auditors = keys.map((k) => k.publicKey);
  const sent: AuditShareMsg[] = [];
  const chain = { height: opts.height, final: opts.final, withhold: false };
  const recent = new Map<number, BlockRecord>();
  // A fake host: only what AuditTracker reads (its other members are never touched here).
  const host = {
    chainId: 'test-chain',
    self: auditors[0]!,
    signer: keys[0]!,
    allNodes: auditors,
    net: { multicast: (_to: readonly string[], m: { body: unknown }) => sent.push(m.body as AuditShareMsg) },
    store: new MemoryStore(),
    log: silentLogger(),
  } as unknown as RuntimeHost;
  const group: GroupAt = { epoch: 0, validators: [], auditors, periodStart: 0, firstView: 1 };
  const tracker = new AuditTracker({
    chain: 'shard-0',
    host,
    verifyCache: new VerifyCache(),
    height: () => chain.height,
    finalHeight: () => chain.final,
    groupAt: () => group,
    recent: (h) => recent.get(h),
    noteHeight: () => undefined,
    advanceFinal: (h) => (chain.final = Math.max(chain.final, h)),
    withholdAudit: () => chain.withhold,
  });
  const block = (h: number) => ({ height: h, hash: `b${h}`.padEnd(64, '0') }) as Block;
  for (let h = 1; h <= opts.height; h++) {
    const share = tracker.share(block(h))!;
    recent.set(h, { block: block(h), auditShare: share.signature } as unknown as BlockRecord);
  }
  /** Auditor i's share of height h, as a peer sends it. */
  const peerShare = (i: number, h: number): AuditShareMsg => {
    const bytes = certificateSigningBytes({ chainId: 'test-chain', chain: 'shard-0', height: h, blockHash: block(h).hash, kind: 'audit' });
    return { height: h, blockHash: block(h).hash, signer: auditors[i]!, signature: keys[i]!.sign(bytes) };
  };
  return { tracker, sent, chain, peerShare };
}

test('AuditTracker.resendStalled: the stored shares above a final height that stood still RESEND_AFTER_MS, at most RESEND_HEIGHTS, once per interval', async () => {
  const { tracker, sent, chain, peerShare } = trackerOf({ height: 5, final: 2 });
  assert.deepEqual(tracker.resendStalled(0), [], 'the final height is only noted');
  assert.deepEqual(tracker.resendStalled(RESEND_AFTER_MS - 1), []);
  assert.deepEqual(tracker.resendStalled(RESEND_AFTER_MS), [3, 4, 5]);
  assert.deepEqual(sent.map((m) => m.height), [3, 4, 5]);
  assert.deepEqual(tracker.resendStalled(RESEND_AFTER_MS + 500), [], 'not again within the interval');
  // Two peers' shares of height 3 plus ours (resent above) make its certificate: final moves.
  tracker.onShare(peerShare(1, 3));
  tracker.onShare(peerShare(2, 3));
  await waitFor('height 3 final', () => chain.final === 3);
  const t = 2 * RESEND_AFTER_MS;
  assert.deepEqual(tracker.resendStalled(t), [], 'the final height moved: the clock starts again');
  assert.deepEqual(tracker.resendStalled(t + RESEND_AFTER_MS), [4, 5]);
  chain.withhold = true;
  assert.deepEqual(tracker.resendStalled(t + 3 * RESEND_AFTER_MS), [], 'a withholding auditor resends nothing');
  chain.withhold = false;
  chain.final = 5;
  assert.deepEqual(tracker.resendStalled(t + 5 * RESEND_AFTER_MS), [], 'nothing above the final height');
});

test('AuditTracker.resendStalled: a long backlog is resent from its lowest height, RESEND_HEIGHTS at a time', () => {
  const { tracker, sent } = trackerOf({ height: 3 + 2 * RESEND_HEIGHTS, final: 3 });
  tracker.resendStalled(0);
  const first = tracker.resendStalled(RESEND_AFTER_MS);
  assert.deepEqual(first, Array.from({ length: RESEND_HEIGHTS }, (_, i) => 4 + i));
  assert.equal(sent.length, RESEND_HEIGHTS);
  // Each resent share verifies as the auditor's share of that height.
  for (const m of sent) {
    const bytes = certificateSigningBytes({ chainId: 'test-chain', chain: 'shard-0', height: m.height, blockHash: m.blockHash, kind: 'audit' });
    assert.ok(new VerifyCache().verify(m.signer, bytes, m.signature), `share of ${m.height}`);
  }
});
