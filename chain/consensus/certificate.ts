/** Signed byte formats, block hashing, and certificate verification (QC, TC, generic Certificate). */
import { canonicalBytes, sha256Hex } from './encoding.js';
import { VerifyCache, type Signer } from './crypto.js';
import { consensusVoteSigningBytes } from '../state/vote-evidence.js';
import { quorumSize, type Block, type BlockHeader, type ConsensusVote, type QC, type SignatureShare, type SignedVote, type TC } from './types.js';

/** Which committee chain a signature belongs to: network id + chain name ('beacon' | 'shard-<i>'). */
const sharedCache = new VerifyCache();

export interface ChainRef {
  readonly chainId: string;
  readonly chain: string;
}

/** Bytes a member signs to vote: chain/state's consensusVoteSigningBytes (one format for voting and slashing). */
export function voteSigningBytes(v: ConsensusVote): Uint8Array {
  return consensusVoteSigningBytes(v);
}

export const TIMEOUT_TAG = 'topvpn/consensus-timeout/v1';
export const BLOCK_TAG = 'topvpn/consensus-block/v1';
export const GENESIS_TAG = 'topvpn/consensus-genesis/v1';
export const CERTIFICATE_TAG = 'topvpn/certificate/v1';

/** Bytes a member signs when its view times out: canonical({type:TIMEOUT_TAG, chainId, chain, view}). */
export function timeoutSigningBytes(ref: ChainRef, view: number): Uint8Array {
  return canonicalBytes({ type: TIMEOUT_TAG, chainId: ref.chainId, chain: ref.chain, view });
}

export function signVote(signer: Signer, v: ConsensusVote): SignedVote {
  const vote = { chainId: v.chainId, chain: v.chain, height: v.height, view: v.view, blockHash: v.blockHash };
  return { vote, signer: signer.publicKey, signature: signer.sign(voteSigningBytes(vote)) };
}

/** True iff the vote's signature is valid (membership is checked by the caller). */
export function verifyVoteSignature(v: SignedVote, cache: VerifyCache = sharedCache): boolean {
  return cache.verify(v.signer, voteSigningBytes(v.vote), v.signature);
}

/** Hash of a block header: sha256(canonical({type:BLOCK_TAG, chainId, chain, height, view, parentHash, justify:{height,view,blockHash}, proposer, payloadHash})). */
export function blockHash(h: Omit<BlockHeader, 'hash'>): string {
  return sha256Hex(
    canonicalBytes({
      type: BLOCK_TAG,
      chainId: h.chainId,
      chain: h.chain,
      height: h.height,
      view: h.view,
      parentHash: h.parentHash,
      justify: { height: h.justify.height, view: h.justify.view, blockHash: h.justify.blockHash },
      proposer: h.proposer,
      payloadHash: h.payloadHash,
    }),
  );
}

/** Genesis block hash of a chain: sha256(canonical({type:GENESIS_TAG, chainId, chain, genesisId})). */
export function genesisHash(ref: ChainRef, genesisId: string): string {
  return sha256Hex(canonicalBytes({ type: GENESIS_TAG, chainId: ref.chainId, chain: ref.chain, genesisId }));
}

export function genesisQC(genesis: string): QC {
  return { height: 0, view: 0, blockHash: genesis, votes: [] };
}

/** The genesis block (height 0, view 0, empty payload); its justify is the genesis QC pointing at itself. */
export function genesisBlock(ref: ChainRef, genesisId: string): Block {
  const hash = genesisHash(ref, genesisId);
  const zero = '00'.repeat(32);
  return { chainId: ref.chainId, chain: ref.chain, height: 0, view: 0, parentHash: zero, justify: genesisQC(hash), proposer: zero, payloadHash: sha256Hex(new Uint8Array(0)), hash, payload: new Uint8Array(0) };
}

export interface VerifyContext extends ChainRef {
  readonly members: ReadonlySet<string>;
  readonly quorum: number;
  readonly genesisHash: string;
  readonly cache: VerifyCache;
}

export function verifyContext(ref: ChainRef, members: readonly string[], genesis: string, cache = new VerifyCache()): VerifyContext {
  return { chainId: ref.chainId, chain: ref.chain, members: new Set(members), quorum: quorumSize(members.length), genesisHash: genesis, cache };
}

