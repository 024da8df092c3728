/**
 * Codec for consensus messages, in two forms with one validation:
 * - encodeMessage / decodeMessage: canonical JSON bytes (block payload as hex), self-contained;
 * - messageValue / decodeMessageValue: the structured value with the payload as raw bytes, for
 *   an envelope that carries byte strings out of band (the node's p2p wire, chain/node/wire.ts
 *   packValue): a proposal then costs its payload's size on the wire, not twice that in hex.
 * Both decoders validate every field; signatures are checked by the core, not here.
 */
import { canonicalBytes, fromHex, isHex, type CanonicalValue } from './encoding.js';
import type { Block, BlockHeader, Message, QC, SignatureShare, SignedVote, TC } from './types.js';

export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError';
}

/** Largest accepted encoded message (a block with its payload). */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
const MAX_SHARES = 1024;
const MAX_CHAIN_ID = 64;

function qcValue(qc: QC): CanonicalValue {
  return { height: qc.height, view: qc.view, blockHash: qc.blockHash, votes: qc.votes.map((s) => ({ signer: s.signer, signature: s.signature })) };
}
function tcValue(tc: TC): CanonicalValue {
  return { view: tc.view, timeouts: tc.timeouts.map((s) => ({ signer: s.signer, signature: s.signature })) };
}
export function headerValue(b: BlockHeader): CanonicalValue {
  return { chainId: b.chainId, chain: b.chain, height: b.height, view: b.view, parentHash: b.parentHash, justify: qcValue(b.justify), proposer: b.proposer, payloadHash: b.payloadHash, hash: b.hash };
}
function blockValue(b: Block): CanonicalValue {
  return { ...(headerValue(b) as object), payload: b.payload } as CanonicalValue;
}
function voteValue(v: SignedVote): CanonicalValue {
  const x = v.vote;
  return { vote: { chainId: x.chainId, chain: x.chain, height: x.height, view: x.view, blockHash: x.blockHash }, signer: v.signer, signature: v.signature };
}

export function messageValue(m: Message): CanonicalValue {
  switch (m.type) {
    case 'proposal':
      return { type: m.type, block: blockValue(m.block), signature: m.signature, tc: m.tc ? tcValue(m.tc) : undefined };
    case 'vote':
      return { type: m.type, vote: voteValue(m.vote) };
    case 'timeout':
      return { type: m.type, view: m.view, signer: m.signer, signature: m.signature, highQC: qcValue(m.highQC) };
    case 'sync':
      return { type: m.type, highQC: qcValue(m.highQC), tc: m.tc ? tcValue(m.tc) : undefined };
    case 'blockRequest':
      return { type: m.type, hash: m.hash };
    case 'blockResponse':
      return { type: m.type, block: blockValue(m.block) };
  }
}

export function encodeMessage(m: Message): Uint8Array {
  return canonicalBytes(messageValue(m));
}

// ---- decoding ----

