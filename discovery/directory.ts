/**
 * The set of relays a node currently knows and may use, built from gossip and from requests
 * to peers. Client side it feeds client/path (candidates()); relay side it is the
 * store-and-forward cache served to peers.
 *
 * Intake (ingest): size bound, strict decode, verifyDescriptor (structure, chain id,
 * freshness, signature), dedupe by node address keeping the newest publishedAt, then the
 * chain: a node must be registered as a relay with stake ≥ minStake and not jailed. Chain
 * answers are cached for chainTtlMs; a sweep every sweepIntervalMs drops expired
 * descriptors and re-asks the chain about entries whose answer is older than the TTL, so a
 * relay that withdraws its stake or is jailed leaves the candidates within TTL + sweep
 * interval. When the chain cannot be reached, a new descriptor waits as "pending" (not a
 * candidate) and a known one keeps its last answer until the chain answers again.
 *
 * Every outcome is counted (stats()); changes to the candidate set are reported to onChange
 * listeners. An optional cache file (JSON, 0600) keeps the last good set with its chain
 * answers, so a restart has candidates before the network answers (their chain status is
 * re-checked on the first sweep).
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { SystemClock, type Clock, type TimerHandle } from '../common/clock.js';
import { silentLogger } from '../common/log.js';
import {
  MAX_DESCRIPTOR_BYTES,
  MalformedDescriptorError,
  decodeDescriptor,
  encodeDescriptor,
  verifyDescriptor,
  type Descriptor,
} from '../protocol/descriptor.js';
import type { RelayCandidate } from '../client/path/relays.js';
import type { ChainNodeStatus, ChainView } from './chain-view.js';
import { DEFAULT_MAX_RESPONSE_ITEMS, type DiscoveryTransport, type GossipVerdict } from './transport.js';

export const DESCRIPTOR_TOPIC_VERSION = 1;
export const DEFAULT_CHAIN_TTL_MS = 60_000;
export const DEFAULT_CHAIN_TIMEOUT_MS = 10_000;
export const DEFAULT_SWEEP_INTERVAL_MS = 15_000;
export const DEFAULT_SYNC_INTERVAL_MS = 5 * 60_000;
/** Matches the transports' default response bound, so a full directory can be served in one answer. */
export const DEFAULT_MAX_ENTRIES = DEFAULT_MAX_RESPONSE_ITEMS;
export const CACHE_SAVE_DELAY_MS = 1_000;
const CACHE_FILE_VERSION = 1;
const SYNC_INGEST_CONCURRENCY = 16;

/** The gossipsub topic descriptors for `chainId` travel on. */
export function descriptorTopic(chainId: string): string {
  return `topvpn/descriptors/${chainId}/${DESCRIPTOR_TOPIC_VERSION}`;
}

export type RejectReason = 'malformed' | 'bad-signature' | 'expired' | 'from-future' | 'wrong-chain' | 'unstaked' | 'jailed' | 'capacity';
export const REJECT_REASONS: readonly RejectReason[] = ['malformed', 'bad-signature', 'expired', 'from-future', 'wrong-chain', 'unstaked', 'jailed', 'capacity'];
export type EvictReason = 'expired' | 'unstaked' | 'jailed';

export type IngestOutcome =
  | { kind: 'added'; nodeAddress: string }
  | { kind: 'updated'; nodeAddress: string }
  /** Same or older publishedAt than the one held. */
  | { kind: 'duplicate'; nodeAddress: string }
  /** Valid, but the chain could not be asked; held (not a candidate) and re-checked on the next sweep. */
  | { kind: 'pending'; nodeAddress: string }
  | { kind: 'rejected'; reason: RejectReason; detail: string };

export type DirectoryChange =
  | { kind: 'added' | 'updated'; nodeAddress: string; descriptor: Descriptor; bytes: Uint8Array }
  | { kind: 'removed'; nodeAddress: string; reason: EvictReason };

