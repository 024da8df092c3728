import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChainSync, LAG_BLOCKS, MIN_REQUEST_GAP_MS, POLL_MS, REFUTED_MS, STALL_MS, STUCK_MS, type SyncContext, type SyncRequest, type SyncResponse } from '../../../chain/node/chain-sync.js';
import type { AuditRecord, BlockRecord } from '../../../chain/node/payload.js';
import type { RuntimeHost } from '../../../chain/node/runtime-types.js';

interface Sent {
  to: string;
  msg: { k: string; c: string; body: unknown };
}

/** A chain of `height` blocks (records are opaque here) with audits up to `audited`. */
function fakeChain(o: { height: number; audited: number; known?: number; pending?: boolean; held?: number }) {
  const sent: Sent[] = [];
  const accepted: number[] = [];
  const committed: number[] = [];
  const state = { height: o.height, known: o.known ?? o.height, pending: o.pending ?? false, held: o.held ?? 0 };
  const rec = (h: number): BlockRecord => ({ block: { height: h, hash: `b${h}` }, qc: {}, proof: {}, outgoing: [], results: [], inbox: {}, committedAt: 0 }) as unknown as BlockRecord;
  const host = { log: { debug: () => undefined }, net: { connectedPeers: () => ['v1', 'x'], send: (to: string, msg: Sent['msg']) => sent.push({ to, msg }) } } as unknown as RuntimeHost;
  const ctx: SyncContext = {
    chain: 'shard-0',
    host,
    stopped: () => false,
    height: () => state.height,
    finalHeight: () => o.audited,
    knownHeight: () => state.known,
    hasPending: () => state.pending,
    heldThrough: () => Math.max(state.height, state.held),
    validators: () => ['v1'],
    record: async (h) => (h >= 1 && h <= state.height ? rec(h) : undefined),
    auditOf: async (h) => (h <= o.audited ? ({ cert: { h }, finalAt: 0 } as unknown as AuditRecord) : undefined),
    commit: async (b) => {
      if (b.height !== state.height + 1) return false;
      state.height = b.height;
      state.known = Math.max(state.known, b.height); // as the runtime: a committed block is known
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
  new ChainSync(asker.ctx).onResponse('v1', res);
  await settle();
  assert.deepEqual(asker.committed, [8, 9, 10]);
  assert.deepEqual(asker.accepted, [5, 6, 7, 8, 9]);
});

test('malformed response entries are skipped, the good ones still apply', async () => {
  const server = fakeChain({ height: 3, audited: 3 });
  await new ChainSync(server.ctx).onRequest('asker', { from: 1, max: 32 });
  const res = server.sent[0]!.msg.body as SyncResponse;
  const asker = fakeChain({ height: 0, audited: 0 });
  new ChainSync(asker.ctx).onResponse('v1', { records: [null, 7, { height: 'x' }, ...res.records] as unknown as SyncResponse['records'], tip: 3 });
  await settle();
  assert.deepEqual(asker.committed, [1, 2, 3]);
});

test('a node one block behind whose tip still moves does not ask; one whose next block stays missing, or far behind, does', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const c = fakeChain({ height: 10, audited: 10, known: 11 });
  const sync = new ChainSync(c.ctx);
  sync.maybeSync(); // first sight of tip 10: the periodic poll (a restarted node knows nothing)
  assert.equal(c.sent.length, 1);
  c.sent.length = 0;
  t.mock.timers.tick(STALL_MS - 1);
  sync.maybeSync();
  assert.equal(c.sent.length, 0, 'an announcement one block ahead is not a reason to sync');
  t.mock.timers.tick(STALL_MS - 1);
  c.state.height = 11;
  c.state.known = 12;
  sync.maybeSync();
  assert.equal(c.sent.length, 0, 'the tip moved: still receiving announcements');
  t.mock.timers.tick(STALL_MS - 1);
  sync.maybeSync();
  assert.equal(c.sent.length, 0, 'height 12 missing for less than STALL_MS');
  t.mock.timers.tick(1);
  sync.maybeSync();
  assert.equal(c.sent.length, 1, 'height 12 missing for STALL_MS: ask');
  assert.deepEqual(c.sent[0]!.msg.body, { from: 12, max: 32, auditFrom: 11 });
  assert.equal(c.sent[0]!.to, 'v1', 'a validator of the chain is preferred');

  const far = fakeChain({ height: 10, audited: 10, known: 10 + LAG_BLOCKS + 1 });
  new ChainSync(far.ctx).maybeSync();
  assert.equal(far.sent.length, 1, 'more than LAG_BLOCKS behind: ask at once');
});

