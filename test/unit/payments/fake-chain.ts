/**
 * An in-memory ChainPort over the real pure state transition (chain/state applyBlock): claims
 * are built with buildClaimTx, queued, and applied when the test mines a block; the supply
 * invariant is checked after every block. Failure injection: `failSubmissions` (submitClaim
 * throws), `dropSubmissions` (accepted, never mined), `offline` (getChannel throws).
 */
import assert from 'node:assert/strict';
import {
  applyBlock,
  channelIdFor,
  checkSupply,
  DEVNET_PARAMS,
  genesis,
  genesisStates,
  homeChain,
  makeParams,
  signTx,
  txHash,
  type BlockResult,
  type ChainName,
  type ChainParams,
  type ChainState,
  type Channel,
  type GenesisSupply,
  type KeyPair,
  type PaymentReceipt,
  type SignedTx,
  type TxOp,
} from '../../../chain/state/index.js';
import { buildClaimTx, type ChainPort } from '../../../relay/payments/claims.js';
import { CHAIN_ID } from './helpers.js';

export const PARAMS: ChainParams = makeParams({ chainId: CHAIN_ID, minFee: 10n }, DEVNET_PARAMS);

export class FakeChain implements ChainPort {
  states = new Map<ChainName, ChainState>();
  supply: GenesisSupply;
  mempool: SignedTx[] = [];
  blocks: BlockResult[] = [];
  submissions = 0;
  failSubmissions = 0;
  dropSubmissions = 0;
  offline = false;

  constructor(
    readonly relay: KeyPair,
    balances: { who: KeyPair; amount: bigint }[],
    readonly params: ChainParams = PARAMS,
  ) {
    const g = genesis(params, balances.map((b) => ({ address: b.who.address, amount: b.amount })));
    for (const s of genesisStates(g)) this.states.set(s.chain, s);
    this.supply = g.supply;
  }

  home(address: string): ChainName {
    return homeChain(address, this.params.shardCount);
  }
  state(chain: ChainName): ChainState {
    return this.states.get(chain)!;
  }
  balance(k: KeyPair): bigint {
    return this.state(this.home(k.address)).accounts.get(k.address)?.balance ?? 0n;
  }
  burned(): bigint {
    let b = 0n;
    for (const s of this.states.values()) b += s.burned;
    return b;
  }

  async submitClaim(receipt: PaymentReceipt, signature: string): Promise<string> {
    this.submissions++;
    if (this.failSubmissions > 0) {
      this.failSubmissions--;
      throw new Error('node unreachable (injected)');
    }
    const ch = this.findChannel(receipt.channelId);
    const stx = buildClaimTx({ chainId: this.params.chainId, shardCount: this.params.shardCount, payer: ch?.payer ?? this.relay.address, relaySeed: this.relay.seed, relay: this.relay.address, fee: this.params.minFee, best: { receipt, signature } });
    if (this.dropSubmissions > 0) this.dropSubmissions--;
    else this.mempool.push(stx);
    return txHash(stx.tx);
  }

  async getChannel(channelId: string): Promise<Channel | null> {
    if (this.offline) throw new Error('offline (injected)');
    const ch = this.findChannel(channelId);
    return ch ? structuredClone(ch) : null;
  }

  findChannel(id: string): Channel | undefined {
    for (const s of this.states.values()) if (s.channels.get(id)) return s.channels.get(id);
    return undefined;
  }

  /** Signs `op` from `who` with its next nonce on its home shard and queues it. */
  send(who: KeyPair, op: TxOp): SignedTx {
    const chain = this.home(who.address);
    const pendingFromWho = this.mempool.filter((t) => t.tx.from === who.address && t.tx.op.type !== 'channel-claim').length;
    const nonce = (this.state(chain).accounts.get(who.address)?.nonce ?? 0) + pendingFromWho;
    const stx = signTx({ chainId: this.params.chainId, chain, from: who.address, nonce, fee: this.params.minFee, op }, who.seed);
    this.mempool.push(stx);
    return stx;
  }

  /** One block on every shard with its queued txs; asserts every tx ok and the supply invariant. */
  mine(expectOk = true): BlockResult[] {
    const out: BlockResult[] = [];
    for (const [chain, s] of this.states) {
      if (chain === 'beacon') continue;
      const txs = this.mempool.filter((t) => t.tx.chain === chain);
      const res = applyBlock(s, { chain, height: s.height + 1, txs, receipts: [], confirms: [] }, this.params);
      if (expectOk) for (const r of res.results) assert.equal(r.status, 'ok', r.error?.message);
      this.states.set(chain, res.state);
      this.blocks.push(res);
      out.push(res);
    }
    this.mempool = [];
    const rep = checkSupply([...this.states.values()], this.supply);
    assert.ok(rep.ok, rep.message);
    return out;
  }

  height(chain: ChainName): number {
    return this.state(chain).height;
  }

  /** Opens a channel payer → relay and mines it; returns its id. */
  open(payer: KeyPair, deposit: bigint): string {
    const nonce = this.state(this.home(payer.address)).accounts.get(payer.address)?.nonce ?? 0;
    this.send(payer, { type: 'channel-open', relay: this.relay.address, deposit });
    this.mine();
    return channelIdFor(this.params.chainId, payer.address, nonce);
  }
}
