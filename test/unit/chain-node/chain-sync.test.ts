import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { ChainSync, LAG_BLOCKS, STALL_MS, type SyncContext, type SyncResponse } from '../../../chain/node/chain-sync.js';
import type { AuditRecord, BlockRecord } from '../../../chain/node/payload.js';
import type { RuntimeHost } from '../../../chain/node/runtime-types.js';

interface Sent {
  to: string;
  msg: { k: string; c: string; body: unknown };
}

/** A chain of `height` blocks (records are opaque here) with audits up to `audited`. */
function fakeChain(o: { height: number; audited: number; known?: number; pending?: boolean }) {
  const sent: Sent[] = [];
  const accepted: number[] = [];
  const committed: number[] = [];
  const state = { height: o.height, known: o.known ?? o.height, pending: o.pending ?? false };
  const rec = (h: number): BlockRecord => ({ block: { height: h, hash: `b${h}` }, qc: {}, proof: {}, outgoing: [], results: [], inbox: {}, committedAt: 0 }) as unknown as BlockRecord;
  const host = { net: { connectedPeers: () => ['v1', 'x'], send: (to: string, msg: Sent['msg']) => sent.push({ to, msg }) } } as unknown as RuntimeHost;
  const ctx: SyncContext = {
    chain: 'shard-0',
    host,
    stopped: () => false,
    height: () => state.height,
    finalHeight: () => o.audited,
    knownHeight: () => state.known,
    noteHeight: (h) => {
      state.known = Math.max(state.known, h);
    },
    hasPending: () => state.pending,
    validators: () => ['v1'],
    record: async (h) => (h >= 1 && h <= state.height ? rec(h) : undefined),
    auditOf: async (h) => (h <= o.audited ? ({ cert: { h }, finalAt: 0 } as unknown as AuditRecord) : undefined),
    commit: async (b) => {
      if (b.height !== state.height + 1) return false;
      state.height = b.height;
      committed.push(b.height);
      return true;
    },
    verifyAudit: () => true,
    acceptAudit: (h) => accepted.push(h),
    enqueue: (fn) => void fn(),
  };
  return { ctx, sent, accepted, committed, state };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a sync response carries only the audit for heights the asker holds, full records above', async () => {
  const server = fakeChain({ height: 10, audited: 9 });
  await new ChainSync(server.ctx).onRequest('asker', { from: 8, max: 32, auditFrom: 5 });
  assert.equal(server.sent.length, 1);
  const res = server.sent[0]!.msg.body as SyncResponse;
  assert.deepEqual(
    res.records.map((r) => ({ rec: r.rec?.block.height, height: r.height, audit: r.audit !== undefined })),
    [
      { rec: undefined, height: 5, audit: true },
      { rec: undefined, height: 6, audit: true },
      { rec: undefined, height: 7, audit: true },
      { rec: 8, height: undefined, audit: true },
      { rec: 9, height: undefined, audit: true },
      { rec: 10, height: undefined, audit: false },
    ],
  );
  assert.equal(res.tip, 10);

  // The asker (tip 7, final 4) accepts the audit-only entries for blocks it holds and commits the rest.
  const asker = fakeChain({ height: 7, audited: 4 });
  new ChainSync(asker.ctx).onResponse(res);
  await settle();
  assert.deepEqual(asker.committed, [8, 9, 10]);
  assert.deepEqual(asker.accepted, [5, 6, 7, 8, 9]);
});

test('malformed response entries are skipped, the good ones still apply', async () => {
  const server = fakeChain({ height: 3, audited: 3 });
  await new ChainSync(server.ctx).onRequest('asker', { from: 1, max: 32 });
  const res = server.sent[0]!.msg.body as SyncResponse;
  const asker = fakeChain({ height: 0, audited: 0 });
  new ChainSync(asker.ctx).onResponse({ records: [null, 7, { height: 'x' }, ...res.records] as unknown as SyncResponse['records'], tip: 3 });
  await settle();
  assert.deepEqual(asker.committed, [1, 2, 3]);
});

test('a node one block behind whose tip still moves does not ask; a stalled or far-behind one does', () => {
  mock.timers.enable({ apis: ['Date'], now: 100_000 });
  try {
    const c = fakeChain({ height: 10, audited: 10, known: 11 });
    const sync = new ChainSync(c.ctx);
    sync.maybeSync(); // first sight of tip 10: the periodic poll (a restarted node knows nothing)
    assert.equal(c.sent.length, 1);
    c.sent.length = 0;
    mock.timers.tick(STALL_MS - 1);
    sync.maybeSync();
    assert.equal(c.sent.length, 0, 'an announcement one block ahead is not a reason to sync');
    mock.timers.tick(STALL_MS - 1);
    c.state.height = 11;
    c.state.known = 12;
    sync.maybeSync();
    assert.equal(c.sent.length, 0, 'the tip moved: still receiving announcements');
    mock.timers.tick(STALL_MS - 1);
    sync.maybeSync();
    assert.equal(c.sent.length, 0, 'behind, but the tip moved less than STALL_MS ago');
    mock.timers.tick(1);
    sync.maybeSync();
    assert.equal(c.sent.length, 1, 'tip stalled for STALL_MS while behind: ask');
    assert.deepEqual(c.sent[0]!.msg.body, { from: 12, max: 32, auditFrom: 11 });
    assert.equal(c.sent[0]!.to, 'v1', 'a validator of the chain is preferred');

    const far = fakeChain({ height: 10, audited: 10, known: 10 + LAG_BLOCKS + 1 });
    new ChainSync(far.ctx).maybeSync();
    assert.equal(far.sent.length, 1, 'more than LAG_BLOCKS behind: ask at once');
  } finally {
    mock.timers.reset();
  }
});