/** Checks shares: sorted, distinct, members, ≥ threshold, each signature valid over `bytes`. Returns a reason or null. */
export function sharesError(shares: readonly SignatureShare[], members: ReadonlySet<string>, threshold: number, bytes: Uint8Array, cache: VerifyCache): string | null {
  if (shares.length < threshold) return `only ${shares.length} of ${threshold} signatures`;
  let prev = '';
  for (const s of shares) {
    if (s.signer <= prev) return 'signers not sorted and distinct';
    prev = s.signer;
    if (!members.has(s.signer)) return 'signer not a member';
  }
  for (const s of shares) if (!cache.verify(s.signer, bytes, s.signature)) return 'bad signature';
  return null;
}

/** Reason the QC is invalid, or null. The genesis QC (view 0, no votes) is valid only for the genesis hash. */
export function qcError(qc: QC, ctx: VerifyContext): string | null {
  if (qc.view === 0) return qc.blockHash === ctx.genesisHash && qc.height === 0 && qc.votes.length === 0 ? null : 'bad genesis QC';
  if (qc.height < 1) return 'QC height < 1';
  return sharesError(qc.votes, ctx.members, ctx.quorum, voteSigningBytes({ chainId: ctx.chainId, chain: ctx.chain, height: qc.height, view: qc.view, blockHash: qc.blockHash }), ctx.cache);
}

export function tcError(tc: TC, ctx: VerifyContext): string | null {
  if (tc.view < 1) return 'TC view < 1';
  return sharesError(tc.timeouts, ctx.members, ctx.quorum, timeoutSigningBytes(ctx, tc.view), ctx.cache);
}

/** Build a QC from distinct valid votes for one block (caller ensures count ≥ quorum). */
export function makeQC(votes: readonly SignedVote[]): QC {
  const first = votes[0];
  if (!first) throw new RangeError('no votes');
  const shares = votes.map((v) => ({ signer: v.signer, signature: v.signature })).sort((a, b) => (a.signer < b.signer ? -1 : 1));
  return { height: first.vote.height, view: first.vote.view, blockHash: first.vote.blockHash, votes: shares };
}

// ---- generic finality certificate (validator group or auditor group) ----

export type CertificateKind = 'validate' | 'audit';

export interface CertificateSubject extends ChainRef {
  readonly height: number;
  readonly blockHash: string;
  readonly kind: CertificateKind;
}

/** signers[i] signed canonical({type:CERTIFICATE_TAG, chainId, chain, height, blockHash, kind}) giving signatures[i]. */
export interface Certificate extends CertificateSubject {
  readonly signers: readonly string[];
  readonly signatures: readonly string[];
}

export function certificateSigningBytes(s: CertificateSubject): Uint8Array {
  return canonicalBytes({ type: CERTIFICATE_TAG, chainId: s.chainId, chain: s.chain, height: s.height, blockHash: s.blockHash, kind: s.kind });
}

export function signCertificateShare(signer: Signer, s: CertificateSubject): SignatureShare {
  return { signer: signer.publicKey, signature: signer.sign(certificateSigningBytes(s)) };
}

/** Assemble a certificate from shares (deduplicated, sorted by signer). */
export function makeCertificate(s: CertificateSubject, shares: readonly SignatureShare[]): Certificate {
  const bySigner = new Map<string, string>();
  for (const sh of shares) if (!bySigner.has(sh.signer)) bySigner.set(sh.signer, sh.signature);
  const signers = [...bySigner.keys()].sort();
  return { chainId: s.chainId, chain: s.chain, height: s.height, blockHash: s.blockHash, kind: s.kind, signers, signatures: signers.map((k) => bySigner.get(k) as string) };
}

/** Reason the certificate is invalid for `group` (member keys) at `threshold` (default ⌊2n/3⌋+1), or null. */
export function certificateError(cert: Certificate, group: readonly string[], threshold = quorumSize(group.length), cache = sharedCache): string | null {
  if (cert.signers.length !== cert.signatures.length) return 'signers/signatures length mismatch';
  const shares = cert.signers.map((signer, i) => ({ signer, signature: cert.signatures[i] as string }));
  return sharesError(shares, new Set(group), threshold, certificateSigningBytes(cert), cache);
}

export function verifyCertificate(cert: Certificate, group: readonly string[], threshold = quorumSize(group.length)): boolean {
  return certificateError(cert, group, threshold) === null;
}

