/**
 * Discovery as a relay daemon runs it: a DiscoveryNode with the relay's persistent peer key,
 * a serving Directory that checks relays on chain (RpcChainView), and a DescriptorPublisher
 * that signs this relay's descriptor with its chain (node) key, gossips it at start and every
 * refresh, and re-gossips what the directory accepts (store and forward).
 *
 * Contract: `start()` resolves once the libp2p host listens and the first descriptor is
 * signed and served (bootstrap peers may still be dialing: they are redialed until reached).
 * `stop()` stops publishing, the directory and the host; idempotent.
 */
import type { Logger } from 'pino';
import { signBytes, type KeyPair } from '../chain/node/keys.js';
import type { Descriptor } from '../protocol/descriptor.js';
import { defaultRpcCall, rpcChainIdentity } from '../relay/payments/chain-rpc.js';
import { RpcChainView } from './chain-view-rpc.js';
import { Directory, type DirectoryStats } from './directory.js';
import { DiscoveryNode } from './node.js';
import { DescriptorPublisher, type DescriptorTemplate } from './publisher.js';
import { Libp2pTransport } from './transport-libp2p.js';

export interface RelayDiscoveryOptions {
  chainRpc: string;
  /** The relay's chain key: its address is the descriptor's nodeAddress and signs it. */
  nodeKey: KeyPair;
  /** X25519 onion public key (hex). */
  onionKey: string;
  /** Advertised UDP endpoint "a.b.c.d:port". */
  udp: string;
  /** Advertised WebSocket URL, if the relay accepts clients over WebSocket. */
  ws?: string;
  pricePerGiB: bigint;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
  bandwidthBps: number;
  /** Canonical exit-policy lines; [] for a relay that is not an exit. */
  exitPolicy: string[];
  /** Operator account (hex); default: the node address. */
  operator?: string;
  /** Other node addresses of the same operator. */
  family?: string[];
  /** libp2p listen multiaddrs. */
  listen: readonly string[];
  announce?: readonly string[];
  bootstrap: readonly string[];
  /** Persistent libp2p key (0600); absent: a fresh peer id per run. */
  peerKeyFile?: string;
  lifetimeMs: number;
  refreshMs: number;
  log: Logger;
}

export interface RelayDiscoveryInfo {
  chainId: string;
  peerId: string;
  /** Dialable multiaddrs, each ending in /p2p/<peer id>: what other relays and clients bootstrap from. */
  multiaddrs: string[];
  nodeAddress: string;
  expiresAt: number;
}

export class RelayDiscovery {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly node: DiscoveryNode,
    private readonly transport: Libp2pTransport,
    private readonly directory: Directory,
    private readonly publisher: DescriptorPublisher,
  ) {}

  static async start(o: RelayDiscoveryOptions): Promise<{ discovery: RelayDiscovery; info: RelayDiscoveryInfo }> {
    const { chainId } = await rpcChainIdentity(defaultRpcCall, o.chainRpc);
    const node = await DiscoveryNode.create({
      listen: o.listen,
      bootstrap: o.bootstrap,
      log: o.log,
      ...(o.announce ? { announce: o.announce } : {}),
      ...(o.peerKeyFile !== undefined ? { keyFile: o.peerKeyFile } : {}),
    });
    const transport = await Libp2pTransport.create(node);
    const directory = new Directory({ chainId, chain: new RpcChainView(o.chainRpc), log: o.log });
    const nodeAddress = o.nodeKey.address;
    const family = [...new Set(o.family ?? [])].filter((a) => a !== nodeAddress).sort();
    const template: DescriptorTemplate = {
      version: 1,
      chainId,
      nodeAddress,
      peerId: node.peerId,
      onionKey: o.onionKey,
      endpoints: { udp: o.udp, ...(o.ws !== undefined ? { ws: o.ws } : {}) },
      pricePerGiB: o.pricePerGiB,
      region: o.country,
      bandwidthBps: o.bandwidthBps,
      exitPolicy: o.exitPolicy,
      operator: o.operator ?? nodeAddress,
      family,
    };
    const publisher = new DescriptorPublisher({
      transport,
      directory,
      template: () => template,
      sign: (m) => new Uint8Array(Buffer.from(signBytes(o.nodeKey, m), 'hex')),
      lifetimeMs: o.lifetimeMs,
      refreshIntervalMs: o.refreshMs,
      log: o.log,
    });
    const d = new RelayDiscovery(node, transport, directory, publisher);
    let first: Descriptor;
    try {
      await directory.start();
      directory.attach(transport);
      await node.start();
      first = await publisher.start();
    } catch (err) {
      await d.stop();
      throw err;
    }
    const info: RelayDiscoveryInfo = { chainId, peerId: node.peerId, multiaddrs: node.multiaddrs(), nodeAddress, expiresAt: first.expiresAt };
    o.log.info({ ...info }, 'discovery: descriptor published');
    return { discovery: d, info };
  }

  /** Discovery peers connected now. */
  peers(): number {
    return this.transport.peers().length;
  }

  /** Relays this node knows and serves (its own excluded unless it is staked on chain). */
  knownRelays(): number {
    return this.directory.candidates().length;
  }

  /** Descriptors signed and gossiped so far (start and refreshes). */
  published(): number {
    return this.publisher.published;
  }

  directoryStats(): DirectoryStats {
    return this.directory.stats();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.publisher.stop();
      await this.directory.stop().catch(() => undefined);
      await this.transport.close().catch(() => undefined);
      await this.node.stop().catch(() => undefined);
    })();
    return this.stopping;
  }
}
