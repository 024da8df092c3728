/**
 * Committee handover in the pure core: a new group's core anchored at the last block of the
 * previous period (whose QC is the old group's) starts at the period's first view; the first
 * block may jump to that view on the anchor's QC; everything after is verified against the new
 * group only (old-group QCs and rotated-out members' votes are refused); the new group commits
 * with a proof that verifies against the new group and not against the old one. At the beacon
 * (which learns its next committee only by committing the period's last height), the old core's
 * provisional blocks above that height are never committed; the new group's block is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createConsensus, step, type ConsensusState } from '../../../chain/consensus/core.js';
import { verifyContext } from '../../../chain/consensus/certificate.js';
import type { Block, ConsensusAction, ConsensusEvent, Message, QC } from '../../../chain/consensus/types.js';
import type { Signer } from '../../../chain/consensus/crypto.js';
import { commitProofError } from '../../../chain/node/commit-proof.js';
import { VIEW_EPOCH_STRIDE } from '../../../chain/node/epochs.js';
import { CHAIN, GENESIS_ID, committee, genesis, makeBlock, proposal, qcFor, voteFor } from './helpers.js';

// Five keys: the old group is 0..3, the new group is 1..4 (0 rotated out, 4 elected).
const { signers } = committee(5);
const K = (i: number): Signer => signers[i]!;
const oldGroup = [0, 1, 2, 3].map(K);
const newGroup = [1, 2, 3, 4].map(K);
const newMembers = newGroup.map((s) => s.publicKey);
const F = 1 * VIEW_EPOCH_STRIDE;

/** The old period's chain: genesis ← b1 ← b2 (= anchor E), certified by the old group. */
function oldChain(): { anchor: Block; anchorQC: QC } {
  const g = genesis();
  const b1 = makeBlock(g, g.justify, 1, oldGroup[1]!);
  const q1 = qcFor(b1, oldGroup.slice(0, 3));
  const b2 = makeBlock(b1, q1, 2, oldGroup[2]!);
  return { anchor: b2, anchorQC: qcFor(b2, oldGroup.slice(1, 4)) };
}

class Driver {
  log: ConsensusAction[] = [];
  constructor(public s: ConsensusState) {}
  ev(e: ConsensusEvent): ConsensusAction[] {
    const r = step(this.s, e);
    this.s = r.state;
    this.log.push(...r.actions);
    return r.actions;
  }
  msg(m: Message, from: string): ConsensusAction[] {
    return this.ev({ type: 'message', now: 0, from, msg: m });
  }
  propose(b: Block, by: Signer): ConsensusAction[] {
    const acts = this.msg(proposal(b, by), by.publicKey);
    const req = acts.find((a) => a.type === 'requestValidation');
    return req ? [...acts, ...this.ev({ type: 'validated', now: 0, blockHash: b.hash, valid: true })] : acts;
  }
}
const rejects = (acts: ConsensusAction[]): string[] => acts.flatMap((a) => (a.type === 'reject' ? [a.reason] : []));
const votes = (acts: ConsensusAction[]): number => acts.filter((a) => a.type === 'broadcast' && a.msg.type === 'vote').length;

function newCore(self: Signer, anchor: Block, anchorQC: QC): Driver {
  const d = new Driver(
    createConsensus({
      ...CHAIN,
      members: newMembers,
      signer: self,
      genesisId: GENESIS_ID,
      baseTimeoutMs: 100,
      firstView: F,
      restore: { committed: anchor, committedQC: anchorQC, safety: { lastVotedView: 0, lockedView: 0, highQC: anchorQC, lastTimeoutView: 0 } },
    }),
  );
  d.ev({ type: 'start', now: 0 });
  return d;
}

test('handover: the new core starts at the period first view; its first block jumps there on the old group\'s anchor QC', () => {
  const { anchor, anchorQC } = oldChain();
  const d = newCore(K(2), anchor, anchorQC);
  assert.equal(d.s.view, F);
  const leader = newMembers[F % 4]!;
  const acts = d.propose(makeBlock(anchor, anchorQC, F, signers.find((s) => s.publicKey === leader)!), signers.find((s) => s.publicKey === leader)!);
  assert.deepEqual(rejects(acts), []);
  assert.equal(votes(acts), 1, 'a new member votes for the first block of its period');
});

