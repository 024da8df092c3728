/** Public API of the consensus core (see core.ts for the protocol). */
export { createConsensus, step, leaderOf, waitingToPropose, getSafetyState, lookupBlock, headerOf, SafetyViolationError } from './core.js';
export type { ConsensusConfig, ConsensusState, StepResult } from './core.js';
export * from './types.js';
export {
  voteSigningBytes,
  timeoutSigningBytes,
  certificateSigningBytes,
  signVote,
  verifyVoteSignature,
  blockHash,
  genesisHash,
  genesisBlock,
  genesisQC,
  makeQC,
  qcError,
  tcError,
  verifyContext,
  signCertificateShare,
  makeCertificate,
  certificateError,
  verifyCertificate,
} from './certificate.js';
export type { ChainRef, VerifyContext, Certificate, CertificateKind, CertificateSubject } from './certificate.js';
export { encodeMessage, decodeMessage, messageValue, decodeMessageValue, MalformedMessageError, MAX_MESSAGE_BYTES } from './messages.js';
export { createSigner, generateKey, verifySignature, signatureVerifications, VerifyCache } from './crypto.js';
export type { Signer } from './crypto.js';
export { verifyCommittedChain, ChainVerificationError } from './sync.js';
export type { VerifyChainOptions } from './sync.js';
export { roundRobinLeader, stakeWeightedLeader } from './leader.js';
