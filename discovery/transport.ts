/**
 * The seam between discovery logic and the network: topic gossip with per-message
 * validation, plus a one-shot "give me everything you know" request to a peer.
 * Implementations: transport-libp2p.ts (gossipsub + a stream protocol) and
 * transport-memory.ts (in-process, for unit tests). test/unit/discovery/transport.suite.ts
 * is the compliance suite both pass.
 *
 * Contracts every implementation keeps:
 * - publish() never delivers to the publisher itself; publishing bytes already seen on that
 *   topic (by anyone) is a silent no-op (message identity = SHA-256 of the bytes).
 * - A subscriber's handler is the validator: 'accept' delivers and forwards the message to
 *   the subscriber's other peers, 'ignore' and 'reject' stop it there ('reject' marks the
 *   sender as having sent an invalid message where the implementation scores peers).
 * - request(peer) returns the items the peer's serve handler produced, in order, each at most
 *   maxItemBytes long and at most maxItems of them; a longer item or more items make it
 *   throw ResponseLimitError. A peer that is not connected, or has no serve handler, makes it throw
 *   RequestFailedError.
 */
export type GossipVerdict = 'accept' | 'ignore' | 'reject';

export type GossipHandler = (data: Uint8Array, from: string) => GossipVerdict | Promise<GossipVerdict>;
export type ServeHandler = (from: string) => readonly Uint8Array[] | Promise<readonly Uint8Array[]>;

export interface RequestOptions {
  /** Give up after this long (default DEFAULT_REQUEST_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Most items accepted in one response (default DEFAULT_MAX_RESPONSE_ITEMS). */
  maxItems?: number;
  /** Longest single item accepted (default DEFAULT_MAX_ITEM_BYTES). */
  maxItemBytes?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_ITEMS = 4096;
export const DEFAULT_MAX_ITEM_BYTES = 16 * 1024;

export class ResponseLimitError extends Error {
  override readonly name = 'ResponseLimitError';
}

export class RequestFailedError extends Error {
  override readonly name = 'RequestFailedError';
}

export interface DiscoveryTransport {
  /** This node's peer id (a libp2p peer id string, or a test name). */
  readonly selfId: string;
  /** Sends `data` to the topic's subscribers (see the contracts above). */
  publish(topic: string, data: Uint8Array): Promise<void>;
  /** Joins the topic; one handler per topic (a second call replaces it). */
  subscribe(topic: string, handler: GossipHandler): void;
  unsubscribe(topic: string): void;
  /** Sets what this node answers to request(); one handler (a second call replaces it). */
  serve(handler: ServeHandler): void;
  /** Asks a connected peer for its items. */
  request(peer: string, opts?: RequestOptions): Promise<Uint8Array[]>;
  /** Peers currently connected. */
  peers(): string[];
  /** Connected peers known to be subscribed to `topic`. */
  topicPeers(topic: string): string[];
  /** Called with a peer id each time a new peer connects; returns an unsubscribe function. */
  onPeerConnected(listener: (peer: string) => void): () => void;
  /**
   * Called when a connected peer is seen subscribing to a topic (from then on, publish()
   * reaches it; what was published before did not). Returns an unsubscribe function.
   */
  onPeerSubscribed(listener: (peer: string, topic: string) => void): () => void;
}
