import type { Role } from './params.js';
import type { ChainName } from './shard.js';
import type { PaymentReceipt } from './payment-receipt.js';
import type { VoteEvidence } from './vote-evidence.js';
import type { StateMap } from './state-map.js';

/** Resource (TGAS-like) lock of an account: fee-free quota refilling over a window. */
export interface ResourceLock {
  locked: bigint;
  /** Usage in tx·block units: each covered tx adds windowBlocks, refills capacity per block. */
  used: bigint;
  lastHeight: number;
  /** Height of the last deposit; withdrawals need lockedAt + windowBlocks ≤ height. */
  lockedAt: number;
}

export interface Account {
  balance: bigint;
  /** Number of transactions this account has executed (the next tx must carry it). */
  nonce: number;
  resource: ResourceLock;
}

export type ChannelStatus = 'open' | 'closing' | 'finalized';

export interface Channel {
  id: string;
  payer: string;
  relay: string;
  deposit: bigint;
  /** Cumulative amount already paid out (burn + relay share). Never exceeds deposit. */
  claimed: bigint;
  /** Highest receipt seq claimed (0 = none). */
  seq: number;
  cumulativeBytes: bigint;
  status: ChannelStatus;
  openedAt: number;
  /** Shard height from which finalize is allowed (set by close). */
  closesAt: number | null;
}

export type NodeStatus = 'active' | 'jailed' | 'unbonding';

/** What a register tx declares about a node. */
export interface NodeSpec {
  role: Role;
  /** Ed25519 key (hex) the node signs consensus votes with. */
  consensusKey: string;
  /** X25519 key (hex) for onion handshakes; required for relays, else null. */
  onionKey: string | null;
  endpoints: string[];
  pricePerGiB: bigint;
  region: string;
}

export interface NodeRecord extends NodeSpec {
  owner: string;
  deposit: bigint;
  status: NodeStatus;
  registeredAt: number;
  /** Beacon height at which the unbonding deposit returns (status 'unbonding'). */
  releaseHeight: number | null;
  /** Total slashed (burned) from this node. */
  slashed: bigint;
}

export type NodeChanges = Partial<Pick<NodeSpec, 'onionKey' | 'endpoints' | 'pricePerGiB' | 'region'>>;

export interface VoteLock {
  voter: string;
  node: string;
  amount: bigint;
}

export function voteKey(voter: string, node: string): string {
  return `${voter}:${node}`;
}

export interface Unlocking {
  owner: string;
  node: string;
  amount: bigint;
  releaseHeight: number;
}

/** What a cross-chain receipt does on its destination. */
export type ReceiptPayload =
  | { kind: 'credit'; to: string; memo: CreditMemo }
  | { kind: 'register'; owner: string; node: NodeSpec }
  | { kind: 'update-node'; owner: string; changes: NodeChanges }
  | { kind: 'unregister'; owner: string }
  | { kind: 'vote'; voter: string; node: string }
  | { kind: 'unvote'; voter: string; node: string; amount: bigint }
  | { kind: 'slash'; reporter: string; evidence: VoteEvidence };

export type CreditMemo = 'transfer' | 'claim' | 'reward' | 'unbond' | 'unvote' | 'refund';

/** Cross-chain receipt: emitted by `source` at `sourceHeight`, applied once on `destination`. */
export interface CrossReceipt {
  source: ChainName;
  destination: ChainName;
  /** 1, 2, 3, ... per (source, destination) pair. */
  id: number;
  sourceHeight: number;
  /** Value carried (0 for control receipts). */
  amount: bigint;
  payload: ReceiptPayload;
}

export interface Outbox {
  /** Id the next receipt to this destination gets. */
  nextId: number;
  /** Highest id the destination confirmed applying. */
  confirmedUpTo: number;
  /** Sent and not yet confirmed (ids confirmedUpTo+1 .. nextId-1). */
  pending: CrossReceipt[];
}

/** The whole state of one chain (beacon or a shard). Plain data; see codec.ts for storage. */
export interface ChainState {
  chainId: string;
  chain: ChainName;
  shardCount: number;
  /** Height of the last applied block (0 = genesis). */
  height: number;
  /** Persistent maps (state-map.ts): read with get/has; written only through a draft (draft.ts). */
  accounts: StateMap<Account>;
  channels: StateMap<Channel>;
  outbox: Record<string, Outbox>;
  /** Highest receipt id applied, per source chain. */
  inbox: Record<string, number>;
  burned: bigint;
  // Beacon-only parts (empty on shards).
  nodes: Record<string, NodeRecord>;
  /** Locked votes keyed voteKey(voter, node). */
  votes: Record<string, VoteLock>;
  unlocking: Unlocking[];
  reserve: bigint;
  issued: bigint;
  /** Evidence already used to slash (key → beacon height). */
  slashedEvidence: Record<string, number>;
}

export type TxOp =
  | { type: 'transfer'; to: string; amount: bigint }
  | ({ type: 'register'; deposit: bigint } & NodeSpec)
  | { type: 'update-node'; changes: NodeChanges }
  | { type: 'unregister' }
  | { type: 'vote'; node: string; amount: bigint }
  | { type: 'unvote'; node: string; amount: bigint }
  | { type: 'channel-open'; relay: string; deposit: bigint; channelId?: string }
  | { type: 'channel-claim'; channelId: string; receipt: PaymentReceipt; receiptSignature: string }
  | { type: 'channel-close'; channelId: string }
  | { type: 'channel-finalize'; channelId: string }
  | { type: 'slash'; evidence: VoteEvidence }
  | { type: 'resource-deposit'; amount: bigint }
  | { type: 'resource-withdraw'; amount: bigint };

export type TxType = TxOp['type'];

/**
 * A transaction. `chain` is where it executes: the sender's home shard, except
 * channel-claim, which executes on the channel's (payer's) shard, ignores the nonce and pays
 * its fee out of the claim.
 */
export interface Tx {
  chainId: string;
  chain: ChainName;
  from: string;
  nonce: number;
  fee: bigint;
  op: TxOp;
}

export interface SignedTx {
  tx: Tx;
  /** Ed25519 signature (hex) by `from` over txSigningBytes(tx). */
  signature: string;
}

/** The other chains' confirmation that they applied our receipts up to an id. */
export interface ReceiptConfirm {
  from: ChainName;
  appliedUpTo: number;
}

/** What a block carries for the state transition (consensus wraps it). */
export interface BlockBody {
  chain: ChainName;
  height: number;
  /** Signed txs, already signature-verified by the node. */
  txs: SignedTx[];
  /** Incoming receipts, already proven by the node (source certificate + Merkle proof). */
  receipts: CrossReceipt[];
  confirms: ReceiptConfirm[];
}

export type ResultStatus = 'ok' | 'failed' | 'invalid';

export interface ItemResult {
  kind: 'tx' | 'receipt' | 'confirm';
  /** tx hash, receipt hash, or `confirm:<chain>`. */
  id: string;
  /** ok = applied; failed = fee and nonce charged, nothing else; invalid = no effect at all. */
  status: ResultStatus;
  error?: { rule: string; message: string };
  /** Fee actually burned (0 when a resource quota covered it). */
  feeCharged?: bigint;
}

export interface BlockResult {
  state: ChainState;
  results: ItemResult[];
  outgoingReceipts: CrossReceipt[];
  receiptsRoot: string;
  stateRoot: string;
}
