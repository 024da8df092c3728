/**
 * Signed relay descriptors: what a relay publishes (over libp2p) so clients can find it,
 * handshake with it, price it and pick paths through it. Pure: no IO.
 *
 * Wire form: canonical JSON (UTF-8, object keys sorted, no whitespace; bigints as decimal
 * strings; keys as lowercase hex), at most MAX_DESCRIPTOR_BYTES. Decoding is strict: exact
 * field set, every field's type, length, range and format checked, and the input must be the
 * canonical encoding of what it decodes to (one descriptor has exactly one encoding, so its
 * hash identifies it). Every failure is a MalformedDescriptorError.
 *
 * Signature: Ed25519 by `nodeAddress` over
 *   utf8("topvpn-descriptor-v1") || 0x00 || utf8(chainId) || 0x00 || canonical JSON of the body
 * (the body is every field but `signature`; it contains `chainId` too).
 */
import { createHash } from 'node:crypto';
import { ed25519VerifyHex } from '../common/ed25519.js';
import { isCountryCode } from './descriptor-countries.js';
import { PolicyRuleError, parsePolicyRule } from './descriptor-policy.js';

export const DESCRIPTOR_VERSION = 1;
export const DESCRIPTOR_DOMAIN = 'topvpn-descriptor-v1';
export const MAX_DESCRIPTOR_BYTES = 8 * 1024;
/** Longest allowed expiresAt − publishedAt. Relays republish well before expiry (e.g. hourly, 3 h lifetime). */
export const MAX_DESCRIPTOR_LIFETIME_MS = 24 * 3600_000;
/** Default tolerance for a publisher's clock running ahead of ours. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;
export const MAX_EXIT_RULES = 64;
export const MAX_FAMILY = 32;
export const MAX_BANDWIDTH_BPS = 10 ** 13;
/** Exclusive upper bound on pricePerGiB (base units). */
export const MAX_PRICE = 10n ** 30n;

export interface DescriptorEndpoints {
  /** "a.b.c.d:port" — the relay's UDP data-plane endpoint (IPv4, port 1..65535). */
  udp: string;
  /** Optional "ws://…" or "wss://…" URL for the WebSocket fallback transport. */
  ws?: string;
}

export interface DescriptorBody {
  version: 1;
  /** The chain this relay is staked on (domain separation: e.g. "topvpn-devnet"). */
  chainId: string;
  /** Ed25519 node key, lowercase hex (32 B): the relay's chain identity; signs the descriptor. */
  nodeAddress: string;
  /** libp2p peer id (base58btc string, e.g. "12D3KooW…"). */
  peerId: string;
  /** X25519 onion key B (32 B hex) for the ntor-style handshake (protocol/README.md). */
  onionKey: string;
  endpoints: DescriptorEndpoints;
  /** Price per GiB carried, in base units (1 TOP = 10^6). */
  pricePerGiB: bigint;
  /** ISO 3166-1 alpha-2 country code, upper case. */
  region: string;
  /** Advertised bandwidth, bit/s (1..10^13). */
  bandwidthBps: number;
  /** Ordered exit-policy rules (protocol/descriptor-policy.ts); [] = not an exit. */
  exitPolicy: string[];
  /** The operator's account address (hex, 32 B). */
  operator: string;
  /** Other node addresses run by the same operator: sorted ascending, unique, not this node. */
  family: string[];
  /** Unix ms. */
  publishedAt: number;
  /** Unix ms; publishedAt < expiresAt ≤ publishedAt + MAX_DESCRIPTOR_LIFETIME_MS. */
  expiresAt: number;
}

export interface Descriptor extends DescriptorBody {
  /** Ed25519 signature (64 B hex) over descriptorSigningBytes(body). */
  signature: string;
}

export class MalformedDescriptorError extends Error {
  override readonly name = 'MalformedDescriptorError';
  constructor(readonly reason: string) {
    super(`malformed relay descriptor: ${reason}`);
  }
}

/** signDescriptor's signFn produced something that does not verify under body.nodeAddress. */
export class DescriptorSignError extends Error {
  override readonly name = 'DescriptorSignError';
}

export type DescriptorRejection = 'malformed' | 'wrong-chain' | 'from-future' | 'expired' | 'bad-signature';
export type DescriptorVerdict = { ok: true } | { ok: false; reason: DescriptorRejection; detail: string };

