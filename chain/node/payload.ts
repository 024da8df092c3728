/**
 * The application payload a consensus block carries, and the record a node stores and
 * serves per committed block.
 *
 * Payload = {v:1, stateRoot, receiptsRoot, body, refs}: the proposer executes the body on its
 * parent state and commits to the resulting roots, so the block hash binds the execution
 * result; validators and auditors re-execute and compare. `refs[i]` proves `body.receipts[i]`:
 * the source block (height, hash) whose receiptsRoot contains it, with a Merkle path.
 * Validators accept a ref only for a source block they know is final.
 *
 * Encoded (the bytes the block hash covers) in binary:
 *   0x02, stateRoot (32 B), receiptsRoot (32 B), u32be length + wire JSON of
 *   {body without txs, refs}, then body.txs as a tx list (tx-codec.ts)
 * A payload whose roots are not 32-byte lowercase hex is encoded as wire JSON of the whole
 * payload instead, the form every payload had before; decoding reads both (a JSON payload
 * starts with '{'). Binary because every node decodes every block, and a block crosses the
 * network to all of them: a transfer is ≈ 166 B there against ≈ 425 B of wire JSON.
 */
import type { Block, BlockHeader, CommitProof, QC } from '../consensus/types.js';
import type { Certificate } from '../consensus/certificate.js';
import { isHex } from '../state/encoding.js';
import type { MerkleProof } from '../state/merkle.js';
import type { BlockBody, CrossReceipt, ItemResult } from '../state/types.js';
import { Reader, readTxList, TxCodecError, Writer, writeTxList } from './tx-codec.js';
import { wireDecode, wireFromBytes, wireToBytes } from './wire.js';

export interface ReceiptRef {
  readonly sourceHeight: number;
  readonly blockHash: string;
  readonly proof: MerkleProof;
}

export interface PayloadV1 {
  readonly v: 1;
  readonly stateRoot: string;
  readonly receiptsRoot: string;
  readonly body: BlockBody;
  readonly refs: readonly ReceiptRef[];
}

export class PayloadError extends Error {
  override name = 'PayloadError';
}

/** First byte of a binary payload (a JSON one starts with '{'). */
export const PAYLOAD_BINARY = 0x02;

export function encodePayload(p: PayloadV1): Uint8Array {
  if (!isHex(p.stateRoot, 32) || !isHex(p.receiptsRoot, 32)) return wireToBytes(p);
  const { txs, ...rest } = p.body;
  const w = new Writer(256 + txs.length * 180);
  w.u8(PAYLOAD_BINARY);
  w.hex(p.stateRoot, 32);
  w.hex(p.receiptsRoot, 32);
  w.bytesWithLength(wireToBytes({ body: rest, refs: p.refs }));
  writeTxList(w, txs);
  return w.done();
}

export function decodePayload(bytes: Uint8Array): PayloadV1 {
  let p: PayloadV1;
  try {
    p = bytes[0] === PAYLOAD_BINARY ? decodeBinary(bytes) : wireFromBytes<PayloadV1>(bytes);
  } catch (e) {
    throw new PayloadError(`payload: ${(e as Error).message}`);
  }
  if (typeof p !== 'object' || p === null || p.v !== 1) throw new PayloadError('payload: not a v1 payload');
  if (typeof p.stateRoot !== 'string' || typeof p.receiptsRoot !== 'string') throw new PayloadError('payload: roots missing');
  const b = p.body;
  if (typeof b !== 'object' || b === null || !Array.isArray(b.txs) || !Array.isArray(b.receipts) || !Array.isArray(b.confirms)) throw new PayloadError('payload: bad body');
  if (!Array.isArray(p.refs) || p.refs.length !== b.receipts.length) throw new PayloadError('payload: one ref per receipt required');
  return p;
}

function decodeBinary(bytes: Uint8Array): PayloadV1 {
  const r = new Reader(bytes);
  r.u8();
  const stateRoot = r.hex(32);
  const receiptsRoot = r.hex(32);
  const rest = wireDecode<{ body?: unknown; refs?: unknown }>(r.utf8(r.u32()));
  const txs = readTxList(r);
  r.end();
  if (typeof rest !== 'object' || rest === null || typeof rest.body !== 'object' || rest.body === null) throw new TxCodecError('body missing');
  return { v: 1, stateRoot, receiptsRoot, body: { ...(rest.body as Omit<BlockBody, 'txs'>), txs }, refs: rest.refs as ReceiptRef[] };
}

/** What a node stores (blk/<chain>/<height>) and serves to peers that sync. */
export interface BlockRecord {
  readonly block: Block;
  /** QC certifying `block` (validator group, ⌊2n/3⌋+1). */
  readonly qc: QC;
  /** Commit proof (absent only for records restored from older stores). */
  readonly proof?: CommitProof & { readonly ext?: readonly BlockHeader[] };
  /** Execution outputs (recomputed and checked by whoever applies the block). */
  readonly outgoing: readonly CrossReceipt[];
  readonly results: readonly ItemResult[];
  /** Inbox after this block (highest receipt id applied per source chain). */
  readonly inbox: Readonly<Record<string, number>>;
  /** Committed at (Unix ms, local clock). */
  readonly committedAt: number;
  /**
   * This node's audit share signature, when it audited the block (a member of its auditor
   * group whose execution matched the roots): resent while the height is not final (audit.ts).
   */
  readonly auditShare?: string;
}

/** Audit certificate record, stored under aud/<chain>/<height>. */
export interface AuditRecord {
  readonly cert: Certificate;
  readonly finalAt: number;
}