test('a node that is not behind polls for the tip only: the answer carries audits it misses, never blocks', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const c = fakeChain({ height: 10, audited: 8 });
  const sync = new ChainSync(c.ctx);
  sync.maybeSync();
  assert.deepEqual(c.sent.map((s) => s.msg.body), [{ from: 11, max: 0, auditFrom: 9 }]);
  sync.maybeSync();
  t.mock.timers.tick(POLL_MS - 1);
  sync.maybeSync();
  assert.equal(c.sent.length, 1, 'one poll per POLL_MS');
  t.mock.timers.tick(1);
  sync.maybeSync();
  assert.equal(c.sent.length, 2);

  // A peer two blocks ahead answers a poll with its tip and the audits of 9 and 10 only.
  const fresh = fakeChain({ height: 10, audited: 8 });
  const freshSync = new ChainSync(fresh.ctx);
  freshSync.maybeSync();
  const server = fakeChain({ height: 12, audited: 11 });
  await new ChainSync(server.ctx).onRequest('asker', fresh.sent[0]!.msg.body as SyncRequest);
  const res = server.sent[0]!.msg.body as SyncResponse;
  assert.deepEqual(res.records.map((r) => ({ rec: r.rec !== undefined, height: r.height })), [{ rec: false, height: 9 }, { rec: false, height: 10 }]);
  assert.equal(res.tip, 12);
  freshSync.onResponse('v1', res);
  await settle();
  assert.deepEqual(fresh.accepted, [9, 10]);
  assert.equal(freshSync.knownHeight(), 12, 'the claimed tip counts towards sync');
  assert.equal(fresh.state.known, 10, 'but is not what the runtime knows');
  assert.equal(fresh.sent.length, 1, 'two behind, tip seen moving just now: the announcements will bring the blocks');
});

test('blocks already queued or buffered are not missing: no sync while the queue works through them; a height missing above them is asked for after STALL_MS', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const c = fakeChain({ height: 10, audited: 10, known: 10 + LAG_BLOCKS + 3, held: 10 + LAG_BLOCKS + 3 });
  const sync = new ChainSync(c.ctx);
  sync.maybeSync();
  assert.deepEqual(c.sent.map((s) => (s.msg.body as SyncRequest).max), [0], 'only the first poll: nothing is missing');
  t.mock.timers.tick(STALL_MS);
  sync.maybeSync();
  assert.equal(c.sent.length, 1, 'the tip has not moved for STALL_MS, but every known block is held: a busy queue, not a gap');
  // One height above the held run is missing: within LAG_BLOCKS, wait STALL_MS from now.
  c.state.known += 1;
  sync.maybeSync();
  t.mock.timers.tick(STALL_MS - 1);
  sync.maybeSync();
  assert.equal(c.sent.length, 1, 'missing for less than STALL_MS');
  t.mock.timers.tick(1);
  sync.maybeSync();
  assert.equal(c.sent.length, 2);
  assert.deepEqual(c.sent[1]!.msg.body, { from: 11, max: 32, auditFrom: 11 });

  // More than LAG_BLOCKS missing above what is held: ask at once.
  const gap = fakeChain({ height: 10, audited: 10, known: 12 + LAG_BLOCKS + 1, held: 12 });
  new ChainSync(gap.ctx).maybeSync();
  assert.equal((gap.sent[0]!.msg.body as SyncRequest).max, 32);
});

test('a queue that holds the next blocks but makes no progress for STUCK_MS asks anyway', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const c = fakeChain({ height: 10, audited: 10, known: 12, held: 12 });
  const sync = new ChainSync(c.ctx);
  sync.maybeSync();
  assert.deepEqual(c.sent.map((s) => (s.msg.body as SyncRequest).max), [0]);
  t.mock.timers.tick(STUCK_MS - MIN_REQUEST_GAP_MS);
  sync.maybeSync();
  assert.equal(c.sent.length, 2, 'a periodic poll only');
  assert.equal((c.sent[1]!.msg.body as SyncRequest).max, 0);
  t.mock.timers.tick(MIN_REQUEST_GAP_MS - 1);
  sync.maybeSync();
  assert.equal(c.sent.length, 2);
  t.mock.timers.tick(1);
  sync.maybeSync();
  assert.equal(c.sent.length, 3);
  assert.deepEqual(c.sent[2]!.msg.body, { from: 11, max: 32, auditFrom: 11 }, 'tip stuck with blocks held: fetch them');
});

