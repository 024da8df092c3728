/**
 * In-process DiscoveryTransport for tests: a MemoryNetwork holds named nodes and the links
 * between them; gossip floods along links with the same validate-then-forward and
 * seen-message rules as transport.ts states. Delivery is asynchronous (setImmediate), so
 * callers see the same ordering hazards as on a real network.
 */
import { createHash } from 'node:crypto';
import {
  DEFAULT_MAX_ITEM_BYTES,
  DEFAULT_MAX_RESPONSE_ITEMS,
  RequestFailedError,
  ResponseLimitError,
  type DiscoveryTransport,
  type GossipHandler,
  type RequestOptions,
  type ServeHandler,
} from './transport.js';

const SEEN_CAP = 10_000;

export class MemoryNetworkError extends Error {
  override readonly name = 'MemoryNetworkError';
}

function msgId(topic: string, data: Uint8Array): string {
  return createHash('sha256').update(topic).update('\u0000').update(data).digest('hex');
}

export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryTransport>();

  /** A new node named `id` (unique within this network). */
  create(id: string): MemoryTransport {
    if (this.nodes.has(id)) throw new MemoryNetworkError(`node ${id} exists`);
    const t = new MemoryTransport(id, this);
    this.nodes.set(id, t);
    return t;
  }

  node(id: string): MemoryTransport | undefined {
    return this.nodes.get(id);
  }

  /** Links two nodes (both sides see onPeerConnected, asynchronously). */
  connect(a: string, b: string): void {
    const ta = this.nodes.get(a);
    const tb = this.nodes.get(b);
    if (!ta || !tb || a === b) throw new MemoryNetworkError(`cannot connect ${a} and ${b}`);
    if (ta.linked.has(b)) return;
    ta.linked.add(b);
    tb.linked.add(a);
    setImmediate(() => {
      ta.emitConnected(b);
      tb.emitConnected(a);
    });
  }

  disconnect(a: string, b: string): void {
    this.nodes.get(a)?.linked.delete(b);
    this.nodes.get(b)?.linked.delete(a);
  }

  /** Removes a node and all its links. */
  remove(id: string): void {
    const t = this.nodes.get(id);
    if (!t) return;
    for (const p of t.linked) this.nodes.get(p)?.linked.delete(id);
    t.linked.clear();
    this.nodes.delete(id);
  }
}

export class MemoryTransport implements DiscoveryTransport {
  /** @internal ids of linked peers */
  readonly linked = new Set<string>();
  /** @internal */
  readonly handlers = new Map<string, GossipHandler>();
  private readonly seen = new Map<string, true>();
  private serveHandler?: ServeHandler;
  private readonly connectListeners = new Set<(peer: string) => void>();
  private readonly subscribeListeners = new Set<(peer: string, topic: string) => void>();

  constructor(
    readonly selfId: string,
    private readonly net: MemoryNetwork,
  ) {}

  async publish(topic: string, data: Uint8Array): Promise<void> {
    const id = msgId(topic, data);
    if (!this.markSeen(id)) return;
    this.forward(topic, Uint8Array.from(data), undefined);
  }

  subscribe(topic: string, handler: GossipHandler): void {
    const fresh = !this.handlers.has(topic);
    this.handlers.set(topic, handler);
    if (!fresh) return;
    for (const p of this.linked) {
      const other = this.net.node(p);
      if (other) setImmediate(() => other.emitSubscribed(this.selfId, topic));
    }
  }

  unsubscribe(topic: string): void {
    this.handlers.delete(topic);
  }

  serve(handler: ServeHandler): void {
    this.serveHandler = handler;
  }

  async request(peer: string, opts: RequestOptions = {}): Promise<Uint8Array[]> {
    const other = this.net.node(peer);
    if (!other || !this.linked.has(peer)) throw new RequestFailedError(`not connected to ${peer}`);
    const h = other.serveHandler;
    if (!h) throw new RequestFailedError(`${peer} does not serve the request protocol`);
    await new Promise<void>((r) => setImmediate(r));
    const items = await h(this.selfId);
    const maxItems = opts.maxItems ?? DEFAULT_MAX_RESPONSE_ITEMS;
    const maxItemBytes = opts.maxItemBytes ?? DEFAULT_MAX_ITEM_BYTES;
    if (items.length > maxItems) throw new ResponseLimitError(`more than ${maxItems} items`);
    return items.map((it) => {
      if (it.length > maxItemBytes) throw new ResponseLimitError(`item of ${it.length} bytes exceeds ${maxItemBytes}`);
      return Uint8Array.from(it);
    });
  }

  peers(): string[] {
    return [...this.linked];
  }

  topicPeers(topic: string): string[] {
    return [...this.linked].filter((p) => this.net.node(p)?.handlers.has(topic) === true);
  }

  onPeerConnected(listener: (peer: string) => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  onPeerSubscribed(listener: (peer: string, topic: string) => void): () => void {
    this.subscribeListeners.add(listener);
    return () => this.subscribeListeners.delete(listener);
  }

  /** @internal a new link: announce it, then the peer's subscriptions */
  emitConnected(peer: string): void {
    if (!this.linked.has(peer)) return;
    for (const l of this.connectListeners) l(peer);
    const other = this.net.node(peer);
    if (!other) return;
    for (const topic of other.handlers.keys()) this.emitSubscribed(peer, topic);
  }

  /** @internal */
  emitSubscribed(peer: string, topic: string): void {
    if (!this.linked.has(peer)) return;
    for (const l of this.subscribeListeners) l(peer, topic);
  }

  private markSeen(id: string): boolean {
    if (this.seen.has(id)) return false;
    this.seen.set(id, true);
    if (this.seen.size > SEEN_CAP) {
      const first = this.seen.keys().next().value;
      if (first !== undefined) this.seen.delete(first);
    }
    return true;
  }

  private forward(topic: string, data: Uint8Array, except: string | undefined): void {
    for (const p of this.linked) {
      if (p === except) continue;
      const other = this.net.node(p);
      if (!other) continue;
      setImmediate(() => void other.deliver(topic, data, this.selfId));
    }
  }

  /** @internal a gossip message arriving from a linked peer */
  async deliver(topic: string, data: Uint8Array, from: string): Promise<void> {
    if (!this.linked.has(from)) return;
    const h = this.handlers.get(topic);
    if (!h) return;
    const id = msgId(topic, data);
    if (!this.markSeen(id)) return;
    let verdict;
    try {
      verdict = await h(Uint8Array.from(data), from);
    } catch {
      verdict = 'reject';
    }
    if (verdict === 'accept') this.forward(topic, data, from);
  }
}
