/**
 * Persistent entry guards (after Tor's guard-spec): up to PRIMARY_GUARDS relays chosen once
 * and kept for about GUARD_LIFETIME_MS, so an adversary running some relays cannot wait for
 * the client to eventually enter through one of them.
 *
 * - A guard is dropped (and replaced) when it is jailed, unstaked, its descriptor expired,
 *   it published for another chain, or its lifetime ran out.
 * - A guard missing from the current relay list is kept but skipped (a partial directory
 *   view must not churn guards) and dropped after UNLISTED_GRACE_MS.
 * - The set is refilled to PRIMARY_GUARDS listed guards by weighted choice among eligible
 *   relays unrelated to the guards already held.
 * State file: JSON { version: 1, guards: [{ address, addedAt, expiresAt, unlistedSince? }] },
 * written atomically (temporary file, fsync, rename), mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { configDir } from '../wallet/paths.js';
import { ineligibility, related, weightedPick, type EligibilityRules, type RelayCandidate } from './relays.js';
import { cryptoRng, type Rng } from './rng.js';

export const PRIMARY_GUARDS = 3;
export const GUARD_LIFETIME_MS = 120 * 24 * 3600_000;
/** Each guard's lifetime is shortened by a random amount up to this fraction (as Tor backdates), so expiries do not line up. */
export const GUARD_LIFETIME_JITTER = 0.1;
export const UNLISTED_GRACE_MS = 20 * 24 * 3600_000;
/** Most entries kept (listed + unlisted); the longest-unlisted go first beyond this. */
export const MAX_GUARD_ENTRIES = 2 * PRIMARY_GUARDS;
export const GUARDS_FILE_NAME = 'guards.json';

export interface GuardEntry {
  address: string;
  /** Unix ms when chosen. */
  addedAt: number;
  /** Unix ms after which it is rotated out. */
  expiresAt: number;
  /** Unix ms since it has been missing from the relay list. */
  unlistedSince?: number;
}

export type GuardRemovalReason = 'lifetime' | 'jailed' | 'unstaked' | 'descriptor-expired' | 'wrong-chain' | 'unlisted' | 'overflow';

export interface GuardUpdate {
  added: string[];
  removed: Array<{ address: string; reason: GuardRemovalReason }>;
}

export class GuardStateError extends Error {
  override readonly name = 'GuardStateError';
}

export interface GuardSetOptions {
  /** Wall clock (Unix ms), e.g. common/clock.ts SystemClock or ManualClock. */
  clock: { wallMs(): number };
  rng?: Rng;
  /** File to persist to with save(); absent = in memory only. */
  path?: string;
}

export interface GuardRefreshRules {
  minStake?: bigint;
  chainId?: string;
  /** Guards in one /16 count as related (default true; false only on a private testnet). */
  distinctSubnets?: boolean;
}

/** `<configDir>/guards.json` */
export function defaultGuardsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), GUARDS_FILE_NAME);
}

export class GuardSet {
  private guards: GuardEntry[];
  private readonly clock: { wallMs(): number };
  private readonly rng: Rng;
  private readonly path: string | undefined;

  constructor(entries: readonly GuardEntry[], opts: GuardSetOptions) {
    this.guards = entries.map((e) => ({ ...e }));
    this.clock = opts.clock;
    this.rng = opts.rng ?? cryptoRng;
    this.path = opts.path;
  }

