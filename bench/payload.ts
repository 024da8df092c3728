/**
 * The block payload's two encodings on a full block of signed transfers: the binary form
 * (chain/node/payload.ts, tx-codec.ts) against the wire JSON form every payload had before
 * (the baseline, measured in the same run). Prints one JSON object: bytes per tx, encode and
 * decode µs per tx for each, and the ratios (binary / JSON). `follow_us_per_tx` is what every
 * node does with each committed block's txs: decode the payload and hash every tx (txHashOf),
 * in CPU time, with the last KEEP_BLOCKS decoded blocks kept alive as a node keeps recent txs, so
 * that garbage collection and fresh-page faults (`follow_page_faults_per_block`) count too.
 *   node dist/bench/payload.js        (BENCH_TXS txs per block, default 350)
 */
import { decodePayload, encodePayload, type PayloadV1 } from '../chain/node/payload.js';
import { wireFromBytes, wireToBytes } from '../chain/node/wire.js';
import { txHashOf, type SignedTx } from '../chain/state/index.js';
import { transferPayload } from './block-payload.js';

const TXS = Number(process.env.BENCH_TXS ?? 350);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 400);

const payload: PayloadV1 = transferPayload(TXS);

/** µs per tx of `f` over ROUNDS blocks, after a warm-up of ROUNDS / 4. */
function usPerTx(f: () => unknown): number {
  for (let i = 0; i < ROUNDS / 4; i++) f();
  const t = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) f();
  return +(Number(process.hrtime.bigint() - t) / 1e3 / ROUNDS / TXS).toFixed(2);
}

const KEEP_BLOCKS = 8;

/** CPU µs per tx and page faults per block of decoding a block and hashing its txs, the last KEEP_BLOCKS blocks kept alive. */
function follow(decode: () => PayloadV1): { follow_us_per_tx: number; follow_page_faults_per_block: number } {
  const kept: SignedTx[][] = [];
  const round = (): void => {
    const txs = decode().body.txs;
    for (const stx of txs) txHashOf(stx);
    kept.push(txs);
    if (kept.length > KEEP_BLOCKS) kept.shift();
  };
  for (let i = 0; i < ROUNDS / 4; i++) round();
  const faults = process.resourceUsage().minorPageFault;
  const cpu = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) round();
  const used = process.cpuUsage(cpu);
  return {
    follow_us_per_tx: +((used.user + used.system) / ROUNDS / TXS).toFixed(2),
    follow_page_faults_per_block: +((process.resourceUsage().minorPageFault - faults) / ROUNDS).toFixed(1),
  };
}

const binary = encodePayload(payload);
const json = wireToBytes(payload);
const r = {
  txs_per_block: TXS,
  binary: { bytes_per_tx: +(binary.byteLength / TXS).toFixed(1), encode_us_per_tx: usPerTx(() => encodePayload(payload)), decode_us_per_tx: usPerTx(() => decodePayload(binary)), ...follow(() => decodePayload(binary)) },
  json: { bytes_per_tx: +(json.byteLength / TXS).toFixed(1), encode_us_per_tx: usPerTx(() => wireToBytes(payload)), decode_us_per_tx: usPerTx(() => wireFromBytes(json)), ...follow(() => wireFromBytes<PayloadV1>(json)) },
};
console.log(JSON.stringify({ ...r, bytes_ratio: +(r.binary.bytes_per_tx / r.json.bytes_per_tx).toFixed(3), encode_ratio: +(r.binary.encode_us_per_tx / r.json.encode_us_per_tx).toFixed(2), decode_ratio: +(r.binary.decode_us_per_tx / r.json.decode_us_per_tx).toFixed(2) }));