type Obj = Record<string, unknown>;
function fail(msg: string): never {
  throw new MalformedMessageError(msg);
}
function obj(v: unknown, what: string, keys: readonly string[], optional: readonly string[] = []): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`${what}: not an object`);
  const o = v as Obj;
  for (const k of Object.keys(o)) if (!keys.includes(k) && !optional.includes(k)) fail(`${what}: unexpected field ${k}`);
  for (const k of keys) if (!(k in o)) fail(`${what}: missing ${k}`);
  return o;
}
function uint(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what}: not a non-negative integer`);
  return v;
}
function hex(v: unknown, bytes: number, what: string): string {
  if (!isHex(v, bytes)) fail(`${what}: not ${bytes}-byte lowercase hex`);
  return v;
}
function str(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) fail(`${what}: bad string`);
  return v;
}
function shares(v: unknown, what: string): SignatureShare[] {
  if (!Array.isArray(v) || v.length > MAX_SHARES) fail(`${what}: not a bounded array`);
  return v.map((x, i) => {
    const o = obj(x, `${what}[${i}]`, ['signer', 'signature']);
    return { signer: hex(o.signer, 32, `${what}[${i}].signer`), signature: hex(o.signature, 64, `${what}[${i}].signature`) };
  });
}
function qc(v: unknown, what: string): QC {
  const o = obj(v, what, ['height', 'view', 'blockHash', 'votes']);
  return { height: uint(o.height, `${what}.height`), view: uint(o.view, `${what}.view`), blockHash: hex(o.blockHash, 32, `${what}.blockHash`), votes: shares(o.votes, `${what}.votes`) };
}
function tc(v: unknown, what: string): TC {
  const o = obj(v, what, ['view', 'timeouts']);
  return { view: uint(o.view, `${what}.view`), timeouts: shares(o.timeouts, `${what}.timeouts`) };
}
/** A payload as raw bytes (structured form) or lowercase hex (canonical JSON form). */
function payloadBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) {
    if (v.length > MAX_MESSAGE_BYTES) fail(`${what}: larger than ${MAX_MESSAGE_BYTES} bytes`);
    return v;
  }
  if (typeof v !== 'string' || !isHex(v)) fail(`${what}: not bytes or hex`);
  return fromHex(v);
}
function block(v: unknown, what: string): Block {
  const o = obj(v, what, ['chainId', 'chain', 'height', 'view', 'parentHash', 'justify', 'proposer', 'payloadHash', 'hash', 'payload']);
  return {
    chainId: str(o.chainId, `${what}.chainId`, MAX_CHAIN_ID),
    chain: str(o.chain, `${what}.chain`, MAX_CHAIN_ID),
    height: uint(o.height, `${what}.height`),
    view: uint(o.view, `${what}.view`),
    parentHash: hex(o.parentHash, 32, `${what}.parentHash`),
    justify: qc(o.justify, `${what}.justify`),
    proposer: hex(o.proposer, 32, `${what}.proposer`),
    payloadHash: hex(o.payloadHash, 32, `${what}.payloadHash`),
    hash: hex(o.hash, 32, `${what}.hash`),
    payload: payloadBytes(o.payload, `${what}.payload`),
  };
}
function vote(v: unknown, what: string): SignedVote {
  const o = obj(v, what, ['vote', 'signer', 'signature']);
  const x = obj(o.vote, `${what}.vote`, ['chainId', 'chain', 'height', 'view', 'blockHash']);
  return {
    vote: {
      chainId: str(x.chainId, `${what}.vote.chainId`, MAX_CHAIN_ID),
      chain: str(x.chain, `${what}.vote.chain`, MAX_CHAIN_ID),
      height: uint(x.height, `${what}.vote.height`),
      view: uint(x.view, `${what}.vote.view`),
      blockHash: hex(x.blockHash, 32, `${what}.vote.blockHash`),
    },
    signer: hex(o.signer, 32, `${what}.signer`),
    signature: hex(o.signature, 64, `${what}.signature`),
  };
}

/** Parse and structurally validate a message. Throws MalformedMessageError. Signatures are NOT checked here. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length > MAX_MESSAGE_BYTES) fail('message too large');
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    fail('not UTF-8 JSON');
  }
  return decodeMessageValue(raw);
}

/** Validates a structured message (messageValue's shape, payload as bytes or hex). Throws MalformedMessageError. */
export function decodeMessageValue(raw: unknown): Message {
  if (typeof raw !== 'object' || raw === null || raw instanceof Uint8Array) fail('not an object');
  const t = (raw as Obj).type;
  let m: Message;
  switch (t) {
    case 'proposal': {
      const o = obj(raw, 'proposal', ['type', 'block', 'signature'], ['tc']);
      m = { type: 'proposal', block: block(o.block, 'block'), signature: hex(o.signature, 64, 'signature'), ...(o.tc !== undefined ? { tc: tc(o.tc, 'tc') } : {}) };
      break;
    }
    case 'vote': {
      const o = obj(raw, 'vote', ['type', 'vote']);
      m = { type: 'vote', vote: vote(o.vote, 'vote') };
      break;
    }
    case 'timeout': {
      const o = obj(raw, 'timeout', ['type', 'view', 'signer', 'signature', 'highQC']);
      m = { type: 'timeout', view: uint(o.view, 'view'), signer: hex(o.signer, 32, 'signer'), signature: hex(o.signature, 64, 'signature'), highQC: qc(o.highQC, 'highQC') };
      break;
    }
    case 'sync': {
      const o = obj(raw, 'sync', ['type', 'highQC'], ['tc']);
      m = { type: 'sync', highQC: qc(o.highQC, 'highQC'), ...(o.tc !== undefined ? { tc: tc(o.tc, 'tc') } : {}) };
      break;
    }
    case 'blockRequest': {
      const o = obj(raw, 'blockRequest', ['type', 'hash']);
      m = { type: 'blockRequest', hash: hex(o.hash, 32, 'hash') };
      break;
    }
    case 'blockResponse': {
      const o = obj(raw, 'blockResponse', ['type', 'block']);
      m = { type: 'blockResponse', block: block(o.block, 'block') };
      break;
    }
    default:
      fail(`unknown message type ${typeof t === 'string' ? JSON.stringify(t.slice(0, 32)) : typeof t}`);
  }
  return m;
}