export interface VerifyOptions {
  /** When given, the descriptor's chainId must equal it. Callers on a chain should always pass it. */
  chainId?: string;
  maxClockSkewMs?: number;
}

const BODY_KEYS = [
  'bandwidthBps',
  'chainId',
  'endpoints',
  'exitPolicy',
  'expiresAt',
  'family',
  'nodeAddress',
  'onionKey',
  'operator',
  'peerId',
  'pricePerGiB',
  'publishedAt',
  'region',
  'version',
] as const;
const DESCRIPTOR_KEYS = [...BODY_KEYS, 'signature'].sort();

const HEX32_RE = /^[0-9a-f]{64}$/;
const HEX64_RE = /^[0-9a-f]{128}$/;
const CHAIN_ID_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PEER_ID_RE = /^[1-9A-HJ-NP-Za-km-z]{46,128}$/;
const PRICE_RE = /^(0|[1-9][0-9]{0,29})$/;
const UDP_RE = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2}):([1-9]\d{0,4})$/;
const WS_MAX_CHARS = 256;

function fail(reason: string): never {
  throw new MalformedDescriptorError(reason);
}

function exactKeys(o: object, keys: readonly string[], what: string): void {
  const have = Object.keys(o);
  for (const k of keys) if (!Object.prototype.hasOwnProperty.call(o, k)) fail(`${what}: missing "${k}"`);
  for (const k of have) if (!keys.includes(k)) fail(`${what}: unknown field ${JSON.stringify(k.slice(0, 32))}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function hex32(v: unknown, what: string): string {
  if (typeof v !== 'string' || !HEX32_RE.test(v)) fail(`${what} must be 64 lowercase hex characters`);
  return v;
}

function timestamp(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${what} must be a non-negative integer (Unix ms)`);
  return v;
}

/** Parses "a.b.c.d:port"; returns the IPv4 as uint32 and the port. Throws MalformedDescriptorError. */
export function parseUdpEndpoint(s: string): { ip: number; port: number } {
  const m = UDP_RE.exec(s);
  if (!m) fail('endpoints.udp must be "a.b.c.d:port" (IPv4, port 1..65535)');
  const o = [m[1], m[2], m[3], m[4]].map(Number);
  const port = Number(m[5]);
  if (o.some((x) => x > 255) || port > 65535) fail('endpoints.udp must be "a.b.c.d:port" (IPv4, port 1..65535)');
  return { ip: ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0, port };
}

function checkWsUrl(v: unknown): string {
  if (typeof v !== 'string' || v.length > WS_MAX_CHARS || !/^wss?:\/\/[\x21-\x7e]+$/.test(v)) fail('endpoints.ws must be a ws:// or wss:// URL (printable ASCII, ≤ 256 chars)');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    fail('endpoints.ws is not a valid URL');
  }
  if ((u.protocol !== 'ws:' && u.protocol !== 'wss:') || u.hostname === '' || u.username !== '' || u.password !== '' || u.hash !== '') {
    fail('endpoints.ws must be ws:// or wss:// with a host and no credentials or fragment');
  }
  return v;
}

/**
 * Checks an in-memory descriptor body (pricePerGiB as bigint) and returns a fresh copy with
 * exactly the known fields. Throws MalformedDescriptorError.
 */
export function validateDescriptorBody(v: unknown): DescriptorBody {
  if (!isPlainObject(v)) fail('not an object');
  exactKeys(v, BODY_KEYS, 'descriptor');
  return checkedBody(v, v.pricePerGiB);
}