test('handover: the view jump is allowed once (first view, on the anchor); later views need a QC or TC of the previous view', () => {
  const { anchor, anchorQC } = oldChain();
  const d = newCore(K(2), anchor, anchorQC);
  const l1 = newGroup.find((s) => s.publicKey === newMembers[(F + 1) % 4])!;
  const acts = d.propose(makeBlock(anchor, anchorQC, F + 1, l1), l1);
  assert.ok(rejects(acts).some((r) => r.includes('not justified')), rejects(acts).join());
});

test('handover: a forged anchor QC (other view) or an old-group QC for a non-anchor block is refused', () => {
  const { anchor, anchorQC } = oldChain();
  const d = newCore(K(2), anchor, anchorQC);
  const leader = newGroup.find((s) => s.publicKey === newMembers[F % 4])!;
  const forged: QC = { ...anchorQC, view: anchorQC.view + 7, votes: [] };
  const a1 = d.msg({ type: 'sync', highQC: forged }, leader.publicKey);
  assert.ok(rejects(a1).some((r) => r.startsWith('bad QC')), 'forged anchor QC');
  // The old group certifying a block above the anchor: not the new group's QC.
  const b3 = makeBlock(anchor, anchorQC, F, leader);
  const oldQC = qcFor(b3, [K(0), K(1), K(2)]);
  const a2 = d.msg({ type: 'sync', highQC: oldQC }, leader.publicKey);
  assert.ok(rejects(a2).some((r) => r.includes('not a member')), rejects(a2).join());
});

test('handover: a rotated-out member\'s vote is refused and never counts toward a QC', () => {
  const { anchor, anchorQC } = oldChain();
  const d = newCore(K(2), anchor, anchorQC);
  const leader = newGroup.find((s) => s.publicKey === newMembers[F % 4])!;
  const b = makeBlock(anchor, anchorQC, F, leader);
  d.propose(b, leader); // leader's vote + ours = 2 of quorum 3
  const a = d.msg({ type: 'vote', vote: voteFor(K(0), b) }, K(0).publicKey);
  assert.ok(rejects(a).some((r) => r === 'signer not a member'));
  assert.equal(d.s.view, F, 'no QC formed from the rotated-out vote');
  const third = newGroup.find((s) => s !== leader && s !== K(2))!;
  d.msg({ type: 'vote', vote: voteFor(third, b) }, third.publicKey);
  assert.equal(d.s.view, F + 1, 'a quorum of the new group certifies the block');
});

test('handover: two new-period blocks commit the first; its proof verifies against the new group only (property over vote subsets)', () => {
  const { anchor, anchorQC } = oldChain();
  const oldCtx = verifyContext(CHAIN, oldGroup.map((s) => s.publicKey), genesis().hash);
  const newCtx = verifyContext(CHAIN, newMembers, genesis().hash);
  fc.assert(
    fc.property(fc.array(fc.subarray([0, 1, 2, 3], { minLength: 3, maxLength: 4 }), { minLength: 2, maxLength: 2 }), (subsets) => {
      const d = newCore(K(1), anchor, anchorQC);
      const leaderOf = (v: number): Signer => newGroup.find((s) => s.publicKey === newMembers[v % 4])!;
      const b1 = makeBlock(anchor, anchorQC, F, leaderOf(F));
      const q1 = qcFor(b1, subsets[0]!.map((i) => newGroup[i]!));
      const b2 = makeBlock(b1, q1, F + 1, leaderOf(F + 1));
      const q2 = qcFor(b2, subsets[1]!.map((i) => newGroup[i]!));
      d.propose(b1, leaderOf(F));
      d.propose(b2, leaderOf(F + 1));
      assert.equal(d.log.some((a) => a.type === 'commit'), false, 'QC(b1) alone commits nothing: the anchor is not b1\'s previous view');
      d.msg({ type: 'sync', highQC: q2 }, leaderOf(F + 1).publicKey);
      const commits = d.log.filter((a): a is Extract<ConsensusAction, { type: 'commit' }> => a.type === 'commit');
      assert.equal(commits.length, 1);
      const c = commits[0]!;
      assert.equal(c.block.hash, b1.hash);
      assert.equal(commitProofError(c.block, c.qc, c.proof, CHAIN.chainId, CHAIN.chain, newCtx), null);
      // Member 4 (new) signs in every subset that has index 3; the old group rejects such a proof.
      const withNewcomer = [c.qc, c.proof.qc].some((q) => q.votes.some((v) => v.signer === K(4).publicKey));
      if (withNewcomer) assert.notEqual(commitProofError(c.block, c.qc, c.proof, CHAIN.chainId, CHAIN.chain, oldCtx), null);
    }),
    { numRuns: 25 },
  );
});

