/**
 * Exit resumption tokens (protocol/README.md, "Resumption"): the exit's MAC'd statement
 * "this inner address belongs to whoever holds this token until `expires`". The exit hands
 * one to the client (RESUME_TOKEN, inside the exit's own layer) after every EXIT_OPENED; a
 * client building a new circuit to the same exit presents it (EXIT_RESUME) to get the same
 * address back, so its open TCP connections (and the exit's conntrack/NAT entries) survive.
 *
 * Token v1 (33 B): version(1)=1 | ipv4(4, network order) | expires(4, LE, Unix seconds) |
 * nonce(8) | mac(16), mac = first 16 bytes of HMAC-SHA256(key, RESUME_MAC_LABEL | bytes 0..17).
 * The key is the exit's secret; the token is opaque to the client. Pure (no IO, no clock).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { formatIpv4, parseIpv4 } from './ipv4.js';

export const RESUME_VERSION = 1;
export const RESUME_TOKEN_LEN = 33;
/** Longest token any version may use (the wire decoders' bound). */
export const RESUME_TOKEN_MAX = 64;
export const RESUME_MAC_LABEL = 'topvpn-resume-1';
export const RESUME_KEY_LEN = 32;
const MAC_LEN = 16;
const SIGNED_LEN = RESUME_TOKEN_LEN - MAC_LEN;

export class ResumeTokenError extends Error {
  override readonly name = 'ResumeTokenError';
}

export interface ResumeClaim {
  /** The inner IPv4 address the token is for. */
  ipv4: string;
  /** Unix seconds after which the token is void. */
  expiresS: number;
  /** 8 random bytes: tells two tokens for the same address apart. */
  nonce: Uint8Array;
}

function mac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(RESUME_MAC_LABEL).update(signed).digest().subarray(0, MAC_LEN);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== RESUME_KEY_LEN) throw new ResumeTokenError(`resume key must be ${RESUME_KEY_LEN} bytes`);
}

/** A v1 token for `claim`, MAC'd with `key` (32 bytes). */
export function sealResumeToken(key: Uint8Array, claim: ResumeClaim): Buffer {
  checkKey(key);
  if (claim.nonce.length !== 8) throw new ResumeTokenError('nonce must be 8 bytes');
  if (!Number.isInteger(claim.expiresS) || claim.expiresS < 0 || claim.expiresS > 0xffffffff) throw new ResumeTokenError('expiresS out of range');
  const out = Buffer.alloc(RESUME_TOKEN_LEN);
  out[0] = RESUME_VERSION;
  out.writeUInt32BE(parseIpv4(claim.ipv4), 1);
  out.writeUInt32LE(claim.expiresS, 5);
  out.set(claim.nonce, 9);
  mac(key, out.subarray(0, SIGNED_LEN)).copy(out, SIGNED_LEN);
  return out;
}

export type ResumeRejection = 'version' | 'length' | 'mac' | 'expired';

/**
 * The claim of a token sealed with `key`, or why it is refused: another version or length,
 * a MAC that does not verify (constant time), or `nowS` (Unix seconds) past its expiry.
 */
export function openResumeToken(key: Uint8Array, token: Uint8Array, nowS: number): ResumeClaim | ResumeRejection {
  checkKey(key);
  if (token.length === 0 || token[0] !== RESUME_VERSION) return 'version';
  if (token.length !== RESUME_TOKEN_LEN) return 'length';
  const t = Buffer.from(token.buffer, token.byteOffset, token.byteLength);
  if (!timingSafeEqual(mac(key, t.subarray(0, SIGNED_LEN)), t.subarray(SIGNED_LEN))) return 'mac';
  const expiresS = t.readUInt32LE(5);
  if (nowS > expiresS) return 'expired';
  return { ipv4: formatIpv4(t.readUInt32BE(1)), expiresS, nonce: new Uint8Array(t.subarray(9, 17)) };
}
