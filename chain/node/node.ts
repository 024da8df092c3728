/**
 * A topchain node: one process, one data dir. Composes the network seam, the store, one
 * ChainRuntime per chain (beacon + S shards) and the JSON-RPC server.
 */
import { BoundedCache } from '../../common/bounded-cache.js';
import { ed25519VerifyHex } from '../../common/ed25519.js';
import type { Logger } from 'pino';
import { createSigner, type Signer } from '../consensus/crypto.js';
import {
  DEVNET_PARAMS,
  accountOf,
  applyTx,
  checkSupply,
  evidenceKey,
  genesis as buildGenesis,
  hashCanonical,
  homeChain,
  isChainName,
  makeParams,
  reviveJson,
  signTx,
  txHash,
  txSigningBytesOf,
  type ChainParams,
  type ChainState,
  type GenesisNode as StateGenesisNode,
  type GenesisSupply,
  type SignedTx,
  type SupplyReport,
  type Tx,
  type VoteEvidence,
} from '../state/index.js';
import { sha256Hex } from '../consensus/encoding.js';
import { ChainRuntime, type ByzantineOptions, type RuntimeTiming } from './chain-runtime.js';
import { timingFromGenesis } from './runtime-types.js';
import type { GenesisFile } from './config.js';
import type { KeyPair } from './keys.js';
import type { Network } from './net.js';
import type { BlockRecord, PayloadV1 } from './payload.js';
import type { BatchOp, KvStore } from './store.js';
import { indexedTx } from './tx-index.js';
import { CommitteeSchedule, committeesFromGenesis } from './epochs.js';
import { p2pEndpointFor, RegistryPeerFeed } from './peer-book.js';
import type { Committees } from '../state/election.js';
import type { Block } from '../consensus/types.js';

export class TxRejected extends Error {
  override name = 'TxRejected';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(`${rule}: ${message}`);
  }
}

/** A submitted tx with a field of the wrong type or shape (checked before any rule runs). */
export class MalformedTxError extends TxRejected {
  override name = 'MalformedTxError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('tx', `${field}: ${message}`);
  }
}

export interface ChainNodeOptions {
  readonly genesis: GenesisFile;
  readonly key: KeyPair;
  readonly net: Network;
  readonly store: KvStore;
  readonly log: Logger;
  readonly timing?: Partial<RuntimeTiming>;
  /**
   * How long the validator ranked r-th for an offence waits before reporting it (r × this),
   * so that normally one `slash` tx is sent per offence. Default 4 × baseTimeoutMs.
   */
  readonly slashReportStaggerMs?: number;
  /** Test-only misbehaviour (chain/node/test-hooks.ts); a node process gets it only from byzantineFromEnv (TOPVPN_TEST_HOOKS=devnet). */
  readonly byzantine?: ByzantineOptions;
}

export interface NodeEvents {
  onBlock?(chain: string, rec: BlockRecord, payload: PayloadV1): void;
  onFinal?(chain: string, height: number): void;
  onTxAdmitted?(hash: string): void;
  /** `chain` is a known chain name (beacon/shard-i) or 'unknown'. */
  onTxRejected?(chain: string): void;
  onIncident?(kind: Exclude<Incident, 'view_change'>, chain: string): void;
  onViewChange?(chain: string): void;
}

/** Things worth counting: view changes and error kinds (see metrics.ts CHAIN_ERROR_KINDS). */
export type Incident = 'view_change' | 'commit_refused' | 'validation' | 'store' | 'sync' | 'internal';

/** Genesis-time registration of the devnet's nodes on the beacon (validators, auditors). */
export function genesisNodes(g: GenesisFile, params: ChainParams): StateGenesisNode[] {
  const role = new Map<string, 'validator' | 'auditor'>();
  for (const grp of Object.values(g.committees)) {
    for (const v of grp.validators) if (!role.has(v)) role.set(v, 'validator');
    for (const a of grp.auditors) role.set(a, 'auditor');
  }
  // Directory nodes outside every committee (spares) are not registered: they register by tx.
  return g.nodes
    .filter((n) => role.has(n.address))
    .map((n) => {
      const r = role.get(n.address)!;
      return { owner: n.address, role: r, consensusKey: n.address, onionKey: null, endpoints: [p2pEndpointFor(n.p2p, n.address), n.rpc], pricePerGiB: 0n, region: 'local', deposit: params.minDeposit[r] };
    });
}

