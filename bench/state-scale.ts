/**
 * How executing a block grows with the number of accounts on its chain: applyBlock of a
 * 350-transfer block (200 senders, signatures not checked, tx hashes computed beforehand) on a
 * shard state holding N accounts, for each N in BENCH_STATE_ACCOUNTS (default 200,10000,100000).
 * Also the copy-on-write draft alone (beginDraft + endDraft of the same state), and the state
 * snapshot a node stores every `snapshotEvery` (20) blocks (chain/node/state-snapshot.ts): its
 * ops after the measured blocks, against the snapshot before them, each value encoded as the
 * store encodes it (packValue). Prints one JSON object:
 *   {block_txs, by_accounts: [{accounts, block_ms, us_per_tx, draft_ms, snapshot_ms, snapshot_ops}], block_ms_ratio_last_to_first}
 * block_ms / draft_ms are medians over BENCH_STATE_BLOCKS (default 7) blocks after one warm-up;
 * snapshot_ms is one snapshot.
 *   node dist/bench/state-scale.js
 */
import { beginDraft, endDraft } from '../chain/state/draft.js';
import { packValue } from '../chain/node/wire.js';
import { mapsOf, snapshotOps } from '../chain/node/state-snapshot.js';
import { applyBlock, DEVNET_PARAMS, genesis, genesisStates, homeChain, keyPairFromSeed, makeParams, sha256, signTx, txHashOf, type ChainState, type SignedTx } from '../chain/state/index.js';

const COUNTS = (process.env.BENCH_STATE_ACCOUNTS ?? '200,10000,100000').split(',').map(Number);
const BLOCKS = Number(process.env.BENCH_STATE_BLOCKS ?? 7);
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

function transfers(round: number): SignedTx[] {
  const txs: SignedTx[] = [];
  for (let i = 0; i < TXS; i++) {
    const k = senders[i % SENDERS]!;
    const to = senders[(i + 7) % SENDERS]!.address;
    txs.push(signTx({ chainId: P.chainId, chain: 'shard-0', from: k.address, nonce: round * 2 + Math.floor(i / SENDERS), fee: 10n, op: { type: 'transfer', to, amount: 1000n } }, k.seed));
  }
  for (const t of txs) txHashOf(t);
  return txs;
}

const byAccounts: Array<{ accounts: number; block_ms: number; us_per_tx: number; draft_ms: number; snapshot_ms: number; snapshot_ops: number }> = [];
for (const n of COUNTS) {
  const alloc = senders.map((k) => ({ address: k.address, amount: 10n ** 15n }));
  for (let i = 0; alloc.length < n; i++) {
    const a = Buffer.from(sha256(`state-scale-extra-${i}`)).toString('hex');
    if (homeChain(a, P.shardCount) === 'shard-0') alloc.push({ address: a, amount: 1n });
  }
  const g = genesis(P, alloc, {});
  let st: ChainState = genesisStates(g).find((s) => s.chain === 'shard-0')!;
  st = applyBlock(st, { chain: 'shard-0', height: st.height + 1, txs: transfers(0), receipts: [], confirms: [] }, P).state; // warm-up: the genesis commitment
  const blockMs: number[] = [];
  const draftMs: number[] = [];
  const snapshotBefore = mapsOf(st);
  for (let b = 1; b <= BLOCKS; b++) {
    const txs = transfers(b);
    blockMs.push(ms(() => (st = applyBlock(st, { chain: 'shard-0', height: st.height + 1, txs, receipts: [], confirms: [] }, P).state)));
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
  byAccounts.push({ accounts: st.accounts.size, block_ms: +blockMsMedian.toFixed(2), us_per_tx: +((blockMsMedian * 1000) / TXS).toFixed(1), draft_ms: +median(draftMs).toFixed(2), snapshot_ms: +snapshotMs.toFixed(2), snapshot_ops: snapshotOpCount });
}
console.log(JSON.stringify({ block_txs: TXS, by_accounts: byAccounts, block_ms_ratio_last_to_first: +(byAccounts.at(-1)!.block_ms / byAccounts[0]!.block_ms).toFixed(1) }));
