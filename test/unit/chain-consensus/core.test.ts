import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsensus, getSafetyState, lookupBlock, step, waitingToPropose, type ConsensusState } from '../../../chain/consensus/core.js';
import { timeoutSigningBytes } from '../../../chain/consensus/certificate.js';
import { verifyCommittedChain } from '../../../chain/consensus/sync.js';
import { checkVoteEvidence } from '../../../chain/state/vote-evidence.js';
import type { Block, ConsensusAction, ConsensusEvent, Message, QC, TC } from '../../../chain/consensus/types.js';
import type { Signer } from '../../../chain/consensus/crypto.js';
import { CHAIN, GENESIS_ID, committee, genesis, makeBlock, proposal, qcFor, voteFor } from './helpers.js';

const { signers, members } = committee(4);
const S = (i: number): Signer => signers[i] as Signer;
const outsider = committee(5).signers[4]!;
const g = genesis();
const BASE = 100;

function node(i = 0, extra: Partial<Parameters<typeof createConsensus>[0]> = {}): ConsensusState {
  return createConsensus({ ...CHAIN, members, signer: S(i), genesisId: GENESIS_ID, baseTimeoutMs: BASE, maxTimeoutMs: 10_000, ...extra });
}
class Driver {
  now = 0;
  log: ConsensusAction[] = [];
  constructor(public s: ConsensusState) {}
  ev(e: ConsensusEvent): ConsensusAction[] {
    const r = step(this.s, e);
    this.s = r.state;
    this.log.push(...r.actions);
    return r.actions;
  }
  start(): ConsensusAction[] {
    return this.ev({ type: 'start', now: this.now });
  }
  msg(m: Message, from = S(1).publicKey): ConsensusAction[] {
    return this.ev({ type: 'message', now: this.now, from, msg: m });
  }
  /** Delivers a proposal and answers its validation request with `valid`. */
  propose(b: Block, by: Signer, valid = true, tc?: TC): ConsensusAction[] {
    const acts = this.msg({ ...proposal(b, by), ...(tc ? { tc } : {}) }, by.publicKey);
    const req = acts.find((a) => a.type === 'requestValidation');
    if (!req) return acts;
    return [...acts, ...this.ev({ type: 'validated', now: this.now, blockHash: b.hash, valid })];
  }
}
const rejects = (acts: ConsensusAction[]): string[] => acts.flatMap((a) => (a.type === 'reject' ? [a.reason] : []));
const sent = (acts: ConsensusAction[], type: Message['type']): Message[] =>
  acts.flatMap((a) => ((a.type === 'broadcast' || a.type === 'send') && a.msg.type === type ? [a.msg] : []));
function tcFor(view: number, who: readonly Signer[]): TC {
  return { view, timeouts: who.map((s) => ({ signer: s.publicKey, signature: s.sign(timeoutSigningBytes(CHAIN, view)) })).sort((a, b) => (a.signer < b.signer ? -1 : 1)) };
}

test('start enters view 1 with a timeout; the leader asks for a payload on top of genesis', () => {
  const d = new Driver(node(0));
  const acts = d.start();
  assert.deepEqual(acts.find((a) => a.type === 'schedule'), { type: 'schedule', at: BASE, kind: 'timeout', view: 1 });
  assert.equal(acts.some((a) => a.type === 'requestPayload'), false, 'node 0 is not leader of view 1');
  const l = new Driver(node(1));
  const req = l.start().find((a) => a.type === 'requestPayload');
  assert.ok(req && req.type === 'requestPayload');
  assert.equal(req.parent.hash, g.hash);
  assert.equal(req.height, 1);
  const out = l.ev({ type: 'payloadReady', now: 0, view: 1, parentHash: g.hash, payload: new Uint8Array([1, 2]) });
  const kinds = out.map((a) => a.type);
  assert.ok(kinds.indexOf('persist') >= 0 && kinds.indexOf('persist') < kinds.indexOf('broadcast'), 'persist precedes the signed proposal');
  const p = sent(out, 'proposal')[0];
  assert.ok(p && p.type === 'proposal');
  assert.equal(p.block.height, 1);
  assert.equal(p.block.proposer, S(1).publicKey);
});