function checkedBody(v: Record<string, unknown>, price: unknown): DescriptorBody {
  if (v.version !== DESCRIPTOR_VERSION) fail(`unsupported version ${JSON.stringify(v.version)}`);
  if (typeof v.chainId !== 'string' || !CHAIN_ID_RE.test(v.chainId)) fail('chainId must be 1..64 of [a-z0-9-], starting alphanumeric');
  const nodeAddress = hex32(v.nodeAddress, 'nodeAddress');
  if (typeof v.peerId !== 'string' || !PEER_ID_RE.test(v.peerId)) fail('peerId must be a base58btc libp2p peer id (46..128 chars)');
  const onionKey = hex32(v.onionKey, 'onionKey');
  if (/^0+$/.test(onionKey)) fail('onionKey must not be all zeros');
  if (!isPlainObject(v.endpoints)) fail('endpoints must be an object');
  const ep = v.endpoints;
  for (const k of Object.keys(ep)) if (k !== 'udp' && k !== 'ws') fail(`endpoints: unknown field ${JSON.stringify(k.slice(0, 32))}`);
  if (typeof ep.udp !== 'string') fail('endpoints.udp must be a string');
  parseUdpEndpoint(ep.udp);
  const endpoints: DescriptorEndpoints = { udp: ep.udp };
  if (ep.ws !== undefined) endpoints.ws = checkWsUrl(ep.ws);
  if (typeof price !== 'bigint' || price < 0n || price >= MAX_PRICE) fail('pricePerGiB must be an integer in 0..10^30-1 base units');
  if (!isCountryCode(v.region)) fail('region must be an assigned ISO 3166-1 alpha-2 code in upper case');
  const bw = v.bandwidthBps;
  if (typeof bw !== 'number' || !Number.isSafeInteger(bw) || bw < 1 || bw > MAX_BANDWIDTH_BPS) fail('bandwidthBps must be an integer in 1..10^13');
  if (!Array.isArray(v.exitPolicy) || v.exitPolicy.length > MAX_EXIT_RULES) fail(`exitPolicy must be an array of at most ${MAX_EXIT_RULES} rules`);
  const exitPolicy: string[] = [];
  for (const [i, r] of v.exitPolicy.entries()) {
    if (typeof r !== 'string') fail(`exitPolicy[${i}] must be a string`);
    try {
      parsePolicyRule(r);
    } catch (err) {
      if (err instanceof PolicyRuleError) fail(`exitPolicy[${i}]: ${err.message}`);
      throw err;
    }
    exitPolicy.push(r);
  }
  const operator = hex32(v.operator, 'operator');
  if (!Array.isArray(v.family) || v.family.length > MAX_FAMILY) fail(`family must be an array of at most ${MAX_FAMILY} node addresses`);
  const family: string[] = [];
  for (const [i, f] of v.family.entries()) {
    family.push(hex32(f, `family[${i}]`));
    if (f === nodeAddress) fail('family must not contain the node itself');
    if (i > 0 && !(family[i - 1]! < family[i]!)) fail('family must be sorted ascending without duplicates');
  }
  const publishedAt = timestamp(v.publishedAt, 'publishedAt');
  const expiresAt = timestamp(v.expiresAt, 'expiresAt');
  if (expiresAt <= publishedAt) fail('expiresAt must be after publishedAt');
  if (expiresAt - publishedAt > MAX_DESCRIPTOR_LIFETIME_MS) fail('lifetime (expiresAt - publishedAt) exceeds 24 h');
  return {
    version: DESCRIPTOR_VERSION,
    chainId: v.chainId,
    nodeAddress,
    peerId: v.peerId,
    onionKey,
    endpoints,
    pricePerGiB: price,
    region: v.region,
    bandwidthBps: bw,
    exitPolicy,
    operator,
    family,
    publishedAt,
    expiresAt,
  };
}

/** Checks a full in-memory descriptor and returns a fresh copy. Throws MalformedDescriptorError. */
export function validateDescriptor(v: unknown): Descriptor {
  if (!isPlainObject(v)) fail('not an object');
  exactKeys(v, DESCRIPTOR_KEYS, 'descriptor');
  const body = checkedBody(v, v.pricePerGiB);
  if (typeof v.signature !== 'string' || !HEX64_RE.test(v.signature)) fail('signature must be 128 lowercase hex characters');
  return { ...body, signature: v.signature };
}

