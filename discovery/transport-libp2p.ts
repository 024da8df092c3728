/**
 * DiscoveryTransport over a DiscoveryNode: gossip on gossipsub (the subscriber's handler is
 * the gossipsub topic validator), requests on the stream protocol
 * /topvpn/descriptors/1.0.0. The requester sends nothing and closes its write side; the
 * server answers with frames (4-byte big-endian length + item), then the end marker
 * 0xFFFFFFFF, and closes. A response without the end marker (server reset, no handler,
 * connection lost) is a failed request, never a short list.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { TopicValidatorResult, type SubscriptionChangeData } from '@libp2p/gossipsub';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import { silentLogger } from '../common/log.js';
import type { DiscoveryNode } from './node.js';
import {
  DEFAULT_MAX_ITEM_BYTES,
  DEFAULT_MAX_RESPONSE_ITEMS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  RequestFailedError,
  ResponseLimitError,
  type DiscoveryTransport,
  type GossipHandler,
  type GossipVerdict,
  type RequestOptions,
  type ServeHandler,
} from './transport.js';

export const DESCRIPTOR_REQUEST_PROTOCOL = '/topvpn/descriptors/1.0.0';
/** Concurrent inbound request streams per connection. */
const MAX_INBOUND_STREAMS = 4;
const SERVE_TIMEOUT_MS = 10_000;
const END_MARKER = 0xffffffff;

const VERDICT: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

function frame(item: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + item.length);
  new DataView(out.buffer).setUint32(0, item.length);
  out.set(item, 4);
  return out;
}

export class Libp2pTransport implements DiscoveryTransport {
  private serveHandler?: ServeHandler;
  private readonly connectListeners = new Set<(peer: string) => void>();
  private readonly onConnect = (ev: CustomEvent<PeerId>): void => {
    const peer = ev.detail.toString();
    for (const l of this.connectListeners) l(peer);
  };

  private readonly subscribeListeners = new Set<(peer: string, topic: string) => void>();
  private readonly onSubscriptionChange = (ev: CustomEvent<SubscriptionChangeData>): void => {
    const peer = ev.detail.peerId.toString();
    for (const sub of ev.detail.subscriptions) {
      if (!sub.subscribe) continue;
      for (const l of this.subscribeListeners) l(peer, sub.topic);
    }
  };
  private readonly pendingTopics = new Set<string>();
  private readonly onStart = (): void => {
    for (const t of this.pendingTopics) this.node.libp2p.services.pubsub.subscribe(t);
    this.pendingTopics.clear();
  };

  private constructor(
    private readonly node: DiscoveryNode,
    private readonly log: Logger,
  ) {}

  /** Registers the request protocol on `node` (call before or after node.start()). */
  static async create(node: DiscoveryNode, log: Logger = silentLogger()): Promise<Libp2pTransport> {
    const t = new Libp2pTransport(node, log);
    await node.libp2p.handle(DESCRIPTOR_REQUEST_PROTOCOL, (stream: Stream, connection: Connection) => t.answer(stream, connection), {
      maxInboundStreams: MAX_INBOUND_STREAMS,
      maxOutboundStreams: MAX_INBOUND_STREAMS,
    });
    node.libp2p.addEventListener('peer:connect', t.onConnect);
    node.libp2p.addEventListener('start', t.onStart);
    node.libp2p.services.pubsub.addEventListener('subscription-change', t.onSubscriptionChange);
    return t;
  }

  get selfId(): string {
    return this.node.peerId;
  }

  /** Stops listening for connections and requests (the node itself is the caller's to stop). */
  async close(): Promise<void> {
    this.node.libp2p.removeEventListener('peer:connect', this.onConnect);
    this.node.libp2p.removeEventListener('start', this.onStart);
    this.node.libp2p.services.pubsub.removeEventListener('subscription-change', this.onSubscriptionChange);
    this.subscribeListeners.clear();
    this.connectListeners.clear();
    await this.node.libp2p.unhandle(DESCRIPTOR_REQUEST_PROTOCOL).catch(() => undefined);
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    await this.node.libp2p.services.pubsub.publish(topic, data);
  }

  subscribe(topic: string, handler: GossipHandler): void {
    const pubsub = this.node.libp2p.services.pubsub;
    pubsub.topicValidators.set(topic, async (peer, msg) => {
      try {
        return VERDICT[await handler(msg.data, peer.toString())];
      } catch (err) {
        this.log.warn({ err: (err as Error).message, topic }, 'gossip handler threw');
        return TopicValidatorResult.Reject;
      }
    });
    // Gossipsub refuses subscriptions before it starts: those wait for the node's start.
    if (this.node.libp2p.status === 'started') pubsub.subscribe(topic);
    else this.pendingTopics.add(topic);
  }