export interface DirectoryStats {
  added: number;
  updated: number;
  duplicates: number;
  pending: number;
  rejected: Record<RejectReason, number>;
  evicted: Record<EvictReason, number>;
  chainErrors: number;
  syncs: number;
  syncFailures: number;
}

export interface DirectoryOptions {
  chainId: string;
  chain: ChainView;
  clock?: Clock;
  /** Smallest relay stake that counts (base units, default 1). Pass the chain's relay minimum. */
  minStake?: bigint;
  chainTtlMs?: number;
  /** A chain query not answered within this long counts as the chain being unreachable. */
  chainTimeoutMs?: number;
  sweepIntervalMs?: number;
  /** Re-request every connected peer's set this often once attached (anti-entropy). */
  syncIntervalMs?: number;
  maxEntries?: number;
  maxClockSkewMs?: number;
  /** JSON file of the last good set (written 0600). */
  cacheFile?: string;
  log?: Logger;
}

export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';
}

export class ChainTimeoutError extends Error {
  override readonly name = 'ChainTimeoutError';
}

interface Entry {
  descriptor: Descriptor;
  bytes: Uint8Array;
  /** Last chain answer; undefined while pending. */
  status: ChainNodeStatus | undefined;
  /** clock.now() of that answer (−Infinity: re-check at the next sweep). */
  checkedAt: number;
}

interface CachedStatus {
  status: ChainNodeStatus | undefined;
  at: number;
}

