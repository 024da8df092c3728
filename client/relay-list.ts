/**
 * The `--relays FILE|LIST` argument of `topvpn connect`.
 * FILE: a JSON array [{"endpoint":"198.18.0.11:51820","publicKey":"hex"}, ...] in path order;
 * for paid circuits each entry also has "address" (the relay's chain address, 64 hex) and
 * "pricePerGiB" (base units per GiB, a decimal string or integer); "exit" (boolean, optional)
 * says whether a spare may replace a dead exit (ListRelaySource).
 * LIST: "host:port@pubhex,host:port@pubhex,...".
 * Path choice for `--hops N`: the list's LAST relay is the exit; the first N−1 entries are
 * entry (and middle). So a list of exactly N relays is used as written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { AddressError, type Endpoint, formatEndpoint, parseEndpoint } from '../relay/addr.js';
import { type HopRole, relayKey, type RelaySource } from './circuit-repath.js';

export interface RelaySpec {
  endpoint: Endpoint;
  publicKey: Uint8Array;
  /** The relay's chain address (lowercase hex Ed25519 public key); needed to pay it. */
  address?: string;
  /** The relay's price in base units per GiB; needed to pay it. */
  pricePerGiB?: bigint;
  /** Whether the relay acts as an exit; unknown when absent. */
  exit?: boolean;
}

export class RelayListError extends Error {
  override readonly name = 'RelayListError';
}

export const MAX_HOPS = 3;

function parseKey(v: unknown, where: string): Uint8Array {
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) throw new RelayListError(`${where}: publicKey must be 64 hex characters (32 bytes)`);
  return new Uint8Array(Buffer.from(v, 'hex'));
}

function parseEp(v: unknown, where: string): Endpoint {
  if (typeof v !== 'string') throw new RelayListError(`${where}: endpoint must be a "HOST:PORT" string`);
  try {
    return parseEndpoint(v);
  } catch (err) {
    if (err instanceof AddressError) throw new RelayListError(`${where}: ${err.message}`);
    throw err;
  }
}

function parsePrice(v: unknown, where: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,30}$/.test(v)) return BigInt(v);
  throw new RelayListError(`${where}: pricePerGiB must be a non-negative integer (base units per GiB)`);
}

/** Parses the LIST form. */
export function parseRelayListString(s: string): RelaySpec[] {
  const items = s.split(',').map((x) => x.trim());
  if (items.length === 0 || items.some((x) => x.length === 0)) throw new RelayListError('relay list: empty item (expected host:port@pubhex,...)');
  return items.map((item, i) => {
    const at = item.indexOf('@');
    if (at < 0) throw new RelayListError(`relay list item ${i + 1} "${item}": expected host:port@pubhex`);
    const where = `relay list item ${i + 1}`;
    return { endpoint: parseEp(item.slice(0, at), where), publicKey: parseKey(item.slice(at + 1), where) };
  });
}

/** Parses the FILE form's contents; `source` names the file in errors. */
export function parseRelayJson(text: string, source: string): RelaySpec[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new RelayListError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(v)) throw new RelayListError(`${source}: expected a JSON array of {"endpoint","publicKey"} objects`);
  if (v.length === 0) throw new RelayListError(`${source}: the relay list is empty`);
  return v.map((item: unknown, i) => {
    const where = `${source}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RelayListError(`${where}: expected an object`);
    const rec = item as Record<string, unknown>;
    const spec: RelaySpec = { endpoint: parseEp(rec.endpoint, where), publicKey: parseKey(rec.publicKey, where) };
    if (rec.address !== undefined) {
      if (typeof rec.address !== 'string' || !/^[0-9a-fA-F]{64}$/.test(rec.address)) throw new RelayListError(`${where}: address must be 64 hex characters (a chain address)`);
      spec.address = rec.address.toLowerCase();
    }
    if (rec.pricePerGiB !== undefined) spec.pricePerGiB = parsePrice(rec.pricePerGiB, where);
    if (rec.exit !== undefined) {
      if (typeof rec.exit !== 'boolean') throw new RelayListError(`${where}: exit must be true or false`);
      spec.exit = rec.exit;
    }
    return spec;
  });
}

/**
 * Resolves `--relays`: an existing file path (or anything that looks like one: contains "/"
 * or ends with ".json") is read as FILE; otherwise the argument is a LIST.
 */
export function loadRelays(arg: string): RelaySpec[] {
  const looksLikeFile = existsSync(arg) || arg.includes('/') || arg.endsWith('.json');
  if (looksLikeFile && !arg.includes('@')) {
    let text: string;
    try {
      text = readFileSync(arg, 'utf8');
    } catch (err) {
      throw new RelayListError(`cannot read relay file ${arg}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    return parseRelayJson(text, arg);
  }
  return parseRelayListString(arg);
}

/** Chooses the path for `hops` hops (see the file comment); rejects repeated relays. */
export function choosePath(relays: RelaySpec[], hops: number): RelaySpec[] {
  if (!Number.isInteger(hops) || hops < 1 || hops > MAX_HOPS) throw new RelayListError(`--hops must be 1..${MAX_HOPS}, got ${hops}`);
  if (relays.length < hops) throw new RelayListError(`--hops ${hops} needs at least ${hops} relays, the list has ${relays.length}`);
  const path = [...relays.slice(0, hops - 1), relays[relays.length - 1]!];
  const seen = new Set<string>();
  for (const r of path) {
    const k = Buffer.from(r.publicKey).toString('hex');
    if (seen.has(k)) throw new RelayListError(`relay ${formatEndpoint(r.endpoint)} appears twice in the path`);
    seen.add(k);
  }
  return path;
}

/**
 * The `--relays` list as a RelaySource (client/circuit-repath.ts): candidates in list order.
 * For the exit role, relays marked `"exit": true` come first, then unmarked ones (a relay
 * that is no exit refuses EXIT_OPEN and is then avoided like a dead one); `"exit": false`
 * relays never. The list's last relay (the configured exit) counts as an exit.
 */
export class ListRelaySource implements RelaySource {
  private readonly relays: readonly RelaySpec[];

  constructor(relays: readonly RelaySpec[]) {
    const last = relays[relays.length - 1];
    this.relays = relays.map((r) => (r === last && r.exit === undefined ? { ...r, exit: true } : r));
  }

  candidates(role: HopRole, exclude: ReadonlySet<string>): RelaySpec[] {
    const free = this.relays.filter((r) => !exclude.has(relayKey(r)));
    if (role !== 'exit') return free;
    return [...free.filter((r) => r.exit === true), ...free.filter((r) => r.exit === undefined)];
  }
}