export function paramsOf(g: GenesisFile): ChainParams {
  const base = makeParams({ chainId: g.chainId, shardCount: g.shards }, DEVNET_PARAMS);
  const e = g.election;
  if (!e) return base;
  // The beacon committee keeps its genesis size (it rotates, it does not grow or shrink by itself).
  const beaconSize = g.committees.beacon?.validators.length || base.committee.beaconSize;
  return { ...base, epochBlocks: e.epochBlocks, committee: { ...base.committee, beaconSize, ...(e.validatorsPerShard ? { validatorsPerShard: e.validatorsPerShard } : {}), ...(e.auditorsPerShard ? { auditorsPerShard: e.auditorsPerShard } : {}) } };
}

export function genesisStatesOf(g: GenesisFile): { params: ChainParams; states: Map<string, ChainState>; supply: GenesisSupply; genesisId: string } {
  const params = paramsOf(g);
  const gen = buildGenesis(
    params,
    g.allocations.map((a) => ({ address: a.address, amount: BigInt(a.amount) })),
    { nodes: genesisNodes(g, params) },
  );
  const states = new Map<string, ChainState>();
  states.set('beacon', gen.beacon);
  for (const s of gen.shards) states.set(s.chain, s);
  const genesisId = hashCanonical({ type: 'topvpn/genesis/v1', genesis: g as unknown as Record<string, unknown> });
  return { params, states, supply: gen.supply, genesisId };
}

/** Tx signature results a node remembers (about a minute of txs at this machine's saturation rate). */
export const VERIFIED_TXS_MAX = 50_000;

export class ChainNode {
  readonly chainId: string;
  readonly params: ChainParams;
  readonly self: string;
  readonly signer: Signer;
  readonly runtimes = new Map<string, ChainRuntime>();
  readonly genesisSupply: GenesisSupply;
  readonly genesisId: string;
  readonly events: NodeEvents = {};
  readonly startedAt = Date.now();
  /** Tx signature checks by tx hash, the last VERIFIED_TXS_MAX or so (see verifyTx). */
  private readonly verified = new BoundedCache<string, { readonly signature: string; readonly ok: boolean }>(VERIFIED_TXS_MAX);
  /** Txs this node accepted but forwarded (not in its own mempool): hash → chain. */
  private readonly submitted = new Map<string, string>();
  /** Ed25519 tx verifications done by this node (bench: verifications per tx). */
  txVerifications = 0;
  /** View changes (timeouts) this node's consensus cores went through, all chains (bench: latency tails). */
  viewChanges = 0;
  /** viewChanges per chain. */
  readonly viewChangesByChain = new Map<string, number>();
  /** Offences (evidenceKey) this node has scheduled or sent a report for. */
  private readonly reported = new Set<string>();
  /** Next nonce for this node's own txs (slash reports), at least the account nonce. */
  private ownNonce = 0;
  private readonly reportTimers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** `slash` txs this node submitted (hash per offence key). */
  readonly slashReports = new Map<string, string>();
  /** Committees per epoch (re-elected on the beacon when genesis enables `election`). */
  readonly schedule: CommitteeSchedule;
  private readonly directory: ReadonlySet<string>;
  /**
   * Every node the runtimes address (commit announcements, audit shares): the genesis directory,
   * then the beacon registry's nodes with a valid p2p endpoint (peer-book.ts), kept current by
   * `learnPeers` on every beacon commit; the same registry peers feed the network's peer book.
   */
  private allNodes: readonly string[];
  private readonly peerFeed: RegistryPeerFeed;