test('idleGraceMs lengthens a view timer on entry, from the view justify; timeout re-arms carry no grace', () => {
  const GRACE = 70;
  const seen: string[] = [];
  const d = new Driver(node(0, { idleGraceMs: (qc) => (seen.push(qc.blockHash), qc.blockHash === g.hash ? GRACE : 0) }));
  const timers = (acts: ConsensusAction[]) => acts.filter((a) => a.type === 'schedule' && a.kind === 'timeout');
  assert.deepEqual(timers(d.start()), [{ type: 'schedule', at: BASE + GRACE, kind: 'timeout', view: 1 }], 'view 1 is justified by genesis: grace');
  assert.deepEqual(seen, [g.hash]);
  // View 2, entered through a QC for b1 (the app says b1 gives no grace).
  const b1 = makeBlock(g, g.justify, 1, S(1));
  d.propose(b1, S(1));
  d.now = 40;
  const acts = d.propose(makeBlock(b1, qcFor(b1, [S(0), S(1), S(2)]), 2, S(2)), S(2));
  assert.deepEqual(timers(acts), [{ type: 'schedule', at: 40 + BASE, kind: 'timeout', view: 2 }]);
  assert.equal(seen.at(-1), b1.hash, 'asked with the QC that justifies view 2');
  // The local timeout of view 2 re-arms to resend after one base timeout, without grace.
  d.now = 40 + BASE;
  const re = timers(d.ev({ type: 'timer', now: d.now, kind: 'timeout', view: 2 }));
  assert.deepEqual(re, [{ type: 'schedule', at: 40 + BASE + BASE, kind: 'timeout', view: 2 }]);
});

test('a leader in its block interval builds when the app cuts the wait short, once', () => {
  const l = new Driver(node(1, { blockIntervalMs: 250 }));
  const acts = l.start();
  assert.deepEqual(acts.find((a) => a.type === 'schedule' && a.kind === 'propose'), { type: 'schedule', at: 250, kind: 'propose', view: 1 });
  assert.equal(acts.some((a) => a.type === 'requestPayload'), false, 'waits for the interval');
  assert.equal(waitingToPropose(l.s), 1);
  assert.equal(waitingToPropose(new Driver(node(0, { blockIntervalMs: 250 })).s), null, 'not started');
  const f = new Driver(node(0, { blockIntervalMs: 250 }));
  f.start();
  assert.equal(waitingToPropose(f.s), null, 'node 0 does not lead view 1');
  // The app feeds the propose timer early (at t = 10): the payload is requested now.
  l.now = 10;
  const early = l.ev({ type: 'timer', now: 10, kind: 'propose', view: 1 });
  assert.ok(early.some((a) => a.type === 'requestPayload' && a.view === 1));
  assert.equal(waitingToPropose(l.s), null, 'building: nothing left to cut short');
  assert.equal(l.ev({ type: 'timer', now: 250, kind: 'propose', view: 1 }).some((a) => a.type === 'requestPayload'), false, 'the scheduled timer does not ask again');
  assert.equal(l.ev({ type: 'timer', now: 260, kind: 'propose', view: 7 }).length, 0, 'a timer for another view is ignored');
});

test('a valid proposal is validated, then voted (persist first); an invalid payload is not voted', () => {
  const d = new Driver(node(0));
  d.start();
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const acts = d.propose(b1, S(1));
  const kinds = acts.map((a) => a.type);
  assert.ok(kinds.indexOf('requestValidation') < kinds.indexOf('persist') && kinds.indexOf('persist') < kinds.indexOf('broadcast'));
  const v = sent(acts, 'vote')[0];
  assert.ok(v && v.type === 'vote');
  assert.equal(v.vote.vote.blockHash, b1.hash);
  assert.equal(v.vote.signer, S(0).publicKey);
  assert.equal(d.s.lastVotedView, 1);

  const e = new Driver(node(0));
  e.start();
  const bad = e.propose(b1, S(1), false);
  assert.equal(sent(bad, 'vote').length, 0);
  assert.deepEqual(rejects(bad), ['payload rejected by application']);
});

