/**
 * A full shard-0 block payload of signed transfers for the benches (bench/payload.ts,
 * bench/safety-persist.ts): `txs` transfers from 200 shard-0 accounts (deterministic keys), in
 * nonce order, each to another of them.
 */
import type { PayloadV1 } from '../chain/node/payload.js';
import { DEVNET_PARAMS, homeChain, keyPairFromSeed, sha256, signTx, type SignedTx } from '../chain/state/index.js';

export function transferPayload(txs: number): PayloadV1 {
  const keys = [];
  for (let i = 0; keys.length < 200; i++) {
    const k = keyPairFromSeed(sha256(`bench-payload-${i}`));
    if (homeChain(k.address, DEVNET_PARAMS.shardCount) === 'shard-0') keys.push(k);
  }
  const list: SignedTx[] = [];
  for (let i = 0; i < txs; i++) {
    const k = keys[i % keys.length]!;
    list.push(signTx({ chainId: DEVNET_PARAMS.chainId, chain: 'shard-0', from: k.address, nonce: Math.floor(i / keys.length), fee: 10_000n, op: { type: 'transfer', to: keys[(i + 7) % keys.length]!.address, amount: 1_234_567n } }, k.seed));
  }
  return { v: 1, stateRoot: 'ab'.repeat(32), receiptsRoot: 'cd'.repeat(32), body: { chain: 'shard-0', height: 5, txs: list, receipts: [], confirms: [] }, refs: [] };
}