  constructor(readonly opts: ChainNodeOptions) {
    const g = opts.genesis;
    this.chainId = g.chainId;
    this.self = opts.key.address;
    this.signer = createSigner(Buffer.from(opts.key.seedHex, 'hex'));
    const { params, states, supply, genesisId } = genesisStatesOf(g);
    this.params = params;
    this.genesisSupply = supply;
    this.genesisId = genesisId;
    const allNodes = g.nodes.map((n) => n.address);
    this.directory = new Set(allNodes);
    this.allNodes = allNodes;
    this.peerFeed = new RegistryPeerFeed((r) => opts.log.warn({ node: r.node.slice(0, 12), endpoint: r.endpoint, reason: r.reason }, 'registry endpoint skipped (not a usable p2p endpoint)'));
    const nodesNow = (): readonly string[] => this.allNodes;
    this.schedule = new CommitteeSchedule(committeesFromGenesis(g.committees, g.shards), g.election ? params.epochBlocks : 0);
    const timing: Partial<RuntimeTiming> = { ...timingFromGenesis(g.timing), ...opts.timing };
    const host = {
      chainId: this.chainId,
      params,
      self: this.self,
      signer: this.signer,
      net: opts.net,
      store: opts.store,
      log: opts.log,
      get allNodes(): readonly string[] {
        return nodesNow();
      },
      runtime: (c: string) => this.runtimes.get(c),
      groupAt: (c: string, h: number) => this.schedule.groupAt(c, h),
      commitOps: (rt: ChainRuntime, block: Block, st: ChainState) => this.electionOps(rt, block, st),
      verifyTx: (stx: SignedTx, hash: string) => this.verifyTx(stx, hash),
      onCommitted: (rt: ChainRuntime, rec: BlockRecord, payload: PayloadV1) => {
        if (rt.chain === 'beacon') this.learnPeers();
        if (rt.chain === 'beacon' && this.schedule.isElectionHeight(rec.block.height)) for (const r of this.runtimes.values()) if (r.chain !== 'beacon') r.onScheduleChanged();
        this.events.onBlock?.(rt.chain, rec, payload);
      },
      onFinal: (rt: ChainRuntime, h: number) => {
        for (const r of this.runtimes.values()) if (r !== rt) r.onSourceFinal(rt.chain, h);
        this.events.onFinal?.(rt.chain, h);
      },
      onIncident: (kind: Incident, chain: string) => {
        if (kind !== 'view_change') return this.events.onIncident?.(kind, chain);
        this.viewChanges++;
        this.viewChangesByChain.set(chain, (this.viewChangesByChain.get(chain) ?? 0) + 1);
        this.events.onViewChange?.(chain);
      },
      onEvidence: (rt: ChainRuntime, ev: VoteEvidence) => this.onEvidence(rt, ev),
      ...(opts.byzantine ? { byzantine: opts.byzantine } : {}),
    };
    for (const [chain, st] of states) {
      if (!g.committees[chain]) throw new Error(`genesis has no committee for ${chain}`);
      this.runtimes.set(chain, new ChainRuntime(host, chain, st, genesisId, timing));
    }
    opts.net.onMessage((from, msg) => {
      const rt = this.runtimes.get(msg.c);
      if (!rt) return;
      try {
        rt.onMessage(from, msg.k, msg.body);
      } catch (e) {
        opts.log.debug({ err: (e as Error).message, k: msg.k }, 'bad message');
      }
    });
  }