test('bad proposals are rejected with reasons', () => {
  const d = new Driver(node(0));
  d.start();
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const cases: [Message, string][] = [
    [proposal(makeBlock(g, g.justify, 1, S(2)), S(2)), 'proposer is not the leader of the view'],
    [{ ...proposal(b1, S(1)), signature: proposal(b1, S(2)).signature }, 'bad signature'],
    [proposal({ ...b1, chain: 'shard-9' }, S(1)), 'wrong chain id'],
    [proposal({ ...b1, payload: new Uint8Array([9]) }, S(1)), 'bad payload hash'],
    [proposal({ ...b1, view: 5 }, S(1)), 'bad block hash'],
    [proposal({ ...b1, view: 2 }, S(1)), 'proposer is not the leader of the view'],
    [proposal({ ...b1, height: 7 }, S(1)), 'bad block hash'],
    [proposal(makeBlock(g, g.justify, 1, outsider), outsider), 'proposer not a member'],
    [proposal(makeBlock(b1, qcFor(b1, [S(0), S(1)]), 2, S(2)), S(2)), 'bad QC: only 2 of 3 signatures'],
    [proposal(makeBlock(b1, { ...qcFor(b1, [S(0), S(1), S(2)]), view: 3 }, 2, S(2)), S(2)), 'justify does not certify the parent'],
    [proposal(makeBlock(b1, qcFor(b1, [S(0), S(1), S(2)]), 3, S(3)), S(3)), 'view not justified by a QC or TC of the previous view'],
  ];
  for (const [m, reason] of cases) assert.deepEqual(rejects(d.msg(m)), [reason], reason);
  assert.equal(d.s.lastVotedView, 0, 'nothing was voted');
});

test('bad votes and timeouts are rejected with reasons; old timeouts get a sync reply', () => {
  const d = new Driver(node(0));
  d.start();
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const v = voteFor(S(2), b1);
  assert.deepEqual(rejects(d.msg({ type: 'vote', vote: voteFor(outsider, b1) })), ['signer not a member']);
  assert.deepEqual(rejects(d.msg({ type: 'vote', vote: { ...v, signature: voteFor(S(3), b1).signature } })), ['bad signature']);
  assert.deepEqual(rejects(d.msg({ type: 'vote', vote: { ...v, vote: { ...v.vote, chainId: 'other-net' } } })), ['wrong chain id']);
  assert.deepEqual(rejects(d.msg({ type: 'vote', vote: { ...v, vote: { ...v.vote, view: 5000 } } })), ['view too far ahead']);
  const tmo = { type: 'timeout' as const, view: 1, signer: S(2).publicKey, signature: S(2).sign(timeoutSigningBytes(CHAIN, 2)), highQC: g.justify };
  assert.deepEqual(rejects(d.msg(tmo)), ['bad signature']);
  // Jump to view 5 with a TC for view 4.
  d.msg({ type: 'sync', highQC: g.justify, tc: tcFor(4, [S(1), S(2), S(3)]) });
  assert.equal(d.s.view, 5);
  assert.deepEqual(rejects(d.msg({ type: 'vote', vote: v })), ['old view']);
  assert.deepEqual(rejects(d.msg({ type: 'sync', highQC: g.justify, tc: tcFor(6, [S(1), S(2)]) })), ['bad TC: only 2 of 3 signatures']);
  const reply = d.msg({ type: 'timeout', view: 2, signer: S(3).publicKey, signature: S(3).sign(timeoutSigningBytes(CHAIN, 2)), highQC: g.justify }, S(3).publicKey);
  const sync = reply.find((a) => a.type === 'send');
  assert.ok(sync && sync.type === 'send' && sync.to === S(3).publicKey && sync.msg.type === 'sync' && sync.msg.tc?.view === 4);
});