  /** Loads `path` (a missing file is an empty set). Throws GuardStateError for a damaged file. */
  static load(path: string, opts: Omit<GuardSetOptions, 'path'>): GuardSet {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new GuardSet([], { ...opts, path });
      throw new GuardStateError(`cannot read guard state ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    return new GuardSet(parseGuardState(text, path), { ...opts, path });
  }

  /** All entries, in preference order (copies). */
  entries(): GuardEntry[] {
    return this.guards.map((e) => ({ ...e }));
  }

  /** Up to PRIMARY_GUARDS listed guard addresses, in preference order (as of the last refresh). */
  primary(): string[] {
    return this.guards
      .filter((g) => g.unlistedSince === undefined)
      .slice(0, PRIMARY_GUARDS)
      .map((g) => g.address);
  }

  /** Applies the current relay list: drops unusable or old guards, then refills. */
  refresh(candidates: readonly RelayCandidate[], rules: GuardRefreshRules = {}): GuardUpdate {
    const now = this.clock.wallMs();
    const { distinctSubnets, ...eligRules } = rules;
    const elig: EligibilityRules = { nowMs: now, ...eligRules };
    const relOpts = { distinctSubnets: distinctSubnets !== false };
    const byAddress = new Map(candidates.map((c) => [c.descriptor.nodeAddress, c] as const));
    const update: GuardUpdate = { added: [], removed: [] };
    const kept: GuardEntry[] = [];
    for (const g of this.guards) {
      if (now >= g.expiresAt) {
        update.removed.push({ address: g.address, reason: 'lifetime' });
        continue;
      }
      const c = byAddress.get(g.address);
      if (c === undefined) {
        const since = g.unlistedSince ?? now;
        if (now - since >= UNLISTED_GRACE_MS) {
          update.removed.push({ address: g.address, reason: 'unlisted' });
          continue;
        }
        kept.push({ ...g, unlistedSince: since });
        continue;
      }
      const bad = ineligibility(c, elig);
      if (bad !== null && bad !== 'excluded') {
        update.removed.push({ address: g.address, reason: bad });
        continue;
      }
      const { unlistedSince: _u, ...listed } = g;
      void _u;
      kept.push(listed);
    }
    this.guards = kept;

    const listedGuards = (): RelayCandidate[] =>
      this.guards.filter((g) => g.unlistedSince === undefined).map((g) => byAddress.get(g.address)!);
    const held = new Set(this.guards.map((g) => g.address));
    while (listedGuards().length < PRIMARY_GUARDS) {
      const current = listedGuards();
      const pool = candidates.filter((c) => !held.has(c.descriptor.nodeAddress) && ineligibility(c, elig) === null && current.every((g) => !related(g, c, relOpts)));
      const pick = weightedPick(pool, this.rng);
      if (pick === undefined) break;
      const lifetime = GUARD_LIFETIME_MS - Math.floor(this.rng() * GUARD_LIFETIME_JITTER * GUARD_LIFETIME_MS);
      this.guards.push({ address: pick.descriptor.nodeAddress, addedAt: now, expiresAt: now + lifetime });
      held.add(pick.descriptor.nodeAddress);
      update.added.push(pick.descriptor.nodeAddress);
    }

    while (this.guards.length > MAX_GUARD_ENTRIES) {
      let oldest = -1;
      for (let i = 0; i < this.guards.length; i++) {
        const u = this.guards[i]!.unlistedSince;
        if (u !== undefined && (oldest < 0 || u < this.guards[oldest]!.unlistedSince!)) oldest = i;
      }
      if (oldest < 0) break;
      update.removed.push({ address: this.guards[oldest]!.address, reason: 'overflow' });
      this.guards.splice(oldest, 1);
    }
    return update;
  }

  /** Writes the state file atomically with mode 0600 (directories created 0700). */
  save(): void {
    if (this.path === undefined) throw new GuardStateError('this guard set has no file');
    writeAtomic(this.path, `${JSON.stringify({ version: 1, guards: this.guards }, null, 2)}\n`);
  }
}

const HEX32_RE = /^[0-9a-f]{64}$/;

function parseGuardState(text: string, path: string): GuardEntry[] {
  const fail = (why: string): never => {
    throw new GuardStateError(`guard state ${path} is damaged (${why}); delete it to choose new guards`);
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    fail('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not an object');
  const o = v as Record<string, unknown>;
  if (o.version !== 1) fail(`unsupported version ${JSON.stringify(o.version)}`);
  if (!Array.isArray(o.guards) || o.guards.length > MAX_GUARD_ENTRIES) fail('guards must be an array');
  const out: GuardEntry[] = [];
  const seen = new Set<string>();
  for (const g of o.guards as unknown[]) {
    if (typeof g !== 'object' || g === null) fail('guard entry is not an object');
    const e = g as Record<string, unknown>;
    const int = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
    if (typeof e.address !== 'string' || !HEX32_RE.test(e.address) || seen.has(e.address)) fail('bad or repeated guard address');
    if (!int(e.addedAt) || !int(e.expiresAt) || (e.unlistedSince !== undefined && !int(e.unlistedSince))) fail('bad guard times');
    seen.add(e.address as string);
    out.push({
      address: e.address as string,
      addedAt: e.addedAt as number,
      expiresAt: e.expiresAt as number,
      ...(e.unlistedSince !== undefined ? { unlistedSince: e.unlistedSince as number } : {}),
    });
  }
  return out;
}

function writeAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