interface CacheFileItem {
  descriptor: string;
  registered: boolean;
  role: string;
  stake: string;
  jailed: boolean;
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export class Directory {
  readonly chainId: string;
  readonly topic: string;
  private readonly chain: ChainView;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly minStake: bigint;
  private readonly chainTtlMs: number;
  private readonly chainTimeoutMs: number;
  private readonly sweepIntervalMs: number;
  private readonly syncIntervalMs: number;
  private readonly maxEntries: number;
  private readonly maxClockSkewMs: number | undefined;
  private readonly cacheFile: string | undefined;

  private readonly entries = new Map<string, Entry>();
  private readonly statusCache = new Map<string, CachedStatus>();
  private readonly inflight = new Map<string, Promise<ChainNodeStatus | undefined>>();
  private readonly locals = new Map<string, Uint8Array>();
  private readonly listeners = new Set<(c: DirectoryChange) => void>();
  private readonly counts: DirectoryStats;
  private sweepTimer: TimerHandle | undefined;
  private syncTimer: TimerHandle | undefined;
  private saveTimer: TimerHandle | undefined;
  private sweeping: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private detachFns: (() => void)[] = [];
  private running = false;

  constructor(opts: DirectoryOptions) {
    this.chainId = opts.chainId;
    this.topic = descriptorTopic(opts.chainId);
    this.chain = opts.chain;
    this.clock = opts.clock ?? new SystemClock();
    this.log = opts.log ?? silentLogger();
    this.minStake = opts.minStake ?? 1n;
    this.chainTtlMs = opts.chainTtlMs ?? DEFAULT_CHAIN_TTL_MS;
    this.chainTimeoutMs = opts.chainTimeoutMs ?? DEFAULT_CHAIN_TIMEOUT_MS;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.syncIntervalMs = opts.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxClockSkewMs = opts.maxClockSkewMs;
    this.cacheFile = opts.cacheFile;
    if (this.minStake < 1n) throw new DirectoryError('minStake must be at least 1 base unit');
    if (!(this.chainTtlMs > 0 && this.chainTimeoutMs > 0 && this.sweepIntervalMs > 0 && this.syncIntervalMs > 0)) throw new DirectoryError('intervals must be positive');
    this.counts = {
      added: 0,
      updated: 0,
      duplicates: 0,
      pending: 0,
      rejected: zeroCounts(REJECT_REASONS),
      evicted: zeroCounts<EvictReason>(['expired', 'unstaked', 'jailed']),
      chainErrors: 0,
      syncs: 0,
      syncFailures: 0,
    };
  }

  /** Loads the cache file (if any) and starts the sweep timer. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.cacheFile !== undefined) await this.loadCache(this.cacheFile);
    this.scheduleSweep();
  }

  /** Stops timers, detaches from transports, and writes the cache file (if configured). */
  async stop(): Promise<void> {
    this.running = false;
    for (const t of [this.sweepTimer, this.syncTimer, this.saveTimer]) if (t) this.clock.clearTimeout(t);
    this.sweepTimer = this.syncTimer = this.saveTimer = undefined;
    for (const d of this.detachFns.splice(0)) d();
    if (this.cacheFile !== undefined) await this.save();
  }

  /**
   * Wires a transport: gossip on this chain's topic goes through ingest (its outcome is the
   * gossip verdict), each peer is asked for its set when it connects and when it joins the
   * topic, every syncIntervalMs all peers are asked again (anti-entropy), and (unless serve is false) requests are answered with servable().
   * Returns a function that undoes the wiring.
   */
  attach(transport: DiscoveryTransport, opts: { serve?: boolean } = {}): () => void {
    transport.subscribe(this.topic, (data, from) => this.gossipVerdict(data, from));
    if (opts.serve !== false) transport.serve(() => this.servable());
    // Ask a peer for its set when it connects, and again once its subscription to the topic
    // is seen: what it learned between the two never reached us by gossip.
    const offConnect = transport.onPeerConnected((peer) => void this.syncFrom(transport, peer));
    const offSubscribe = transport.onPeerSubscribed((peer, topic) => {
      if (topic === this.topic) void this.syncFrom(transport, peer);
    });
    let syncTimer: TimerHandle | undefined;
    const tick = (): void => {
      if (!this.running) return;
      for (const p of transport.peers()) void this.syncFrom(transport, p);
      syncTimer = this.clock.setTimeout(tick, this.syncIntervalMs);
    };
    syncTimer = this.clock.setTimeout(tick, this.syncIntervalMs);
    for (const p of transport.peers()) void this.syncFrom(transport, p);
    const detach = (): void => {
      offConnect();
      offSubscribe();
      transport.unsubscribe(this.topic);
      if (syncTimer) this.clock.clearTimeout(syncTimer);
      syncTimer = undefined;
      this.detachFns = this.detachFns.filter((d) => d !== detach);
    };
    this.detachFns.push(detach);
    return detach;
  }

  /** Asks one peer for its set and ingests it; returns how many items came back (−1 on failure). */
  async syncFrom(transport: DiscoveryTransport, peer: string): Promise<number> {
    let items: Uint8Array[];
    try {
      items = await transport.request(peer);
    } catch (err) {
      this.counts.syncFailures++;
      this.log.debug({ peer, err: (err as Error).message }, 'descriptor request failed');
      return -1;
    }
    this.counts.syncs++;
    // Bounded parallelism: a large answer must not wait on one chain query at a time.
    for (let i = 0; i < items.length; i += SYNC_INGEST_CONCURRENCY) {
      await Promise.all(items.slice(i, i + SYNC_INGEST_CONCURRENCY).map((it) => this.ingest(it)));
    }
    return items.length;
  }

  /** Descriptors this node published itself: always served, whatever the chain says of them. */
  setLocal(d: Descriptor): void {
    this.locals.set(d.nodeAddress, encodeDescriptor(d));
  }

  removeLocal(nodeAddress: string): void {
    this.locals.delete(nodeAddress);
  }

  /**
   * What this node answers to a descriptor request: its own descriptors, then every
   * candidate's, at most DEFAULT_MAX_RESPONSE_ITEMS in all.
   */
  servable(): Uint8Array[] {
    const out = [...this.locals.values()];
    const now = this.clock.wallMs();
    for (const [addr, e] of this.entries) {
      if (out.length >= DEFAULT_MAX_RESPONSE_ITEMS) break;
      if (this.locals.has(addr)) continue;
      if (this.isEligible(e.status) && now < e.descriptor.expiresAt) out.push(e.bytes);
    }
    return out;
  }

  /** Verified, unexpired, staked and unjailed relays, sorted by node address. */
  candidates(): RelayCandidate[] {
    const now = this.clock.wallMs();
    const out: RelayCandidate[] = [];
    for (const e of this.entries.values()) {
      if (!this.isEligible(e.status) || now >= e.descriptor.expiresAt) continue;
      out.push({ descriptor: e.descriptor, stake: e.status!.stake, jailed: false });
    }
    return out.sort((a, b) => (a.descriptor.nodeAddress < b.descriptor.nodeAddress ? -1 : 1));
  }

  /** Number of held descriptors, candidates and pending ones alike. */
  get size(): number {
    return this.entries.size;
  }

  stats(): DirectoryStats {
    return { ...this.counts, rejected: { ...this.counts.rejected }, evicted: { ...this.counts.evicted } };
  }

  onChange(listener: (c: DirectoryChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes one descriptor in wire form (see the module comment). Never throws for bad input. */
  async ingest(bytes: Uint8Array): Promise<IngestOutcome> {
    if (bytes.length > MAX_DESCRIPTOR_BYTES) return this.reject('malformed', `larger than ${MAX_DESCRIPTOR_BYTES} bytes`);
    let d: Descriptor;
    try {
      d = decodeDescriptor(bytes);
    } catch (err) {
      if (err instanceof MalformedDescriptorError) return this.reject('malformed', err.reason);
      throw err;
    }
    const addr = d.nodeAddress;
    const held = this.entries.get(addr);
    if (held && bytesEqual(held.bytes, bytes)) return this.duplicate(addr);
    const v = verifyDescriptor(d, this.clock.wallMs(), { chainId: this.chainId, ...(this.maxClockSkewMs !== undefined ? { maxClockSkewMs: this.maxClockSkewMs } : {}) });
    if (!v.ok) return this.reject(v.reason, v.detail);
    if (held && held.descriptor.publishedAt >= d.publishedAt) return this.duplicate(addr);

    let status: ChainNodeStatus | undefined;
    let known = true;
    try {
      status = await this.chainStatus(addr);
    } catch (err) {
      known = false;
      this.counts.chainErrors++;
      this.log.debug({ node: addr.slice(0, 12), err: (err as Error).message }, 'chain status unavailable');
    }
    const now = this.entries.get(addr);
    if (now && now.descriptor.publishedAt >= d.publishedAt) return this.duplicate(addr);
    if (!now && this.entries.size >= this.maxEntries) return this.reject('capacity', `holding ${this.maxEntries} descriptors`);
    if (!known) {
      // Keep the better of the held answer and "unknown".
      const entry: Entry = { descriptor: d, bytes: Uint8Array.from(bytes), status: now?.status, checkedAt: now ? now.checkedAt : -Infinity };
      this.entries.set(addr, entry);
      if (entry.status === undefined) {
        this.counts.pending++;
        return { kind: 'pending', nodeAddress: addr };
      }
      return this.stored(now, entry);
    }
    const bad = this.ineligible(status);
    if (bad) {
      if (now) this.evict(addr, bad);
      return this.reject(bad, bad === 'jailed' ? 'node is jailed on chain' : 'node is not a staked relay on chain');
    }
    const entry: Entry = { descriptor: d, bytes: Uint8Array.from(bytes), status, checkedAt: this.statusCache.get(addr)?.at ?? this.clock.now() };
    this.entries.set(addr, entry);
    return this.stored(now, entry);
  }

  /**
   * Drops expired descriptors and re-asks the chain about entries whose answer is older than
   * the TTL (and pending ones). Runs on the sweep timer; callable directly. Expiry is applied
   * at once on every call; concurrent calls share one round of chain queries.
   */
  sweep(): Promise<void> {
    const wall = this.clock.wallMs();
    for (const [addr, e] of [...this.entries]) if (wall >= e.descriptor.expiresAt) this.evict(addr, 'expired');
    this.sweeping ??= this.refreshDue().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Writes the cache file now (no-op without one). */
  async save(): Promise<void> {
    const file = this.cacheFile;
    if (file === undefined) return;
    const items: CacheFileItem[] = [];
    for (const e of this.entries.values()) {
      if (!e.status || !this.isEligible(e.status)) continue;
      items.push({ descriptor: Buffer.from(e.bytes).toString('utf8'), registered: e.status.registered, role: e.status.role, stake: e.status.stake.toString(), jailed: e.status.jailed });
    }
    const text = JSON.stringify({ version: CACHE_FILE_VERSION, chainId: this.chainId, savedAt: this.clock.wallMs(), relays: items });
    this.saving = this.saving.then(() => writeFileAtomic0600(file, text)).catch((err: unknown) => {
      this.log.warn({ file, err: (err as Error).message }, 'cannot write descriptor cache');
    });
    await this.saving;
  }

  private async refreshDue(): Promise<void> {
    const due = [...this.entries].filter(([, e]) => e.status === undefined || this.clock.now() - e.checkedAt >= this.chainTtlMs);
    await Promise.all(
      due.map(async ([addr]) => {
        let status: ChainNodeStatus | undefined;
        try {
          status = await this.chainStatus(addr);
        } catch (err) {
          this.counts.chainErrors++;
          this.log.debug({ node: addr.slice(0, 12), err: (err as Error).message }, 'chain status unavailable');
          return;
        }
        const e = this.entries.get(addr);
        if (!e) return;
        const bad = this.ineligible(status);
        if (bad) {
          this.evict(addr, bad);
          return;
        }
        const wasCandidate = e.status !== undefined;
        e.status = status;
        e.checkedAt = this.statusCache.get(addr)?.at ?? this.clock.now();
        if (!wasCandidate) {
          this.counts.added++;
          this.emit({ kind: 'added', nodeAddress: addr, descriptor: e.descriptor, bytes: e.bytes });
        }
      }),
    );
  }

  private scheduleSweep(): void {
    if (!this.running) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      // Next tick first: a slow chain must not stretch the interval (runs share one sweep).
      this.scheduleSweep();
      void this.sweep();
    }, this.sweepIntervalMs);
  }

  private async gossipVerdict(data: Uint8Array, _from: string): Promise<GossipVerdict> {
    const o = await this.ingest(data);
    switch (o.kind) {
      case 'added':
      case 'updated':
        return 'accept';
      case 'duplicate':
      case 'pending':
        return 'ignore';
      case 'rejected':
        // Chain-dependent verdicts are not the sender's fault (views of the chain may differ).
        return o.reason === 'unstaked' || o.reason === 'jailed' || o.reason === 'capacity' ? 'ignore' : 'reject';
    }
  }

  /** Chain answer for `addr`, from the TTL cache or one shared in-flight query. */
  private chainStatus(addr: string): Promise<ChainNodeStatus | undefined> {
    const c = this.statusCache.get(addr);
    if (c && this.clock.now() - c.at < this.chainTtlMs) return Promise.resolve(c.status);
    let p = this.inflight.get(addr);
    if (!p) {
      p = this.withTimeout(this.chain.nodeStatus(addr))
        .then((status) => {
          this.statusCache.set(addr, { status, at: this.clock.now() });
          return status;
        })
        .finally(() => this.inflight.delete(addr));
      this.inflight.set(addr, p);
    }
    return p;
  }

  /** Rejects with ChainTimeoutError when the chain has not answered within chainTimeoutMs. */
  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.clock.setTimeout(() => reject(new ChainTimeoutError(`chain did not answer within ${this.chainTimeoutMs} ms`)), this.chainTimeoutMs);
      p.then(
        (v) => {
          this.clock.clearTimeout(t);
          resolve(v);
        },
        (err: unknown) => {
          this.clock.clearTimeout(t);
          reject(err);
        },
      );
    });
  }

  private isEligible(s: ChainNodeStatus | undefined): boolean {
    return s !== undefined && this.ineligible(s) === null;
  }

  private ineligible(s: ChainNodeStatus | undefined): 'unstaked' | 'jailed' | null {
    if (s === undefined || !s.registered || s.role !== 'relay') return 'unstaked';
    if (s.jailed) return 'jailed';
    if (s.stake < this.minStake) return 'unstaked';
    return null;
  }

  private stored(prev: Entry | undefined, entry: Entry): IngestOutcome {
    const addr = entry.descriptor.nodeAddress;
    const wasCandidate = prev !== undefined && prev.status !== undefined;
    if (wasCandidate) this.counts.updated++;
    else this.counts.added++;
    this.emit({ kind: wasCandidate ? 'updated' : 'added', nodeAddress: addr, descriptor: entry.descriptor, bytes: entry.bytes });
    return { kind: wasCandidate ? 'updated' : 'added', nodeAddress: addr };
  }

  private duplicate(addr: string): IngestOutcome {
    this.counts.duplicates++;
    return { kind: 'duplicate', nodeAddress: addr };
  }

  private reject(reason: RejectReason, detail: string): IngestOutcome {
    this.counts.rejected[reason]++;
    return { kind: 'rejected', reason, detail };
  }

  private evict(addr: string, reason: EvictReason): void {
    const e = this.entries.get(addr);
    if (!e) return;
    this.entries.delete(addr);
    this.counts.evicted[reason]++;
    if (e.status !== undefined) this.emit({ kind: 'removed', nodeAddress: addr, reason });
  }

  private emit(c: DirectoryChange): void {
    for (const l of this.listeners) {
      try {
        l(c);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'directory listener threw');
      }
    }
    if (this.cacheFile !== undefined && this.running && !this.saveTimer) {
      this.saveTimer = this.clock.setTimeout(() => {
        this.saveTimer = undefined;
        void this.save();
      }, CACHE_SAVE_DELAY_MS);
    }
  }

  private async loadCache(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.log.warn({ file, err: (err as Error).message }, 'cannot read descriptor cache');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.log.warn({ file }, 'descriptor cache is not JSON; ignoring it');
      return;
    }
    const o = parsed as { version?: unknown; chainId?: unknown; relays?: unknown };
    if (o?.version !== CACHE_FILE_VERSION || o.chainId !== this.chainId || !Array.isArray(o.relays)) {
      this.log.warn({ file }, 'descriptor cache is for another version or chain; ignoring it');
      return;
    }
    let loaded = 0;
    for (const raw of o.relays.slice(0, this.maxEntries) as unknown[]) {
      const it = raw as Partial<CacheFileItem> | null;
      if (!it || typeof it.descriptor !== 'string' || typeof it.stake !== 'string' || !/^[0-9]{1,40}$/.test(it.stake)) continue;
      if (typeof it.registered !== 'boolean' || typeof it.role !== 'string' || typeof it.jailed !== 'boolean') continue;
      const bytes = new TextEncoder().encode(it.descriptor);
      let d: Descriptor;
      try {
        d = decodeDescriptor(bytes);
      } catch {
        this.counts.rejected.malformed++;
        continue;
      }
      const v = verifyDescriptor(d, this.clock.wallMs(), { chainId: this.chainId });
      if (!v.ok) {
        this.counts.rejected[v.reason]++;
        continue;
      }
      const status: ChainNodeStatus = { registered: it.registered, role: it.role, stake: BigInt(it.stake), jailed: it.jailed };
      if (!this.isEligible(status)) continue;
      const held = this.entries.get(d.nodeAddress);
      if (held && held.descriptor.publishedAt >= d.publishedAt) continue;
      // The saved chain answer stands until the first sweep re-checks it.
      this.entries.set(d.nodeAddress, { descriptor: d, bytes, status, checkedAt: -Infinity });
      loaded++;
      this.counts.added++;
      this.emit({ kind: 'added', nodeAddress: d.nodeAddress, descriptor: d, bytes });
    }
    this.log.info({ file, loaded }, 'descriptor cache loaded');
  }
}

/** Writes `text` to `file` via a 0600 temp file and rename (readers never see half a file). */
async function writeFileAtomic0600(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