test('two different votes by one member in one view yield evidence accepted by chain/state', () => {
  const d = new Driver(node(0));
  d.start();
  const a = makeBlock(g, g.justify, 1, S(1), 'a');
  const b = makeBlock(g, g.justify, 1, S(1), 'b');
  d.msg({ type: 'vote', vote: voteFor(S(2), a) });
  d.msg({ type: 'vote', vote: voteFor(S(2), a) });
  assert.equal(d.log.filter((x) => x.type === 'evidence').length, 0, 'a repeated vote is not evidence');
  const acts = d.msg({ type: 'vote', vote: voteFor(S(2), b) });
  const ev = acts.find((x) => x.type === 'evidence');
  assert.ok(ev && ev.type === 'evidence');
  assert.equal(checkVoteEvidence(ev.evidence, CHAIN.chainId), S(2).publicKey);
  // Equivocating leader: two proposals for view 1.
  d.propose(a, S(1));
  const acts2 = d.msg(proposal(b, S(1)), S(1).publicKey);
  const ev2 = acts2.find((x) => x.type === 'evidence');
  assert.ok(ev2 && ev2.type === 'evidence' && ev2.evidence.a.signer === S(1).publicKey);
  assert.equal(sent(acts2, 'vote').length, 0, 'votes once per view');
});

test('votes form a QC and move to the next view; two consecutive certified views commit the first', () => {
  const d = new Driver(node(0));
  d.start();
  const chain: Block[] = [];
  let parent = g;
  let justify: QC = g.justify;
  for (let v = 1; v <= 4; v++) {
    let b = makeBlock(parent, justify, v, S(v % 4));
    if (v % 4 === 0) {
      // Node 0 leads view 4: it formed QC(3) from votes, asks for a payload and proposes itself.
      assert.equal(d.s.view, 4);
      const req = d.log.find((a) => a.type === 'requestPayload' && a.view === 4);
      assert.ok(req && req.type === 'requestPayload' && req.parent.hash === parent.hash);
      const p = sent(d.ev({ type: 'payloadReady', now: 0, view: 4, parentHash: parent.hash, payload: new Uint8Array([4]) }), 'proposal')[0];
      assert.ok(p && p.type === 'proposal' && p.block.justify.view === 3);
      b = p.block;
    } else d.propose(b, S(v % 4));
    chain.push(b);
    const voters = [S(1), S(2), S(3)];
    const acts = voters.flatMap((s) => d.msg({ type: 'vote', vote: voteFor(s, b) }, s.publicKey));
    if (v < 4) assert.ok(acts.some((a) => a.type === 'enterView' && a.view === v + 1 && a.via === 'qc'), `QC(${v}) moves to view ${v + 1}`);
    justify = qcFor(b, voters);
    parent = b;
  }
  // QC(v) certifies block v whose parent has view v-1: block v-1 commits. QC(4) commits block 3.
  const commits = d.log.filter((a) => a.type === 'commit');
  assert.deepEqual(commits.map((c) => (c.type === 'commit' ? c.block.height : -1)), [1, 2, 3]);
  assert.equal(d.s.lockedView, 4, 'the lock is the highest QC');
  const last = commits[2];
  assert.ok(last && last.type === 'commit');
  assert.deepEqual(last.proof.chain.map((h) => h.hash), [chain[3]!.hash], 'the proof is the certified child');
  const ok = verifyCommittedChain(chain.slice(0, 3), members, { ...CHAIN, genesisId: GENESIS_ID, proof: last.proof });
  assert.deepEqual(ok.map((b) => b.hash), [chain[0]!.hash, chain[1]!.hash, chain[2]!.hash]);
  // Without the proof only block 1 is proven: b1 ← b2 certified by b3's justify (b3 has no QC in the list).
  assert.equal(verifyCommittedChain(chain.slice(0, 3), members, { ...CHAIN, genesisId: GENESIS_ID }).length, 1);
});