  async start(): Promise<void> {
    await this.opts.store.open();
    // Elections already final here (the beacon replay below rebuilds any lost one).
    for (let k = 1; this.schedule.enabled; k++) {
      const c = await this.opts.store.get<Committees>(`ep/${k}`);
      if (!c) break;
      this.schedule.set(k, c);
    }
    for (const rt of this.runtimes.values()) await rt.load();
    this.learnPeers();
    await this.opts.net.start();
    for (const rt of this.runtimes.values()) rt.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.reportTimers) clearTimeout(t);
    this.reportTimers.clear();
    for (const rt of this.runtimes.values()) await rt.stop();
    await this.opts.net.stop();
    await this.opts.store.close();
  }

  /**
   * Slashing: every validator of the chain that saw the double vote (except the offender) is
   * a candidate reporter; candidates are ranked by SHA-256(offence key ‖ address) and the r-th
   * waits r × stagger, then sends a `slash` tx from its own account (home shard, minimum fee)
   * unless the beacon has already recorded the offence. The beacon's one-slash-per-offence rule
   * makes a late duplicate harmless (it fails and costs its sender the fee only).
   */
  private onEvidence(rt: ChainRuntime, ev: VoteEvidence): void {
    const offender = ev.a.signer;
    if (offender === this.self) return;
    let key: string;
    try {
      key = evidenceKey(ev);
    } catch {
      return;
    }
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const ranked = rt.validators.filter((v) => v !== offender).sort((x, y) => (sha256Hex(key + x) < sha256Hex(key + y) ? -1 : 1));
    const rank = Math.max(0, ranked.indexOf(this.self));
    const stagger = this.opts.slashReportStaggerMs ?? 4 * rt.timing.baseTimeoutMs;
    const t = setTimeout(() => {
      this.reportTimers.delete(t);
      if (!this.stopped) this.reportSlash(ev, key);
    }, rank * stagger);
    t.unref();
    this.reportTimers.add(t);
  }

  private reportSlash(ev: VoteEvidence, key: string): void {
    const log = this.opts.log;
    if (this.runtime('beacon').state.slashedEvidence[key] !== undefined) {
      log.info({ offender: ev.a.signer.slice(0, 12), chain: ev.a.vote.chain }, 'offence already slashed; not reporting');
      return;
    }
    const home = this.homeChainOf(this.self);
    const acct = accountOf(this.runtime(home).state, this.self);
    const fee = this.params.minFee;
    if (acct.balance < fee) {
      log.warn({ offender: ev.a.signer.slice(0, 12), home }, 'cannot report equivocation: no balance for the slash tx fee');
      return;
    }
    const nonce = Math.max(acct.nonce, this.ownNonce);
    const tx: Tx = { chainId: this.chainId, chain: home as Tx['chain'], from: this.self, nonce, fee, op: { type: 'slash', evidence: ev } };
    try {
      const hash = this.submitTx(signTx(tx, Buffer.from(this.opts.key.seedHex, 'hex')));
      this.ownNonce = nonce + 1;
      this.slashReports.set(key, hash);
      log.warn({ offender: ev.a.signer.slice(0, 12), chain: ev.a.vote.chain, height: ev.a.vote.height, tx: hash.slice(0, 12) }, 'reported equivocation (slash tx)');
    } catch (e) {
      log.warn({ offender: ev.a.signer.slice(0, 12), err: (e as Error).message }, 'slash report refused');
    }
  }

  /**
   * The beacon's election (epochs.ts): when beacon block k·L is committed, elects epoch k's
   * committees (the beacon's own included) from the registry after that block, seeded from the
   * block's justify QC, and returns the record to store with the block.
   */
  private electionOps(rt: ChainRuntime, block: Block, st: ChainState): BatchOp[] {
    const e = rt.chain === 'beacon' ? this.schedule.electAt(block, st, this.params, this.directory) : undefined;
    if (!e) return [];
    const c = e.committees;
    this.opts.log.info({ epoch: e.epoch, beaconHeight: block.height, beacon: c.beacon.map((v) => v.slice(0, 8)), shards: c.shards.map((s) => ({ shard: s.shard, validators: s.validators.map((v) => v.slice(0, 8)), auditors: s.auditors.map((a) => a.slice(0, 8)) })) }, 'committees elected');
    return [{ type: 'put', key: `ep/${e.epoch}`, value: c }];
  }

  /** Peers from the finalized beacon registry (beacon blocks are final on commit): into allNodes and the net's peer book. */
  private learnPeers(): void {
    const beacon = this.runtimes.get('beacon');
    if (!beacon) return;
    const peers = this.peerFeed.update(beacon.state.nodes);
    if (!peers) return;
    const extra = peers.map((p) => p.address).filter((a) => !this.directory.has(a));
    this.allNodes = [...this.directory, ...[...new Set(extra)].sort()];
    this.opts.net.setRegistryPeers?.(peers);
  }

  runtime(chain: string): ChainRuntime {
    const rt = this.runtimes.get(chain);
    if (!rt) throw new TxRejected('tx', `unknown chain ${chain}`);
    return rt;
  }

  /**
   * Whether `stx` carries a valid signature by its sender over the tx whose hash is `hash`.
   * Each (tx, signature) is checked once per node while it is among the last VERIFIED_TXS_MAX / 2
   * to VERIFIED_TXS_MAX checked (a tx is looked up again at gossip, proposal, execution and
   * audit). Keyed by the memoized hash string, so a lookup allocates nothing; the same tx with
   * another signature is checked afresh and replaces the entry.
   */
  verifyTx(stx: SignedTx, hash: string): boolean {
    const hit = this.verified.get(hash);
    if (hit !== undefined && hit.signature === stx.signature) return hit.ok;
    this.txVerifications++;
    const ok = typeof stx.tx?.from === 'string' && ed25519VerifyHex(stx.tx.from, txSigningBytesOf(stx), stx.signature);
    this.verified.set(hash, { signature: stx.signature, ok });
    return ok;
  }

  homeChainOf(address: string): string {
    return homeChain(address, this.params.shardCount);
  }

  /** Parses a signed tx from JSON-RPC input (amounts as decimal strings). */
  static parseSignedTx(raw: unknown): SignedTx {
    if (raw === null || typeof raw !== 'object') throw new TxRejected('tx', 'expected {tx, signature}');
    let stx: SignedTx;
    try {
      stx = reviveJson<SignedTx>(raw);
    } catch (e) {
      // nested too deeply (SyntaxError)
      throw new TxRejected('tx', `not a JSON tx: ${(e as Error).message}`);
    }
    if (!stx.tx || typeof stx.tx !== 'object') throw new TxRejected('tx', 'missing tx');
    if (typeof stx.signature !== 'string') throw new TxRejected('signature', 'missing signature');
    const t = stx.tx;
    if (typeof t.from !== 'string' || !/^[0-9a-f]{64}$/.test(t.from)) throw new TxRejected('tx', 'from must be a 32-byte hex address');
    if (!Number.isSafeInteger(t.nonce) || t.nonce < 0) throw new TxRejected('nonce', 'nonce must be a non-negative integer');
    if (typeof t.fee !== 'bigint') throw new TxRejected('fee', 'fee must be a decimal string');
    if (!t.op || typeof t.op !== 'object' || typeof t.op.type !== 'string') throw new TxRejected('tx', 'missing op');
    return stx;
  }

  /**
   * Admits a tx submitted to this node: checks chain id, home chain, signature (once),
   * nonce and affordability; forwards it to its chain's validators. Returns the tx hash.
   * Throws TxRejected naming the rule broken.
   */
  submitTx(stx: SignedTx): string {
    try {
      const hash = this.admit(stx);
      this.events.onTxAdmitted?.(hash);
      return hash;
    } catch (e) {
      const c = typeof stx?.tx?.chain === 'string' && this.runtimes.has(stx.tx.chain) ? stx.tx.chain : 'unknown';
      if (c !== 'unknown') this.events.onTxRejected?.(c);
      throw e;
    }
  }

  /**
   * Shape checks on the untrusted fields admit() reads (a tx from RPC or a peer may carry any
   * JSON value): throws MalformedTxError naming the field.
   */
  static checkTxShape(stx: SignedTx): void {
    const raw: unknown = stx;
    if (raw === null || typeof raw !== 'object') throw new MalformedTxError('tx', 'expected {tx, signature}');
    const tx: unknown = stx.tx;
    if (tx === null || typeof tx !== 'object') throw new MalformedTxError('tx', 'missing tx object');
    const t = stx.tx;
    if (typeof t.chainId !== 'string') throw new MalformedTxError('chainId', 'must be a string');
    if (typeof t.chain !== 'string') throw new MalformedTxError('chain', 'must be a string');
    if (typeof t.from !== 'string' || !/^[0-9a-f]{64}$/.test(t.from)) throw new MalformedTxError('from', 'must be a 32-byte lowercase hex address');
    if (!Number.isSafeInteger(t.nonce) || t.nonce < 0) throw new MalformedTxError('nonce', 'must be a non-negative integer');
    if (typeof t.fee !== 'bigint' || t.fee < 0n) throw new MalformedTxError('fee', 'must be a non-negative integer (decimal string on the wire)');
    const op: unknown = t.op;
    if (op === null || typeof op !== 'object' || typeof t.op.type !== 'string') throw new MalformedTxError('op', 'must be an object with a string type');
    if (typeof stx.signature !== 'string') throw new MalformedTxError('signature', 'must be a hex string');
    if (t.op.type === 'transfer') {
      if (typeof t.op.amount !== 'bigint' || t.op.amount <= 0n) throw new MalformedTxError('op.amount', 'must be a positive integer (decimal string on the wire)');
      if (typeof t.op.to !== 'string' || !/^[0-9a-f]{64}$/.test(t.op.to)) throw new MalformedTxError('op.to', 'must be a 32-byte lowercase hex address');
    }
  }

  private admit(stx: SignedTx): string {
    ChainNode.checkTxShape(stx);
    const tx = stx.tx;
    if (tx.chainId !== this.chainId) throw new TxRejected('tx', `chain id ${tx.chainId.slice(0, 64)} ≠ ${this.chainId}`);
    if (typeof tx.chain !== 'string' || !isChainName(tx.chain, this.params.shardCount) || tx.chain === 'beacon') throw new TxRejected('tx', `chain must be one of shard-0..shard-${this.params.shardCount - 1}`);
    const isClaim = tx.op.type === 'channel-claim';
    const home = this.homeChainOf(tx.from);
    if (!isClaim && tx.chain !== home) throw new TxRejected('tx', `account ${tx.from.slice(0, 12)} lives on ${home}, not ${tx.chain}`);
    let hash: string;
    try {
      hash = txHash(tx);
    } catch (e) {
      throw new TxRejected('tx', `cannot encode: ${(e as Error).message}`);
    }
    const rt = this.runtime(tx.chain);
    if (rt.mempool.has(hash)) return hash;
    if (!this.verifyTx(stx, hash)) throw new TxRejected('signature', `invalid Ed25519 signature by ${tx.from.slice(0, 12)}`);
    const state = rt.state;
    if (!isClaim) {
      const acct = accountOf(state, tx.from);
      if (tx.nonce < acct.nonce) throw new TxRejected('nonce', `nonce ${tx.nonce} already used (account nonce ${acct.nonce})`);
      const runEnd = rt.mempool.pendingRunEnd(tx.from, acct.nonce);
      if (rt.isValidator && tx.nonce > runEnd + 1) throw new TxRejected('nonce', `nonce ${tx.nonce} leaves a gap (next expected ${runEnd + 1})`);
      if (tx.nonce === acct.nonce) {
        // Dry run on the committed state names the rule a tx would break.
        if (tx.op.type === 'transfer') {
          if (tx.fee < this.params.minFee && acct.resource.locked === 0n) throw new TxRejected('fee', `fee ${tx.fee} < minimum ${this.params.minFee}`);
          if (acct.balance < tx.fee + tx.op.amount) throw new TxRejected('transfer', `balance ${acct.balance} < amount ${tx.op.amount} + fee ${tx.fee}`);
        } else {
          const { result } = applyTx(state, stx, this.params);
          if (result.status !== 'ok') throw new TxRejected(result.error?.rule ?? 'tx', result.error?.message ?? result.status);
        }
      }
    } else {
      const { result } = applyTx(state, stx, this.params);
      if (result.status !== 'ok') throw new TxRejected(result.error?.rule ?? 'channel-claim', result.error?.message ?? result.status);
    }
    try {
      rt.admitLocal(stx, hash);
    } catch (e) {
      throw new TxRejected('mempool', (e as Error).message);
    }
    if (!rt.isValidator) {
      if (this.submitted.size > 100_000) this.submitted.clear();
      this.submitted.set(hash, rt.chain);
    }
    return hash;
  }

  /** Tx status: pending (in a mempool here), committed, final, or unknown. */
  async txStatus(hash: string): Promise<{ status: 'pending' | 'committed' | 'final' | 'unknown'; chain?: string; height?: number; result?: unknown }> {
    const idx = await indexedTx(this.opts.store, hash);
    if (idx) {
      const rt = this.runtimes.get(idx.loc.chain);
      const final = rt !== undefined && idx.loc.height <= rt.finalHeight;
      return { status: final ? 'final' : 'committed', chain: idx.loc.chain, height: idx.loc.height, result: idx.result };
    }
    for (const rt of this.runtimes.values()) if (rt.mempool.has(hash)) return { status: 'pending', chain: rt.chain };
    const fwd = this.submitted.get(hash);
    if (fwd) return { status: 'pending', chain: fwd };
    return { status: 'unknown' };
  }

  supply(): SupplyReport {
    return checkSupply([...this.runtimes.values()].map((r) => r.state), this.genesisSupply);
  }
}
