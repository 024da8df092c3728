/**
 * How executing a block grows with the number of accounts on its chain: applyBlock of a
 * 350-transfer block (200 senders, signatures not checked, tx hashes computed beforehand) on a
 * shard state holding N accounts, for each N in BENCH_STATE_ACCOUNTS (default 200,10000,100000).
 * Also the copy-on-write draft alone (beginDraft + endDraft of the same state), and the state
 * snapshot a node stores every `snapshotEvery` (20) blocks (chain/node/state-snapshot.ts): its
 * ops after the measured blocks, against the snapshot before them, each value encoded as the
 * store encodes it (packValue). Prints one JSON object:
 *   {block_txs, by_accounts: [{accounts, block_ms, us_per_tx, draft_ms, snapshot_ms, snapshot_ops}], block_ms_ratio_last_to_first}
 * block_ms / draft_ms are medians over BENCH_STATE_BLOCKS (default 7) blocks after 3 warm-up blocks (and
 * after one discarded pass on a 200-account state, so the JIT has optimized the code);
 * snapshot_ms is one snapshot.
 *   node dist/bench/state-scale.js
 */
import { beginDraft, endDraft } from '../chain/state/draft.js';
import { packValue } from '../chain/node/wire.js';
import { mapsOf, snapshotOps } from '../chain/node/state-snapshot.js';
import { applyBlock, DEVNET_PARAMS, genesis, genesisStates, homeChain, keyPairFromSeed, makeParams, sha256, signTx, txHashOf, type ChainState, type SignedTx } from '../chain/state/index.js';

const COUNTS = (process.env.BENCH_STATE_ACCOUNTS ?? '200,10000,100000').split(',').map(Number);
const BLOCKS = Number(process.env.BENCH_STATE_BLOCKS ?? 7);
const WARMUP = 3;
const TXS = 350;
const SENDERS = 200;
const P = makeParams({ minFee: 10n }, DEVNET_PARAMS);

const senders: ReturnType<typeof keyPairFromSeed>[] = [];
for (let i = 0; senders.length < SENDERS; i++) {
  const k = keyPairFromSeed(sha256(`state-scale-${i}`));
  if (homeChain(k.address, P.shardCount) === 'shard-0') senders.push(k);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function ms(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** 350 signed transfers among the senders; `nonces` holds each sender's next nonce (every transfer is valid: the senders are funded). */
function transfers(nonces: Map<string, number>): SignedTx[] {
  const txs: SignedTx[] = [];
  for (let i = 0; i < TXS; i++) {
    const k = senders[i % SENDERS]!;
    const to = senders[(i + 7) % SENDERS]!.address;
    const nonce = nonces.get(k.address) ?? 0;
    nonces.set(k.address, nonce + 1);
    txs.push(signTx({ chainId: P.chainId, chain: 'shard-0', from: k.address, nonce, fee: 10n, op: { type: 'transfer', to, amount: 1000n } }, k.seed));
  }
  for (const t of txs) txHashOf(t);
  return txs;
}

interface Row {
  accounts: number;
  block_ms: number;
  us_per_tx: number;
  draft_ms: number;
  snapshot_ms: number;
  snapshot_ops: number;
}

function measure(n: number): Row {
  const alloc = senders.map((k) => ({ address: k.address, amount: 10n ** 15n }));
  for (let i = 0; alloc.length < n; i++) {
    const a = Buffer.from(sha256(`state-scale-extra-${i}`)).toString('hex');
    if (homeChain(a, P.shardCount) === 'shard-0') alloc.push({ address: a, amount: 1n });
  }
  const g = genesis(P, alloc, {});
  let st: ChainState = genesisStates(g).find((s) => s.chain === 'shard-0')!;
  const nonces = new Map<string, number>();
  const block = (txs: SignedTx[]): ChainState => applyBlock(st, { chain: 'shard-0', height: st.height + 1, txs, receipts: [], confirms: [] }, P).state;
  // Warm-up (the genesis commitment): WARMUP blocks and one snapshot, not measured.
  for (let b = 0; b < WARMUP; b++) st = block(transfers(nonces));
  snapshotOps('shard-0', st, undefined).forEach((o) => o.type === 'put' && packValue(o.value));
  const blockMs: number[] = [];
  const draftMs: number[] = [];
  const snapshotBefore = mapsOf(st);
  for (let b = 1; b <= BLOCKS; b++) {
    const txs = transfers(nonces);
    blockMs.push(ms(() => (st = block(txs))));
    draftMs.push(ms(() => endDraft(beginDraft(st))));
  }
  const blockMsMedian = median(blockMs);
  const last = st;
  let snapshotOpCount = 0;
  const snapshotMs = ms(() => {
    const ops = snapshotOps('shard-0', last, snapshotBefore);
    for (const o of ops) if (o.type === 'put') packValue(o.value);
    snapshotOpCount = ops.length;
  });
  return { accounts: st.accounts.size, block_ms: +blockMsMedian.toFixed(2), us_per_tx: +((blockMsMedian * 1000) / TXS).toFixed(1), draft_ms: +median(draftMs).toFixed(2), snapshot_ms: +snapshotMs.toFixed(2), snapshot_ops: snapshotOpCount };
}

// A whole pass on a small state first, discarded: the first size measured would otherwise run cold (unoptimized) code.
measure(SENDERS);
const byAccounts = COUNTS.map(measure);

console.log(JSON.stringify({ block_txs: TXS, by_accounts: byAccounts, block_ms_ratio_last_to_first: +(byAccounts.at(-1)!.block_ms / byAccounts[0]!.block_ms).toFixed(1) }));