test('a timeout is resent every base timeout while its view lasts; backoff grows per view given up; a quorum forms a TC; f+1 make a member join', () => {
  const d = new Driver(node(0));
  d.start();
  d.now = BASE;
  let acts = d.ev({ type: 'timer', now: d.now, kind: 'timeout', view: 1 });
  const t = sent(acts, 'timeout')[0];
  assert.ok(t && t.type === 'timeout' && t.view === 1);
  const kinds = acts.map((a) => a.type);
  assert.ok(kinds.indexOf('persist') < kinds.indexOf('broadcast'));
  assert.deepEqual(acts.find((a) => a.type === 'schedule'), { type: 'schedule', at: 2 * BASE, kind: 'timeout', view: 1 }, 'resend after one base timeout');
  d.now = 2 * BASE;
  acts = d.ev({ type: 'timer', now: d.now, kind: 'timeout', view: 1 });
  assert.deepEqual(sent(acts, 'timeout'), [t], 'the same signed timeout, resent');
  assert.equal(acts.some((a) => a.type === 'persist'), false, 'a resend signs nothing new');
  assert.deepEqual(acts.find((a) => a.type === 'schedule'), { type: 'schedule', at: 3 * BASE, kind: 'timeout', view: 1 });
  assert.equal(d.ev({ type: 'timer', now: d.now + 1, kind: 'timeout', view: 1 }).length, 0, 'stale timer ignored');
  const tm = (s: Signer, view: number): Message => ({ type: 'timeout', view, signer: s.publicKey, signature: s.sign(timeoutSigningBytes(CHAIN, view)), highQC: g.justify });
  d.msg(tm(S(1), 1), S(1).publicKey);
  acts = d.msg(tm(S(2), 1), S(2).publicKey);
  assert.ok(acts.some((a) => a.type === 'enterView' && a.view === 2 && a.via === 'tc'));
  assert.deepEqual(acts.find((a) => a.type === 'schedule'), { type: 'schedule', at: d.s.now + 2 * BASE, kind: 'timeout', view: 2 }, 'one view given up: the next waits twice as long');
  assert.equal(d.s.lastTC?.view, 1);

  const j = new Driver(node(3));
  j.start();
  j.msg(tm(S(1), 1), S(1).publicKey);
  assert.equal(j.log.some((a) => a.type === 'broadcast' && a.msg.type === 'timeout'), false, 'one timeout is not enough');
  acts = j.msg(tm(S(2), 1), S(2).publicKey);
  assert.ok(sent(acts, 'timeout').some((m) => m.type === 'timeout' && m.signer === S(3).publicKey), 'f+1 = 2 timeouts: join');
  assert.ok(acts.some((a) => a.type === 'enterView' && a.view === 2), 'own timeout completed the TC');
});

test('f+1 timeouts for a view ahead move a member there and make it time out: members that resumed in different views meet', () => {
  const tm = (s: Signer, view: number): Message => ({ type: 'timeout', view, signer: s.publicKey, signature: s.sign(timeoutSigningBytes(CHAIN, view)), highQC: g.justify });
  // Members 2 and 3 gave up on view 5 before a restart and resume in view 6; member 0 resumes in 5.
  const behind = new Driver(node(0, { restore: { committed: g, committedQC: g.justify, safety: { lastVotedView: 0, lockedView: 0, lastTimeoutView: 4, highQC: g.justify } } }));
  assert.ok(behind.start().some((a) => a.type === 'enterView' && a.view === 5));
  let acts = behind.msg(tm(S(2), 6), S(2).publicKey);
  assert.equal(behind.s.view, 5, 'one timeout for a later view moves nobody');
  assert.equal(sent(acts, 'timeout').length, 0);
  acts = behind.msg(tm(S(3), 6), S(3).publicKey);
  assert.ok(acts.some((a) => a.type === 'enterView' && a.view === 6 && a.via === 'timeouts'), 'f+1 = 2: enter view 6');
  const own = sent(acts, 'timeout');
  assert.ok(own.length === 1 && own[0]!.type === 'timeout' && own[0]!.view === 6 && own[0]!.signer === S(0).publicKey, 'and time out in it');
  assert.equal(behind.s.lastTimeoutView, 6);
  assert.ok(acts.some((a) => a.type === 'enterView' && a.view === 7 && a.via === 'tc'), 'its own timeout completed the TC of view 6');
  assert.equal(behind.s.lastTC?.view, 6);
});

