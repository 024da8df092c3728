/**
 * The network seam. A node talks to other nodes by address (hex Ed25519 public key).
 * Delivery is best effort and unordered across peers (ordered per peer pair); consensus
 * and sync tolerate loss. `from` is authenticated by the transport (noise on libp2p).
 * How an address maps to a reachable peer is the transport's business: libp2p keeps a peer
 * book (peer-book.ts) of the genesis directory, bootstrap peers and the beacon registry's
 * p2p endpoints, which the node feeds through `setRegistryPeers`.
 */
import type { PeerEntry, PeerSource } from './peer-book.js';

export interface NetMessage {
  /** message kind, e.g. 'cons', 'tx', 'audit', 'receipts', 'sync-req', 'sync-res' */
  readonly k: string;
  /** chain id the message is about ('beacon', 'shard-0', ...) */
  readonly c: string;
  readonly body: unknown;
}

export type MessageHandler = (from: string, msg: NetMessage) => void;

/** Kinds of node-to-node message (NetMessage.k); traffic counters label by these, 'other' for the rest. */
export const MESSAGE_KINDS = ['cons', 'txs', 'commit', 'commit-hint', 'audit', 'sync-req', 'sync-res', 'other'] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export function messageKind(k: string): MessageKind {
  return (MESSAGE_KINDS as readonly string[]).includes(k) ? (k as MessageKind) : 'other';
}

/** Messages and bytes sent of one kind, cumulative. */
export interface TrafficCount {
  messages: number;
  bytes: number;
}

/** One row of a transport's peer table (JSON-RPC `net_peers`). */
export interface PeerStatus {
  readonly address: string;
  /** Where the dial address comes from; 'inbound': known only because it dialed us. */
  readonly source: PeerSource | 'inbound';
  /** The address the peer book gives (transport part, no /p2p/). */
  readonly multiaddr?: string;
  /** The address last dialed, when it is not `multiaddr` (a genesis fallback). */
  readonly dialed?: string;
  /** An outbound stream to the peer is open. */
  readonly connected: boolean;
  /** Dial failures since the last success. */
  readonly dialFailures: number;
}

export interface Network {
  readonly self: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Fire and forget to one peer; silently dropped if the peer is unreachable. */
  send(to: string, msg: NetMessage): void;
  /** Send to each listed peer (the sender itself is skipped). */
  multicast(to: readonly string[], msg: NetMessage): void;
  onMessage(handler: MessageHandler): void;
  /** Addresses of peers currently connected. */
  connectedPeers(): string[];
  /**
   * Replaces the peers learned from the finalized beacon registry (address → dial address);
   * transports that route by address alone (MemoryNetwork) ignore it.
   */
  setRegistryPeers?(peers: readonly PeerEntry[]): void;
  /** Known peers with link state; transports without a peer book may omit it. */
  peerTable?(): PeerStatus[];
  /**
   * Messages written to peers since start, per kind, with their framed size before transport
   * encryption (one count per recipient of a multicast). Transports that do not encode may omit it.
   */
  sentTraffic?(): ReadonlyMap<MessageKind, Readonly<TrafficCount>>;
}

/** In-process hub for unit tests: synchronous-free delivery on the microtask/macrotask queue. */
export class MemoryHub {
  private readonly nodes = new Map<string, MemoryNetwork>();
  /** Links cut by tests: "a|b" means a cannot reach b. */
  private readonly cut = new Set<string>();
  delivered = 0;
  register(n: MemoryNetwork): void {
    this.nodes.set(n.self, n);
  }
  unregister(addr: string): void {
    this.nodes.delete(addr);
  }
  partition(a: string, b: string): void {
    this.cut.add(`${a}|${b}`);
    this.cut.add(`${b}|${a}`);
  }
  heal(): void {
    this.cut.clear();
  }
  deliver(from: string, to: string, msg: NetMessage): void {
    if (this.cut.has(`${from}|${to}`)) return;
    const target = this.nodes.get(to);
    if (!target || !target.running) return;
    // structuredClone: receivers must never share mutable objects with the sender
    const copy = structuredClone(msg);
    setImmediate(() => {
      if (!target.running) return;
      this.delivered++;
      target.dispatch(from, copy);
    });
  }
  isRunning(addr: string): boolean {
    return this.nodes.get(addr)?.running ?? false;
  }
  addresses(): string[] {
    return [...this.nodes.keys()];
  }
}

export class MemoryNetwork implements Network {
  running = false;
  private readonly handlers: MessageHandler[] = [];
  constructor(readonly self: string, private readonly hub: MemoryHub) {
    hub.register(this);
  }
  async start(): Promise<void> {
    this.running = true;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  send(to: string, msg: NetMessage): void {
    if (!this.running || to === this.self) return;
    this.hub.deliver(this.self, to, msg);
  }
  multicast(to: readonly string[], msg: NetMessage): void {
    for (const t of to) this.send(t, msg);
  }
  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }
  dispatch(from: string, msg: NetMessage): void {
    for (const h of this.handlers) h(from, msg);
  }
  connectedPeers(): string[] {
    return this.hub.addresses().filter((a) => a !== this.self && this.hub.isRunning(a));
  }
}