/** Canonical JSON for the value shapes used here (strings, safe integers, arrays, plain objects). */
function canonical(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return JSON.stringify(v.toString());
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

function bodyOf(d: DescriptorBody): DescriptorBody {
  const { signature: _sig, ...body } = d as Descriptor;
  void _sig;
  return body;
}

/** The exact bytes the signature covers. Validates the body first. */
export function descriptorSigningBytes(body: DescriptorBody): Uint8Array {
  const b = validateDescriptorBody(bodyOf(body));
  const enc = new TextEncoder();
  const prefix = enc.encode(`${DESCRIPTOR_DOMAIN}\u0000${b.chainId}\u0000`);
  const json = enc.encode(canonical(b));
  const out = new Uint8Array(prefix.length + json.length);
  out.set(prefix, 0);
  out.set(json, prefix.length);
  return out;
}

/** Canonical wire bytes. Throws MalformedDescriptorError if invalid or over MAX_DESCRIPTOR_BYTES. */
export function encodeDescriptor(d: Descriptor): Uint8Array {
  const bytes = new TextEncoder().encode(canonical(validateDescriptor(d)));
  if (bytes.length > MAX_DESCRIPTOR_BYTES) fail(`encoded size ${bytes.length} exceeds ${MAX_DESCRIPTOR_BYTES} bytes`);
  return bytes;
}

/** Strict decode of wire bytes (or the same text as a string). Throws only MalformedDescriptorError. */
export function decodeDescriptor(input: Uint8Array | string): Descriptor {
  let text: string;
  if (typeof input === 'string') {
    if (input.length > MAX_DESCRIPTOR_BYTES) fail(`larger than ${MAX_DESCRIPTOR_BYTES} bytes`);
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.length > MAX_DESCRIPTOR_BYTES) fail(`larger than ${MAX_DESCRIPTOR_BYTES} bytes`);
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
    } catch {
      fail('not valid UTF-8');
    }
  } else {
    fail('input must be bytes or a string');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    fail('not valid JSON');
  }
  if (!isPlainObject(raw)) fail('not a JSON object');
  exactKeys(raw, DESCRIPTOR_KEYS, 'descriptor');
  if (typeof raw.pricePerGiB !== 'string' || !PRICE_RE.test(raw.pricePerGiB)) fail('pricePerGiB must be a decimal string without leading zeros (base units)');
  const body = checkedBody(raw, BigInt(raw.pricePerGiB));
  if (typeof raw.signature !== 'string' || !HEX64_RE.test(raw.signature)) fail('signature must be 128 lowercase hex characters');
  const d: Descriptor = { ...body, signature: raw.signature };
  if (canonical(d) !== text) fail('not in canonical form (sorted keys, no whitespace, minimal escapes)');
  if (new TextEncoder().encode(text).length > MAX_DESCRIPTOR_BYTES) fail(`larger than ${MAX_DESCRIPTOR_BYTES} bytes`);
  return d;
}

/** SHA-256 (hex) of the canonical encoding: a descriptor's identity for dedup and caching. */
export function descriptorId(d: Descriptor): string {
  return createHash('sha256').update(encodeDescriptor(d)).digest('hex');
}

/**
 * Signs a body with `signFn` (an Ed25519 signer for body.nodeAddress, e.g. Wallet.sign).
 * Throws MalformedDescriptorError for an invalid body (or one too big to encode) and
 * DescriptorSignError if the signature does not verify under nodeAddress.
 */
export function signDescriptor(body: DescriptorBody, signFn: (message: Uint8Array) => Uint8Array): Descriptor {
  const b = validateDescriptorBody(bodyOf(body));
  const msg = descriptorSigningBytes(b);
  const sig = signFn(msg);
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new DescriptorSignError('signFn must return a 64-byte Ed25519 signature');
  if (!ed25519VerifyHex(b.nodeAddress, msg, Buffer.from(sig).toString('hex'))) throw new DescriptorSignError('signature does not verify under nodeAddress (wrong key?)');
  const d: Descriptor = { ...b, signature: Buffer.from(sig).toString('hex') };
  encodeDescriptor(d);
  return d;
}

/**
 * Checks structure, chain id (if given), freshness and signature, cheapest first.
 * Expired means nowMs ≥ expiresAt; from-future means publishedAt > nowMs + maxClockSkewMs.
 */
export function verifyDescriptor(d: Descriptor, nowMs: number, opts: VerifyOptions = {}): DescriptorVerdict {
  let v: Descriptor;
  try {
    v = validateDescriptor(d);
  } catch (err) {
    if (err instanceof MalformedDescriptorError) return { ok: false, reason: 'malformed', detail: err.reason };
    throw err;
  }
  if (opts.chainId !== undefined && v.chainId !== opts.chainId) {
    return { ok: false, reason: 'wrong-chain', detail: `descriptor is for chain ${v.chainId}, expected ${opts.chainId}` };
  }
  const skew = opts.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  if (v.publishedAt > nowMs + skew) return { ok: false, reason: 'from-future', detail: `published ${v.publishedAt - nowMs} ms in the future` };
  if (nowMs >= v.expiresAt) return { ok: false, reason: 'expired', detail: `expired ${nowMs - v.expiresAt} ms ago` };
  if (!ed25519VerifyHex(v.nodeAddress, descriptorSigningBytes(v), v.signature)) return { ok: false, reason: 'bad-signature', detail: 'signature does not verify under nodeAddress' };
  return { ok: true };
}