test('the lock (highest QC seen) forbids voting below it; the refusing member hands its QC to the next leader', () => {
  const d = new Driver(node(0));
  d.start();
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const q1 = qcFor(b1, [S(1), S(2), S(3)]);
  const b2 = makeBlock(b1, q1, 2, S(2));
  const q2 = qcFor(b2, [S(1), S(2), S(3)]);
  const b3 = makeBlock(b2, q2, 3, S(3));
  d.propose(b1, S(1));
  d.propose(b2, S(2));
  assert.equal(d.s.lockedView, 1, 'QC(b1), carried by b2, locks view 1');
  // A TC for views 2..5 moves it on; the leader of view 6 re-proposes on QC(b1): at the lock, votable.
  d.msg({ type: 'sync', highQC: q1, tc: tcFor(5, [S(1), S(2), S(3)]) });
  assert.equal(d.s.view, 6);
  const fork = makeBlock(b1, q1, 6, S(2), 'fork');
  const acts = d.propose(fork, S(2), true, tcFor(5, [S(1), S(2), S(3)]));
  assert.equal(acts.some((a) => a.type === 'requestValidation'), true, 'justify view 1 ≥ locked 1: votable');
  assert.equal(sent(acts, 'vote').length, 1);
  // Having seen QC(b2) (in b3), the lock is 2: the same fork is refused, and the next leader gets QC(b2).
  const e = new Driver(node(0));
  e.start();
  e.propose(b1, S(1));
  e.propose(b2, S(2));
  e.propose(b3, S(3));
  assert.equal(e.s.lockedView, 2);
  e.msg({ type: 'sync', highQC: q2, tc: tcFor(5, [S(1), S(2), S(3)]) });
  assert.equal(e.s.view, 6);
  const acts2 = e.propose(fork, S(2), true, tcFor(5, [S(1), S(2), S(3)]));
  assert.equal(acts2.some((a) => a.type === 'requestValidation'), false);
  assert.equal(sent(acts2, 'vote').length, 0);
  const hint = acts2.find((a) => a.type === 'send' && a.msg.type === 'sync');
  assert.ok(hint && hint.type === 'send' && hint.to === S(3).publicKey && hint.msg.type === 'sync' && hint.msg.highQC.view === 2, 'QC(b2) sent to the leader of view 7');
  assert.equal(e.propose(fork, S(2), true, tcFor(5, [S(1), S(2), S(3)])).some((a) => a.type === 'send' && a.msg.type === 'sync'), false, 'once per view');
});

test('a proposal with an unknown parent triggers a block fetch, then the vote', () => {
  const d = new Driver(node(0));
  d.start();
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const q1 = qcFor(b1, [S(1), S(2), S(3)]);
  const b2 = makeBlock(b1, q1, 2, S(2));
  let acts = d.propose(b2, S(2));
  const req = acts.find((a) => a.type === 'send' && a.msg.type === 'blockRequest');
  assert.ok(req && req.type === 'send' && req.to === S(2).publicKey && req.msg.type === 'blockRequest' && req.msg.hash === b1.hash);
  assert.equal(sent(acts, 'vote').length, 0);
  assert.deepEqual(rejects(d.msg({ type: 'blockResponse', block: makeBlock(g, g.justify, 1, S(1), 'x') }, S(2).publicKey)), ['unsolicited block']);
  acts = d.msg({ type: 'blockResponse', block: b1 }, S(2).publicKey);
  const val = acts.find((a) => a.type === 'requestValidation');
  assert.ok(val && val.type === 'requestValidation' && val.block.hash === b2.hash);
  acts = d.ev({ type: 'validated', now: 0, blockHash: b2.hash, valid: true });
  assert.equal(sent(acts, 'vote').length, 1);
  // And it serves blocks it has.
  const served = d.msg({ type: 'blockRequest', hash: b1.hash }, S(3).publicKey);
  assert.ok(served.some((a) => a.type === 'send' && a.to === S(3).publicKey && a.msg.type === 'blockResponse' && a.msg.block.hash === b1.hash));
});

