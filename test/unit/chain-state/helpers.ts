import assert from 'node:assert/strict';
import {
  applyBlock,
  checkSupply,
  DEVNET_PARAMS,
  genesis,
  genesisStates,
  homeChain,
  keyPairFromSeed,
  makeParams,
  sha256,
  signTx,
  stateRootFull,
  UNIT,
  type BlockBody,
  type BlockResult,
  type ChainName,
  type ChainParams,
  type ChainState,
  type CrossReceipt,
  type GenesisNode,
  type GenesisSupply,
  type KeyPair,
  type ReceiptConfirm,
  type SignedTx,
  type TxOp,
} from '../../../chain/state/index.js';

export const P: ChainParams = makeParams({ minFee: 10n }, DEVNET_PARAMS);

/** Deterministic key number i. */
export function key(i: number | string): KeyPair {
  return keyPairFromSeed(sha256(`chain-state-test-key-${i}`));
}

/** First deterministic keys whose home is `chain` (skipping `skip` of them). */
export function keyOn(chain: ChainName, params: ChainParams = P, skip = 0): KeyPair {
  for (let i = 0; ; i++) {
    const k = key(`${chain}-${i}`);
    if (homeChain(k.address, params.shardCount) === chain && skip-- === 0) return k;
  }
}

export function nodeSpec(owner: KeyPair, role: 'relay' | 'validator' | 'auditor', deposit: bigint): GenesisNode {
  const ck = key(`consensus-${owner.address}`);
  return {
    owner: owner.address,
    deposit,
    role,
    consensusKey: ck.address,
    onionKey: role === 'relay' ? key(`onion-${owner.address}`).address : null,
    endpoints: ['198.18.0.1:5000'],
    pricePerGiB: 1000n,
    region: 'eu',
  };
}

/** All chains' states plus a receipt router; checks the supply invariant after every block. */
export class World {
  states = new Map<ChainName, ChainState>();
  supply: GenesisSupply;
  log: BlockResult[] = [];
  private nonces = new Map<string, number>();
  constructor(
    readonly params: ChainParams,
    balances: { who: KeyPair; amount: bigint }[],
    nodes: GenesisNode[] = [],
    reserve = 0n,
  ) {
    const g = genesis(params, balances.map((b) => ({ address: b.who.address, amount: b.amount })), { nodes, reserve });
    for (const s of genesisStates(g)) this.states.set(s.chain, s);
    this.supply = g.supply;
  }
  get(chain: ChainName): ChainState {
    return this.states.get(chain)!;
  }
  all(): ChainState[] {
    return [...this.states.values()];
  }
  home(k: KeyPair): ChainName {
    return homeChain(k.address, this.params.shardCount);
  }
  balance(k: KeyPair): bigint {
    return this.get(this.home(k)).accounts.get(k.address)?.balance ?? 0n;
  }
  /** Signs op from `who` with the next nonce it has not used in this world. */
  tx(who: KeyPair, op: TxOp, opts: { fee?: bigint; chain?: ChainName; nonce?: number } = {}): SignedTx {
    const chain = opts.chain ?? this.home(who);
    const nonce = opts.nonce ?? (op.type === 'channel-claim' ? 0 : this.get(chain).accounts.get(who.address)?.nonce ?? 0);
    return signTx({ chainId: this.params.chainId, chain, from: who.address, nonce, fee: opts.fee ?? this.params.minFee, op }, who.seed);
  }
  /** Applies one block on `chain` and asserts the supply invariant over all chains. */
  block(chain: ChainName, body: Partial<Omit<BlockBody, 'chain' | 'height'>> = {}): BlockResult {
    const s = this.get(chain);
    const parentRoot = stateRootFull(s);
    const res = applyBlock(s, { chain, height: s.height + 1, txs: body.txs ?? [], receipts: body.receipts ?? [], confirms: body.confirms ?? [] }, this.params);
    // The incremental root equals a recompute from scratch, and the parent is untouched.
    assert.equal(res.stateRoot, stateRootFull(res.state), `incremental state root diverged at ${chain} #${res.state.height}`);
    assert.equal(stateRootFull(s), parentRoot, 'applyBlock changed its input state');
    this.states.set(chain, res.state);
    this.log.push(res);
    const rep = checkSupply(this.all(), this.supply);
    assert.ok(rep.ok, rep.message);
    return res;
  }
  /** One tx in its own block on its chain; returns its result. */
  run(stx: SignedTx): BlockResult['results'][number] {
    return this.block(stx.tx.chain, { txs: [stx] }).results[0]!;
  }
  /** Receipts to `dest` not yet applied there, in id order per source. */
  inbound(dest: ChainName): CrossReceipt[] {
    const out: CrossReceipt[] = [];
    for (const s of this.all()) {
      const applied = this.get(dest).inbox[s.chain] ?? 0;
      for (const r of s.outbox[dest]?.pending ?? []) if (r.id > applied) out.push(r);
    }
    return out;
  }
  confirmsFor(source: ChainName): ReceiptConfirm[] {
    const s = this.get(source);
    return Object.keys(s.outbox)
      .map((d) => ({ from: d as ChainName, appliedUpTo: this.get(d as ChainName).inbox[source] ?? 0 }))
      .filter((c) => c.appliedUpTo > s.outbox[c.from]!.confirmedUpTo);
  }
  /** Delivers every in-flight receipt and confirm (several rounds, as receipts can cause receipts). */
  settle(rounds = 6): void {
    for (let i = 0; i < rounds; i++) {
      for (const c of [...this.states.keys()]) {
        const receipts = this.inbound(c);
        const confirms = this.confirmsFor(c);
        if (receipts.length || confirms.length) this.block(c, { receipts, confirms });
      }
    }
  }
  /** Empty blocks on `chain` (to pass delays). */
  advance(chain: ChainName, n: number): void {
    for (let i = 0; i < n; i++) this.block(chain);
  }
}

export const TOP = UNIT;