test('a catch-up asks for the next batch as soon as a batch is applied; an empty answer waits MIN_REQUEST_GAP_MS', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const server = fakeChain({ height: 80, audited: 80 });
  const serverSync = new ChainSync(server.ctx);
  const c = fakeChain({ height: 0, audited: 0, known: 80 });
  const sync = new ChainSync(c.ctx);
  sync.maybeSync();
  for (let i = 0; i < 3; i++) {
    const req = c.sent.at(-1)!.msg.body as SyncRequest;
    assert.equal(req.max, 32);
    await serverSync.onRequest('c', req);
    sync.onResponse('v1', server.sent.at(-1)!.msg.body as SyncResponse);
    await settle();
  }
  assert.equal(c.state.height, 80);
  assert.equal(c.sent.length, 3, 'three batches of 32, 32 and 16, each asked for at once');

  // A peer that has nothing new answers; the next request waits for the gap.
  const stuck = fakeChain({ height: 5, audited: 5, known: 20 });
  const s2 = new ChainSync(stuck.ctx);
  s2.maybeSync();
  s2.onResponse('v1', { records: [], tip: 5 });
  await settle();
  assert.equal(stuck.sent.length, 1);
  t.mock.timers.tick(MIN_REQUEST_GAP_MS);
  s2.maybeSync();
  assert.equal(stuck.sent.length, 2);
});

test('a tip claimed in a sync response is tested: the blocks are asked of its claimant, and an answer without them withdraws it', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const c = fakeChain({ height: 10, audited: 10 });
  const sync = new ChainSync(c.ctx);
  const lie = { records: [], tip: 1_000_000 };
  const lieTo = (from: number): SyncResponse => ({ records: [], tip: 1_000_000, req: { from, max: 32 } });
  const blockRequests = (): Sent[] => c.sent.filter((s) => (s.msg.body as SyncRequest).max > 0);

  // 'x' answers a poll claiming a far higher tip: sync believes it for now and asks 'x' itself for the blocks.
  sync.onResponse('x', lie);
  await settle();
  assert.equal(sync.knownHeight(), 1_000_000);
  assert.equal(c.state.known, 10, 'the runtime\'s known height is not moved by a claim');
  assert.deepEqual(blockRequests().map((s) => [s.to, (s.msg.body as SyncRequest).from]), [['x', 11]]);

  // An answer to an earlier poll, arriving after the block request went out, tests nothing.
  sync.onResponse('x', { records: [], tip: 1_000_000, req: { from: 11, max: 0 } });
  await settle();
  assert.equal(sync.knownHeight(), 1_000_000);

  // 'x' has no block 11: the claim is withdrawn; nothing more is asked for it.
  sync.onResponse('x', lieTo(11));
  await settle();
  assert.equal(sync.knownHeight(), 10);
  t.mock.timers.tick(MIN_REQUEST_GAP_MS);
  sync.maybeSync();
  assert.equal(blockRequests().length, 1, 'not behind any more: no second block request');

  // Its claims go unheard for REFUTED_MS, then are heard (and tested) again.
  sync.onResponse('x', lie);
  await settle();
  assert.equal(sync.knownHeight(), 10);
  t.mock.timers.tick(REFUTED_MS);
  sync.onResponse('x', lie);
  await settle();
  assert.equal(sync.knownHeight(), 1_000_000);
  assert.equal(blockRequests().at(-1)!.to, 'x');
  sync.onResponse('x', lieTo(11));
  await settle();
  assert.equal(sync.knownHeight(), 10);

  // An honest claim is served by its claimant: the blocks commit and the claim is reached.
  const server = fakeChain({ height: 13, audited: 13 });
  t.mock.timers.tick(MIN_REQUEST_GAP_MS);
  sync.onResponse('v1', { records: [], tip: 13 });
  await settle();
  const req = blockRequests().at(-1)!;
  assert.equal(req.to, 'v1');
  await new ChainSync(server.ctx).onRequest('c', req.msg.body as SyncRequest);
  sync.onResponse('v1', server.sent.at(-1)!.msg.body as SyncResponse);
  await settle();
  assert.deepEqual(c.committed, [11, 12, 13]);
  assert.equal(sync.knownHeight(), 13);
});

test('a block request answered by a peer other than the claimant, or a claimant that disconnects, does not keep a claim alive', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 100_000 });
  const c = fakeChain({ height: 10, audited: 10 });
  let peers = ['v1', 'x'];
  (c.ctx.host.net as { connectedPeers: () => string[] }).connectedPeers = () => peers;
  const sync = new ChainSync(c.ctx);
  sync.onResponse('x', { records: [], tip: 50 });
  await settle();
  assert.equal(c.sent.at(-1)!.to, 'x');
  // An unrelated answer from 'v1' (say, to an earlier poll) neither withdraws nor confirms the claim.
  sync.onResponse('v1', { records: [], tip: 10 });
  await settle();
  assert.equal(sync.knownHeight(), 50);
  // 'x' goes away before answering: at the next attempt the claim goes with it.
  peers = ['v1'];
  t.mock.timers.tick(STUCK_MS);
  sync.maybeSync();
  assert.equal(sync.knownHeight(), 10);
});
