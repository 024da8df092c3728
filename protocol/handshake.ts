/**
 * ntor-style one-round-trip handshake (X25519 + HKDF-SHA256), see protocol/README.md.
 *
 *   client: ephemeral x, X;  relay: static b, B; ephemeral y, Y
 *   secret = X25519(x,Y) || X25519(x,B)       (relay: X25519(y,X) || X25519(b,X))
 *   prk    = HKDF-Extract(salt = PROTOID, secret || B || X || Y)
 *   auth   = HMAC-SHA256(HKDF-Expand(prk, "topvpn auth", 32), B || Y || X || "server")
 *   keys   = HKDF-Expand(prk, "topvpn keys", 64): forward = [0,32), backward = [32,64)
 *
 * Contract: `finish` checks auth in constant time before returning keys; every failure
 * (wrong node, low-order point, bad auth, malformed bytes) throws `HandshakeError`.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { AUTH_SUFFIX, HANDSHAKE_INIT_LEN, INFO_AUTH, INFO_KEYS, NODE_ID_HASH_LEN, PROTOID } from './constants.js';
import { decodeInit, decodeResp, encodeInit, encodeResp, MalformedPacketError } from './messages.js';
import { generateX25519, LowOrderPointError, privateKeyObject, x25519, x25519Public, type X25519KeyPair } from './x25519.js';

export type HandshakeFailure = 'malformed' | 'wrong_node' | 'low_order' | 'auth' | 'index';

export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(readonly reason: HandshakeFailure, detail?: string) {
    super(detail ? `handshake failed: ${reason}: ${detail}` : `handshake failed: ${reason}`);
  }
}

export interface SessionKeys {
  /** client -> relay */
  forward: Uint8Array;
  /** relay -> client */
  backward: Uint8Array;
}

export interface StaticKeys {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface InitState {
  relayStatic: Uint8Array;
  x: Uint8Array | KeyObject;
  X: Uint8Array;
  senderIdx: number;
}

const PROTOID_BYTES = Buffer.from(PROTOID);
const INFO_AUTH_BYTES = Buffer.from(INFO_AUTH);
const INFO_KEYS_BYTES = Buffer.from(INFO_KEYS);
const AUTH_SUFFIX_BYTES = Buffer.from(AUTH_SUFFIX);

/** node id = SHA-256(B). */
export function nodeId(staticPublic: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(staticPublic).digest());
}

