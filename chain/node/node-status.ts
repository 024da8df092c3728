/**
 * One registered node as the beacon sees it (JSON-RPC `node_get`, and what discovery's
 * ChainView.nodeStatus reads). Pure: beacon state in, view out.
 */
import type { ChainState, NodeStatus } from '../state/index.js';

export interface NodeStatusView {
  /** Owner address (the key the node registered under). */
  readonly address: string;
  readonly role: 'relay' | 'validator' | 'auditor';
  readonly status: NodeStatus;
  /** Deposit left after slashing, base units. */
  readonly deposit: bigint;
  /** Votes locked on the node, base units. */
  readonly votes: bigint;
  /** deposit + votes (the node's election weight). */
  readonly stake: bigint;
  /** Slashed at least once (tombstone: never elected or rewarded again), even while unbonding. */
  readonly jailed: boolean;
  /** Total burned from the deposit by slashing. */
  readonly slashed: bigint;
  /** Beacon height at which the deposit returns (only while unbonding). */
  readonly unbondingUntil?: number;
  readonly endpoints: readonly string[];
  /** Price per GiB, base units. */
  readonly price: bigint;
  readonly region: string;
  readonly keys: { readonly consensus: string; readonly onion: string | null };
  readonly registeredAt: number;
  /** Beacon height this view was read at. */
  readonly height: number;
}

/** The node registered by `address` on this beacon state, or undefined. */
export function nodeStatusOf(beacon: ChainState, address: string): NodeStatusView | undefined {
  const n = Object.prototype.hasOwnProperty.call(beacon.nodes, address) ? beacon.nodes[address] : undefined;
  if (!n) return undefined;
  let votes = 0n;
  for (const v of Object.values(beacon.votes)) if (v.node === address) votes += v.amount;
  return {
    address,
    role: n.role,
    status: n.status,
    deposit: n.deposit,
    votes,
    stake: n.deposit + votes,
    jailed: n.status === 'jailed' || n.slashed > 0n,
    slashed: n.slashed,
    ...(n.status === 'unbonding' && n.releaseHeight !== null ? { unbondingUntil: n.releaseHeight } : {}),
    endpoints: [...n.endpoints],
    price: n.pricePerGiB,
    region: n.region,
    keys: { consensus: n.consensusKey, onion: n.onionKey },
    registeredAt: n.registeredAt,
    height: beacon.height,
  };
}
