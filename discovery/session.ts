/**
 * A client's live view of the relay network: a DiscoveryNode with a throw-away peer id, a
 * Directory that checks every descriptor on chain through RpcChainView, attached to the
 * gossip topic (not serving), and an initial sync from every bootstrap peer reached.
 *
 * Contract: `open()` resolves once at least one peer answered a sync request (or rejects
 * with DiscoveryUnreachableError after `timeoutMs` without a peer); afterwards the directory
 * stays live (gossip, periodic re-sync, chain re-checks every `chainTtlMs`) until `close()`,
 * so `candidates()` drops a relay that unregistered or was jailed within TTL + sweep interval.
 */
import type { Logger } from 'pino';
import { silentLogger } from '../common/log.js';
import { defaultRpcCall, rpcChainIdentity } from '../relay/payments/chain-rpc.js';
import type { RelayCandidate } from '../client/path/relays.js';
import { RpcChainView } from './chain-view-rpc.js';
import { Directory } from './directory.js';
import { DiscoveryNode } from './node.js';
import { Libp2pTransport } from './transport-libp2p.js';

export class DiscoveryUnreachableError extends Error {
  override readonly name = 'DiscoveryUnreachableError';
}

export type DiscoveryPhase =
  | { phase: 'chain'; chainId: string }
  | { phase: 'peers'; peers: number }
  | { phase: 'synced'; peers: number; relays: number };

export interface DiscoverySessionOptions {
  chainRpc: string;
  /** Multiaddrs ending in /p2p/<peer id>. */
  bootstrap: readonly string[];
  /** How long to wait for the first peer. */
  timeoutMs: number;
  /** Local listen addresses (default loopback, any port: a client only dials out). */
  listen?: readonly string[];
  /** Chain answers are re-checked after this long (Directory default 60 s). */
  chainTtlMs?: number;
  sweepIntervalMs?: number;
  /** Optional 0600 JSON cache of the last good set (a restart starts warm). */
  cacheFile?: string;
  log?: Logger;
  onProgress?: (p: DiscoveryPhase) => void;
}

const POLL_MS = 100;

export class DiscoverySession {
  private closed = false;

  private constructor(
    readonly chainId: string,
    readonly directory: Directory,
    private readonly node: DiscoveryNode,
    private readonly transport: Libp2pTransport,
  ) {}

  static async open(o: DiscoverySessionOptions): Promise<DiscoverySession> {
    const log = o.log ?? silentLogger();
    const { chainId } = await rpcChainIdentity(defaultRpcCall, o.chainRpc);
    o.onProgress?.({ phase: 'chain', chainId });
    const node = await DiscoveryNode.create({ bootstrap: o.bootstrap, listen: o.listen ?? ['/ip4/127.0.0.1/tcp/0'], redialIntervalMs: 500, log });
    const transport = await Libp2pTransport.create(node);
    const directory = new Directory({
      chainId,
      chain: new RpcChainView(o.chainRpc),
      log,
      ...(o.chainTtlMs !== undefined ? { chainTtlMs: o.chainTtlMs } : {}),
      ...(o.sweepIntervalMs !== undefined ? { sweepIntervalMs: o.sweepIntervalMs } : {}),
      ...(o.cacheFile !== undefined ? { cacheFile: o.cacheFile } : {}),
    });
    const s = new DiscoverySession(chainId, directory, node, transport);
    try {
      await directory.start();
      directory.attach(transport, { serve: false });
      await node.start();
      const end = Date.now() + o.timeoutMs;
      while (transport.peers().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, POLL_MS));
      const peers = transport.peers();
      if (peers.length === 0) throw new DiscoveryUnreachableError(`no bootstrap peer reachable within ${o.timeoutMs / 1000} s (${o.bootstrap.join(', ')})`);
      o.onProgress?.({ phase: 'peers', peers: peers.length });
      await s.resync();
      o.onProgress?.({ phase: 'synced', peers: transport.peers().length, relays: directory.candidates().length });
      return s;
    } catch (err) {
      await s.close();
      throw err;
    }
  }

  /** Asks every connected peer for its whole set; resolves with the number of peers that answered. */
  async resync(): Promise<number> {
    const peers = this.transport.peers();
    const answers = await Promise.all(peers.map((p) => this.directory.syncFrom(this.transport, p)));
    return answers.filter((n) => n >= 0).length;
  }

  /** Relays usable now: verified, unexpired, staked and not jailed (as of the last chain check). */
  candidates(): RelayCandidate[] {
    return this.directory.candidates();
  }

  /** Runs a directory sweep now: drops expired descriptors, re-asks the chain about answers older than the TTL. */
  async recheck(): Promise<void> {
    await this.directory.sweep();
  }

  peers(): number {
    return this.transport.peers().length;
  }

  /** Stops gossip, the directory and the libp2p host. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.directory.stop().catch(() => undefined);
    await this.transport.close().catch(() => undefined);
    await this.node.stop().catch(() => undefined);
  }
}