/** The 8-byte node_id_hash carried in HANDSHAKE_INIT. */
export function nodeIdHash(staticPublic: Uint8Array): Uint8Array {
  return nodeId(staticPublic).subarray(0, NODE_ID_HASH_LEN);
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HKDF-Expand for L <= 64 with SHA-256 (two blocks at most). */
function expand(prk: Uint8Array, info: Uint8Array, len: number): Buffer {
  const t1 = hmac(prk, info, Buffer.of(1));
  if (len <= 32) return t1.subarray(0, len);
  const t2 = hmac(prk, t1, info, Buffer.of(2));
  return Buffer.concat([t1, t2]).subarray(0, len);
}

function derive(dh1: Uint8Array, dh2: Uint8Array, B: Uint8Array, X: Uint8Array, Y: Uint8Array): { auth: Buffer; keys: SessionKeys } {
  const prk = hmac(PROTOID_BYTES, dh1, dh2, B, X, Y);
  const authKey = expand(prk, INFO_AUTH_BYTES, 32);
  const auth = hmac(authKey, B, Y, X, AUTH_SUFFIX_BYTES);
  const k = expand(prk, INFO_KEYS_BYTES, 64);
  return { auth, keys: { forward: new Uint8Array(k.subarray(0, 32)), backward: new Uint8Array(k.subarray(32, 64)) } };
}

/**
 * Client: starts a handshake with the relay whose static public key is `relayStatic`.
 * `ephemeral` is for test vectors only; by default a fresh key pair is generated.
 */
export function createInit(relayStatic: Uint8Array, senderIdx: number, ephemeral?: X25519KeyPair): { init: Buffer; state: InitState } {
  if (relayStatic.length !== 32) throw new HandshakeError('malformed', 'relay static key length');
  const eph = ephemeral ?? generateX25519();
  const init = encodeInit({ senderIdx, nodeIdHash: nodeIdHash(relayStatic), X: eph.publicKey });
  return { init, state: { relayStatic, x: eph.keyObject ?? privateKeyObject(eph.secretKey, eph.publicKey), X: eph.publicKey, senderIdx } };
}

export interface Responder {
  staticKeys: StaticKeys;
  /** Cached node_id_hash of staticKeys.publicKey. */
  idHash: Uint8Array;
  /** Cached KeyObject of the static secret. */
  secret: KeyObject;
}

export function makeResponder(staticKeys: StaticKeys): Responder {
  return { staticKeys, idHash: nodeIdHash(staticKeys.publicKey), secret: privateKeyObject(staticKeys.secretKey, staticKeys.publicKey) };
}

/** True if the INIT's node_id_hash names this responder (cheap pre-check, no DH). */
export function initIsForMe(r: Responder, init: Uint8Array): boolean {
  if (init.length !== HANDSHAKE_INIT_LEN) return false;
  return timingSafeEqual(init.subarray(8, 16), r.idHash);
}

/**
 * Relay: answers a HANDSHAKE_INIT. `myIdx` becomes the RESP's sender_idx (the index this
 * relay receives the circuit's forward traffic with); the RESP's receiver_idx is the INIT's
 * sender_idx. `ephemeral` is for test vectors only.
 */
export function respond(
  staticKeys: StaticKeys | Responder,
  initBytes: Uint8Array,
  myIdx: number,
  ephemeral?: X25519KeyPair,
): { resp: Buffer; keys: SessionKeys; senderIdx: number; X: Uint8Array } {
  const r = 'idHash' in staticKeys ? staticKeys : makeResponder(staticKeys);
  let init;
  try {
    init = decodeInit(initBytes);
  } catch (e) {
    throw new HandshakeError('malformed', e instanceof MalformedPacketError ? e.reason : undefined);
  }
  if (!timingSafeEqual(init.nodeIdHash, r.idHash)) throw new HandshakeError('wrong_node');
  const eph = ephemeral ?? generateX25519();
  let dh1: Uint8Array, dh2: Uint8Array;
  try {
    dh1 = x25519(eph.keyObject ?? privateKeyObject(eph.secretKey, eph.publicKey), init.X);
    dh2 = x25519(r.secret, init.X);
  } catch (e) {
    if (e instanceof LowOrderPointError) throw new HandshakeError('low_order');
    throw e;
  }
  const B = r.staticKeys.publicKey;
  const { auth, keys } = derive(dh1, dh2, B, init.X, eph.publicKey);
  const resp = encodeResp({ senderIdx: myIdx, receiverIdx: init.senderIdx, Y: eph.publicKey, auth });
  return { resp, keys, senderIdx: init.senderIdx, X: new Uint8Array(init.X) };
}

/**
 * Client: completes the handshake from the relay's RESP. Checks that receiver_idx matches
 * `expectReceiverIdx` when given (a relay rewrites the sender_idx of an extended INIT, so
 * for extended hops the caller passes undefined and checks the index itself).
 * Returns the session keys and the relay's index (RESP sender_idx).
 */
export function finish(state: InitState, respBytes: Uint8Array, expectReceiverIdx?: number): { keys: SessionKeys; relayIdx: number; receiverIdx: number } {
  let resp;
  try {
    resp = decodeResp(respBytes);
  } catch (e) {
    throw new HandshakeError('malformed', e instanceof MalformedPacketError ? e.reason : undefined);
  }
  if (expectReceiverIdx !== undefined && resp.receiverIdx !== expectReceiverIdx >>> 0) throw new HandshakeError('index');
  let dh1: Uint8Array, dh2: Uint8Array;
  try {
    dh1 = x25519(state.x, resp.Y);
    dh2 = x25519(state.x, state.relayStatic);
  } catch (e) {
    if (e instanceof LowOrderPointError) throw new HandshakeError('low_order');
    throw e;
  }
  const { auth, keys } = derive(dh1, dh2, state.relayStatic, state.X, resp.Y);
  if (!timingSafeEqual(auth, resp.auth)) throw new HandshakeError('auth');
  return { keys, relayIdx: resp.senderIdx, receiverIdx: resp.receiverIdx };
}

/** A relay static key pair from a 32-byte secret. */
export function staticKeysFromSecret(secretKey: Uint8Array): StaticKeys {
  return { secretKey, publicKey: x25519Public(secretKey) };
}