test('restored safety state prevents voting again in an already voted view', () => {
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const d = new Driver(node(0, { restore: { committed: g, committedQC: g.justify, safety: { lastVotedView: 1, lockedView: 0, lastTimeoutView: 0, highQC: g.justify } } }));
  const acts = d.start();
  assert.ok(acts.some((a) => a.type === 'enterView' && a.view === 2));
  assert.equal(sent(d.propose(b1, S(1)), 'vote').length, 0);
});

test('the stored safety state carries the certified chain: a whole group restarted builds on its highest QC', () => {
  const b1 = makeBlock(g, g.justify, 1, S(1));
  const d = new Driver(node(0));
  d.start();
  d.propose(b1, S(1));
  for (const i of [1, 2, 3]) d.msg({ type: 'vote', vote: voteFor(S(i), b1) }, S(i).publicKey);
  assert.equal(d.s.highQC.blockHash, b1.hash);
  const safety = getSafetyState(d.s);
  assert.deepEqual(safety.certified?.map((b) => b.hash), [b1.hash], 'b1 is certified, not committed');
  // Every member restarts from such a state: the leader of view 2 builds on b1 at once.
  const leader2 = new Driver(node(2, { restore: { committed: g, committedQC: g.justify, safety } }));
  let acts = leader2.start();
  const req = acts.find((a) => a.type === 'requestPayload');
  assert.ok(req && req.type === 'requestPayload' && req.parent.hash === b1.hash && req.height === 2);
  assert.equal(sent(acts, 'blockRequest').length, 0);
  // Without it (a state stored before `certified` was kept) nobody holds b1 and the leader can only ask for it.
  const { certified: _dropped, ...old } = safety;
  const blind = new Driver(node(2, { restore: { committed: g, committedQC: g.justify, safety: old } }));
  acts = blind.start();
  assert.equal(acts.some((a) => a.type === 'requestPayload'), false);
  assert.ok(sent(acts, 'blockRequest').length > 0);
  // Blocks at or below the committed height are not restored.
  const past = new Driver(node(2, { restore: { committed: b1, committedQC: d.s.highQC, safety } }));
  past.start();
  assert.equal(lookupBlock(past.s, b1.hash), b1, 'only as the committed block itself');
  assert.equal(getSafetyState(past.s).certified, undefined);
});

test('observers (no key) follow and commit without signing anything', () => {
  const d = new Driver(createConsensus({ ...CHAIN, members, genesisId: GENESIS_ID }));
  d.start();
  let parent = g;
  let justify: QC = g.justify;
  for (let v = 1; v <= 4; v++) {
    const b = makeBlock(parent, justify, v, S(v % 4));
    d.msg(proposal(b, S(v % 4)), S(v % 4).publicKey);
    justify = qcFor(b, [S(1), S(2), S(3)]);
    parent = b;
  }
  // QC(2) and QC(3) arrive inside b3 and b4: blocks 1 and 2 commit (QC(4) was never sent).
  assert.deepEqual(d.log.filter((a) => a.type === 'commit').map((a) => (a.type === 'commit' ? a.block.height : 0)), [1, 2]);
  assert.equal(d.log.some((a) => a.type === 'broadcast' || a.type === 'persist' || a.type === 'requestValidation'), false);
});