  unsubscribe(topic: string): void {
    const pubsub = this.node.libp2p.services.pubsub;
    this.pendingTopics.delete(topic);
    if (this.node.libp2p.status === 'started') pubsub.unsubscribe(topic);
    pubsub.topicValidators.delete(topic);
  }

  serve(handler: ServeHandler): void {
    this.serveHandler = handler;
  }

  peers(): string[] {
    return this.node.libp2p.getPeers().map((p) => p.toString());
  }

  topicPeers(topic: string): string[] {
    return this.node.libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString());
  }

  onPeerConnected(listener: (peer: string) => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  onPeerSubscribed(listener: (peer: string, topic: string) => void): () => void {
    this.subscribeListeners.add(listener);
    return () => this.subscribeListeners.delete(listener);
  }

  async request(peer: string, opts: RequestOptions = {}): Promise<Uint8Array[]> {
    const maxItems = opts.maxItems ?? DEFAULT_MAX_RESPONSE_ITEMS;
    const maxItemBytes = opts.maxItemBytes ?? DEFAULT_MAX_ITEM_BYTES;
    const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    let pid: PeerId;
    try {
      pid = peerIdFromString(peer);
    } catch (err) {
      throw new RequestFailedError(`bad peer id ${peer}: ${(err as Error).message}`);
    }
    if (this.node.libp2p.getConnections(pid).length === 0) throw new RequestFailedError(`not connected to ${peer}`);
    let stream: Stream;
    try {
      stream = await this.node.libp2p.dialProtocol(pid, DESCRIPTOR_REQUEST_PROTOCOL, { signal });
    } catch (err) {
      throw new RequestFailedError(`request to ${peer}: ${(err as Error).message}`);
    }
    const onAbort = (): void => stream.abort(new RequestFailedError(`request to ${peer} timed out`));
    signal.addEventListener('abort', onAbort, { once: true });
    const items: Uint8Array[] = [];
    try {
      // Start reading before closing our write side: the iterator must exist before the
      // stream's close event, or it never ends.
      let ended = false;
      const reading = (async (): Promise<Uint8Array> => {
        let buf = new Uint8Array(0);
        for await (const chunk of stream) {
          const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
          const merged = new Uint8Array(buf.length + bytes.length);
          merged.set(buf, 0);
          merged.set(bytes, buf.length);
          buf = merged;
          for (;;) {
            if (buf.length < 4) break;
            const len = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
            if (ended) throw new RequestFailedError(`request to ${peer}: data after the end marker`);
            if (len === END_MARKER) {
              ended = true;
              buf = buf.subarray(4);
              continue;
            }
            if (len > maxItemBytes) throw new ResponseLimitError(`item of ${len} bytes exceeds ${maxItemBytes}`);
            if (buf.length < 4 + len) break;
            if (items.length >= maxItems) throw new ResponseLimitError(`more than ${maxItems} items`);
            items.push(buf.slice(4, 4 + len));
            buf = buf.subarray(4 + len);
          }
        }
        return buf;
      })();
      reading.catch(() => undefined);
      await stream.close({ signal });
      const buf = await reading;
      if (signal.aborted) throw new RequestFailedError(`request to ${peer} timed out`);
      if (!ended || buf.length !== 0) throw new RequestFailedError(`request to ${peer}: truncated response`);
      return items;
    } catch (err) {
      stream.abort(err as Error);
      if (err instanceof ResponseLimitError || err instanceof RequestFailedError) throw err;
      throw new RequestFailedError(`request to ${peer}: ${(err as Error).message}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async answer(stream: Stream, connection: Connection): Promise<void> {
    const signal = AbortSignal.timeout(SERVE_TIMEOUT_MS);
    try {
      const h = this.serveHandler;
      if (!h) {
        stream.abort(new RequestFailedError('this node does not serve descriptors'));
        return;
      }
      const items = await h(connection.remotePeer.toString());
      for (const item of items) {
        if (!stream.send(frame(item))) await stream.onDrain({ signal });
      }
      const end = new Uint8Array(4);
      new DataView(end.buffer).setUint32(0, END_MARKER);
      stream.send(end);
      await stream.close({ signal });
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'descriptor request failed');
      stream.abort(err as Error);
    }
  }
}
