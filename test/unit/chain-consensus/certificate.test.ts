import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  certificateError,
  makeCertificate,
  qcError,
  signCertificateShare,
  tcError,
  timeoutSigningBytes,
  verifyCertificate,
  verifyContext,
} from '../../../chain/consensus/certificate.js';
import { VerifyCache } from '../../../chain/consensus/crypto.js';
import { quorumSize } from '../../../chain/consensus/types.js';
import { CHAIN, committee, genesis, makeBlock, qcFor } from './helpers.js';

const { signers, members } = committee(4);
const outsider = committee(5).signers[4]!;
const g = genesis();
const b1 = makeBlock(g, g.justify, 1, signers[1]!);

test('quorum is floor(2n/3)+1', () => {
  assert.deepEqual([1, 3, 4, 6, 7, 10, 100].map(quorumSize), [1, 3, 3, 5, 5, 7, 67]);
});

test('QC verification: quorum of distinct members with valid signatures', () => {
  const ctx = verifyContext(CHAIN, members, g.hash);
  assert.equal(qcError(qcFor(b1, signers.slice(0, 3)), ctx), null);
  assert.equal(qcError(g.justify, ctx), null, 'genesis QC');
  assert.match(qcError({ ...g.justify, blockHash: b1.hash }, ctx) ?? '', /genesis/);
  assert.match(qcError(qcFor(b1, signers.slice(0, 2)), ctx) ?? '', /only 2 of 3/);
  const q = qcFor(b1, signers.slice(0, 3));
  assert.match(qcError({ ...q, votes: [q.votes[0]!, q.votes[0]!, q.votes[1]!] }, ctx) ?? '', /sorted and distinct/);
  assert.match(qcError(qcFor(b1, [signers[0]!, signers[1]!, outsider]), ctx) ?? '', /not a member/);
  assert.match(qcError({ ...q, view: 2 }, ctx) ?? '', /bad signature/, 'signatures bind the view');
  const other = verifyContext({ ...CHAIN, chain: 'shard-1' }, members, g.hash);
  assert.match(qcError(q, other) ?? '', /bad signature/, 'signatures bind the chain');
});

test('TC verification', () => {
  const ctx = verifyContext(CHAIN, members, g.hash);
  const shares = signers.slice(0, 3).map((s) => ({ signer: s.publicKey, signature: s.sign(timeoutSigningBytes(CHAIN, 5)) })).sort((a, b) => (a.signer < b.signer ? -1 : 1));
  assert.equal(tcError({ view: 5, timeouts: shares }, ctx), null);
  assert.match(tcError({ view: 6, timeouts: shares }, ctx) ?? '', /bad signature/);
  assert.match(tcError({ view: 5, timeouts: shares.slice(1) }, ctx) ?? '', /only 2/);
});

test('generic Certificate for validator and auditor groups', () => {
  const auditors = committee(7).signers.slice(4);
  const subject = { ...CHAIN, height: 9, blockHash: b1.hash, kind: 'audit' as const };
  const auditorKeys = auditors.map((s) => s.publicKey);
  const cert = makeCertificate(subject, auditors.map((s) => signCertificateShare(s, subject)));
  assert.equal(verifyCertificate(cert, auditorKeys), true);
  assert.equal(verifyCertificate(cert, members), false, 'wrong group');
  assert.match(certificateError({ ...cert, kind: 'validate' }, auditorKeys) ?? '', /bad signature/, 'kind is signed');
  const two = makeCertificate(subject, auditors.slice(0, 2).map((s) => signCertificateShare(s, subject)));
  assert.equal(verifyCertificate(two, auditorKeys), false, '2 of 3 below quorum 3');
  assert.equal(verifyCertificate(two, auditorKeys, 2), true, 'explicit threshold');
  assert.match(certificateError({ ...cert, signatures: cert.signatures.slice(1) }, auditorKeys) ?? '', /length mismatch/);
  const dup = makeCertificate(subject, [...auditors.map((s) => signCertificateShare(s, subject)), signCertificateShare(auditors[0]!, subject)]);
  assert.equal(dup.signers.length, 3, 'duplicates collapse');
});

test('VerifyCache verifies each (signer, message, signature) once', () => {
  const cache = new VerifyCache();
  const ctx = verifyContext(CHAIN, members, g.hash, cache);
  const q = qcFor(b1, signers.slice(0, 3));
  qcError(q, ctx);
  qcError(q, ctx);
  assert.equal(cache.misses, 3);
  assert.equal(cache.hits, 3);
  const forged = { ...q, votes: q.votes.map((v, i) => (i === 0 ? { ...v, signature: q.votes[1]!.signature } : v)) };
  assert.match(qcError(forged, ctx) ?? '', /bad signature/, 'a valid signature of another signer is not accepted from cache');
});