test('handover at the beacon: the old core\'s provisional blocks above the anchor are never committed; the new group commits its own block at that height', () => {
  // Old group 0..3 builds b1 … b3 in consecutive views; b2 is the period's last height E (the
  // beacon learns that only on committing b2), b3 is a provisional block with a payload.
  const oldMembers = oldGroup.map((s) => s.publicKey);
  const old = new Driver(createConsensus({ ...CHAIN, members: oldMembers, signer: K(1), genesisId: GENESIS_ID, baseTimeoutMs: 100 }));
  old.ev({ type: 'start', now: 0 });
  const lead = (v: number): Signer => oldGroup[v % 4]!;
  const g = genesis();
  const b1 = makeBlock(g, g.justify, 1, lead(1));
  const b2 = makeBlock(b1, qcFor(b1, oldGroup.slice(0, 3)), 2, lead(2));
  const b3 = makeBlock(b2, qcFor(b2, oldGroup.slice(1, 4)), 3, lead(3), 'provisional-3');
  for (const b of [b1, b2, b3]) old.propose(b, lead(b.view));
  old.msg({ type: 'sync', highQC: qcFor(b3, oldGroup.slice(0, 3)) }, lead(3).publicKey);
  const oldCommits = old.log.filter((a): a is Extract<ConsensusAction, { type: 'commit' }> => a.type === 'commit');
  assert.deepEqual(oldCommits.map((c) => c.block.height), [1, 2], 'the 2-chain commits E = b2 only; b3 stays uncommitted');
  const anchorCommit = oldCommits[1]!;
  assert.equal(anchorCommit.qc.blockHash, b2.hash, 'E commits with its own (old-group) QC');

  // The runtime drops the old core here; the new group's core is anchored at E with that QC.
  const d = newCore(K(2), b2, anchorCommit.qc);
  const leaderOf = (v: number): Signer => newGroup.find((s) => s.publicKey === newMembers[v % 4])!;
  // The old group's provisional b3 (an old view) is refused by the new core.
  assert.ok(rejects(d.propose(b3, lead(3))).some((r) => r.includes('old view')), 'the provisional block is not voted by the new period');
  const n3 = makeBlock(b2, anchorCommit.qc, F, leaderOf(F), 'new-3');
  const n4 = makeBlock(n3, qcFor(n3, newGroup.slice(0, 3)), F + 1, leaderOf(F + 1));
  for (const b of [n3, n4]) assert.deepEqual(rejects(d.propose(b, leaderOf(b.view))), []);
  d.msg({ type: 'sync', highQC: qcFor(n4, newGroup.slice(1, 4)) }, leaderOf(F + 1).publicKey);
  const commits = d.log.filter((a): a is Extract<ConsensusAction, { type: 'commit' }> => a.type === 'commit');
  assert.deepEqual(commits.map((c) => c.block.hash), [n3.hash], 'height 3 commits the new group\'s block');
  assert.notEqual(n3.hash, b3.hash);
  const newCtx = verifyContext(CHAIN, newMembers, genesis().hash);
  assert.equal(commitProofError(commits[0]!.block, commits[0]!.qc, commits[0]!.proof, CHAIN.chainId, CHAIN.chain, newCtx), null);
  // E's commit proof (b3's header + the old QC) verifies against the old group, not the new one.
  const oldCtx = verifyContext(CHAIN, oldMembers, genesis().hash);
  assert.equal(commitProofError(b2, anchorCommit.qc, anchorCommit.proof, CHAIN.chainId, CHAIN.chain, oldCtx), null);
});
