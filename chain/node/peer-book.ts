/**
 * The peer book: which nodes the p2p layer can reach, and at which multiaddr.
 *
 * Identity binding (peer id ↔ consensus key): a node's libp2p identity key IS its Ed25519 node
 * key, the key it signs consensus votes with (address = hex of the raw public key). Its libp2p
 * peer id is therefore a function of its address (the identity multihash of that public key),
 * and noise proves possession of the private key on every connection. So a registry endpoint is
 * node X's p2p endpoint iff it is a multiaddr of exactly the form
 *   /{ip4|ip6|dns|dns4|dns6}/<host>/tcp/<port 1..65535>/p2p/<peer id of X's consensus key>
 * No extra signature is needed: the registry entry is written by a tx signed by the owner, and
 * whoever listens at that address can only complete a handshake under that peer id with the
 * consensus key's private key.
 *
 * Sources, in lookup precedence: the finalized beacon registry (nodes that registered by tx
 * with a p2p endpoint, or moved it by an `update` tx; refreshed on every beacon commit), the
 * genesis node directory (fixed; a dialer falls back to it when a directory node's registered
 * endpoint fails), and the bootstrap multiaddrs of the node's config. Pure: no IO.
 */
import { multiaddr } from '@multiformats/multiaddr';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import type { NodeRecord } from '../state/types.js';

export class PeerBookError extends Error {
  override name = 'PeerBookError';
}

export interface PeerEntry {
  /** node address (hex Ed25519 public key = consensus key = libp2p identity) */
  readonly address: string;
  /** transport multiaddr without /p2p/, e.g. /ip4/127.0.0.1/tcp/31001 */
  readonly multiaddr: string;
}

export type PeerSource = 'directory' | 'registry' | 'bootstrap';

const HEX32 = /^[0-9a-f]{64}$/;
const HOST_PROTOCOLS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6']);
/** multiaddr protocol code of /p2p/ */
const P2P_CODE = 421;

const peerIdCache = new Map<string, string>();

/** The libp2p peer id (base58btc string) of the node whose Ed25519 public key is `address`. */
export function peerIdStringOf(address: string): string {
  let s = peerIdCache.get(address);
  if (s === undefined) {
    if (!HEX32.test(address)) throw new PeerBookError('address must be 32 bytes of lowercase hex');
    s = peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(address, 'hex'))).toString();
    if (peerIdCache.size > 10_000) peerIdCache.clear();
    peerIdCache.set(address, s);
  }
  return s;
}

/** The p2p endpoint a node listening on `listen` (transport multiaddr) registers: `listen/p2p/<peer id>`. */
export function p2pEndpointFor(listen: string, address: string): string {
  return `${listen}/p2p/${peerIdStringOf(address)}`;
}

/**
 * Parses a full p2p multiaddr (host/tcp/p2p, see the file comment). Returns the transport part
 * and the node address its peer id encodes (Ed25519 peer ids only); throws PeerBookError.
 */
export function parseP2pMultiaddr(s: string): { readonly multiaddr: string; readonly address: string } {
  if (typeof s !== 'string' || !s.startsWith('/')) throw new PeerBookError('not a multiaddr');
  let comps: Array<{ name: string; code: number; value?: string }>;
  try {
    comps = multiaddr(s).getComponents();
  } catch (e) {
    throw new PeerBookError(`malformed multiaddr: ${(e as Error).message}`);
  }
  const [host, tcp, p2p] = comps;
  if (comps.length !== 3 || !host || !tcp || !p2p || !HOST_PROTOCOLS.has(host.name) || tcp.name !== 'tcp' || p2p.code !== P2P_CODE) {
    throw new PeerBookError('expected /ip4|ip6|dns|dns4|dns6/<host>/tcp/<port>/p2p/<peer id>');
  }
  const port = Number(tcp.value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PeerBookError(`bad tcp port ${String(tcp.value)}`);
  let raw: Uint8Array | undefined;
  try {
    raw = peerIdFromString(p2p.value ?? '').publicKey?.raw;
  } catch (e) {
    throw new PeerBookError(`bad peer id: ${(e as Error).message}`);
  }
  if (!raw || raw.length !== 32) throw new PeerBookError('peer id is not an Ed25519 identity');
  return { multiaddr: `/${host.name}/${host.value ?? ''}/tcp/${port}`, address: Buffer.from(raw).toString('hex') };
}

/**
 * The p2p endpoint of a registered node: its first endpoint that is a well-formed p2p multiaddr
 * whose peer id is its consensus key's. `rejected` lists the endpoints that look like
 * multiaddrs (start with '/') but are not (malformed, or bound to another key), with why;
 * other endpoints (RPC URLs, udp://…) are not p2p endpoints and are ignored.
 */
export function p2pEndpointOf(node: Pick<NodeRecord, 'consensusKey' | 'endpoints'>): { readonly multiaddr?: string; readonly rejected: ReadonlyArray<{ endpoint: string; reason: string }> } {
  const rejected: Array<{ endpoint: string; reason: string }> = [];
  const eps: unknown = node.endpoints;
  if (!Array.isArray(eps)) return { rejected };
  for (const ep of eps as unknown[]) {
    if (typeof ep !== 'string' || !ep.startsWith('/')) continue;
    let parsed: { multiaddr: string; address: string };
    try {
      parsed = parseCached(ep);
    } catch (e) {
      rejected.push({ endpoint: ep.slice(0, 120), reason: (e as Error).message });
      continue;
    }
    if (parsed.address !== node.consensusKey) {
      rejected.push({ endpoint: ep.slice(0, 120), reason: 'peer id is not the consensus key' });
      continue;
    }
    return { multiaddr: parsed.multiaddr, rejected };
  }
  return { rejected };
}

const parseCache = new Map<string, { multiaddr: string; address: string } | PeerBookError>();
function parseCached(ep: string): { multiaddr: string; address: string } {
  let r = parseCache.get(ep);
  if (r === undefined) {
    try {
      r = parseP2pMultiaddr(ep);
    } catch (e) {
      r = e instanceof PeerBookError ? e : new PeerBookError((e as Error).message);
    }
    if (parseCache.size > 10_000) parseCache.clear();
    parseCache.set(ep, r);
  }
  if (r instanceof PeerBookError) throw r;
  return r;
}

type RegistryView = Readonly<Record<string, Pick<NodeRecord, 'consensusKey' | 'endpoints' | 'role'>>>;

/**
 * Chain peers learned from a beacon registry: every validator- or auditor-role node (any status:
 * a jailed member may still sit in this epoch's group) with a valid p2p endpoint, keyed by
 * consensus key, sorted by owner. Relays are not chain peers.
 */
export function registryPeers(nodes: RegistryView): { peers: PeerEntry[]; rejected: Array<{ node: string; endpoint: string; reason: string }> } {
  const peers: PeerEntry[] = [];
  const rejected: Array<{ node: string; endpoint: string; reason: string }> = [];
  for (const k of Object.keys(nodes).sort()) {
    const n = nodes[k]!;
    if (n.role !== 'validator' && n.role !== 'auditor') continue;
    const ep = p2pEndpointOf(n);
    for (const r of ep.rejected) rejected.push({ node: k, ...r });
    if (ep.multiaddr !== undefined) peers.push({ address: n.consensusKey, multiaddr: ep.multiaddr });
  }
  return { peers, rejected };
}

/**
 * Follows the beacon registry for a node: `update(nodes)` returns the registry peers when they
 * differ from the last call's (undefined when unchanged), and reports each rejected endpoint once
 * per distinct value through `onRejected`. Cheap on an unchanged registry (one string per node).
 */
export class RegistryPeerFeed {
  private fingerprint = '';
  private readonly reported = new Set<string>();
  constructor(private readonly onRejected: (r: { node: string; endpoint: string; reason: string }) => void) {}

  update(nodes: RegistryView): PeerEntry[] | undefined {
    const fp = Object.keys(nodes)
      .sort()
      .map((k) => `${k}|${nodes[k]!.role}|${nodes[k]!.consensusKey}|${Array.isArray(nodes[k]!.endpoints) ? nodes[k]!.endpoints.join('\n') : ''}`)
      .join('\n\n');
    if (fp === this.fingerprint) return undefined;
    this.fingerprint = fp;
    const { peers, rejected } = registryPeers(nodes);
    for (const r of rejected) {
      const key = `${r.node}|${r.endpoint}`;
      if (this.reported.has(key)) continue;
      if (this.reported.size > 10_000) this.reported.clear();
      this.reported.add(key);
      this.onRejected(r);
    }
    return peers;
  }
}

/** Change of the registry part of a peer book. */
export interface PeerBookDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
}

/**
 * Address → dial multiaddr, from three sources (precedence: registry, directory, bootstrap: the
 * registry holds the owner's latest signed word). The node itself is never listed; membership
 * of the directory (`isDirectory`) does not depend on the registry.
 */
export class PeerBook {
  private readonly directory = new Map<string, PeerEntry>();
  private readonly bootstrap = new Map<string, PeerEntry>();
  private registry = new Map<string, PeerEntry>();
  private cached?: string[];

  constructor(
    readonly self: string,
    directory: readonly PeerEntry[],
    bootstrap: readonly PeerEntry[] = [],
  ) {
    for (const p of directory) if (p.address !== self) this.directory.set(p.address, p);
    for (const p of bootstrap) if (p.address !== self && !this.directory.has(p.address)) this.bootstrap.set(p.address, p);
  }

  /** Replaces the registry-learned peers; returns which addresses were added, removed or moved. */
  setRegistry(peers: readonly PeerEntry[]): PeerBookDiff {
    const next = new Map<string, PeerEntry>();
    for (const p of peers) if (p.address !== this.self && !next.has(p.address)) next.set(p.address, p);
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    for (const [a, p] of next) {
      const old = this.registry.get(a);
      if (!old) added.push(a);
      else if (old.multiaddr !== p.multiaddr) changed.push(a);
    }
    for (const a of this.registry.keys()) if (!next.has(a)) removed.push(a);
    this.registry = next;
    this.cached = undefined;
    return { added, removed, changed };
  }

  lookup(address: string): (PeerEntry & { readonly source: PeerSource }) | undefined {
    const r = this.registry.get(address);
    if (r) return { ...r, source: 'registry' };
    const d = this.directory.get(address);
    if (d) return { ...d, source: 'directory' };
    const b = this.bootstrap.get(address);
    return b ? { ...b, source: 'bootstrap' } : undefined;
  }

  /**
   * Where else to try a directory node whose registered endpoint differs from its genesis one:
   * the genesis entry (a dialer alternates between the two while dials fail). Undefined otherwise.
   */
  fallback(address: string): (PeerEntry & { readonly source: PeerSource }) | undefined {
    const r = this.registry.get(address);
    const d = this.directory.get(address);
    return r && d && r.multiaddr !== d.multiaddr ? { ...d, source: 'directory' } : undefined;
  }

  /** Every known peer with the entry lookup() gives, in addresses() order. */
  entries(): Array<PeerEntry & { readonly source: PeerSource }> {
    return this.addresses().map((a) => this.lookup(a)!);
  }

  /** Whether any source knows `address` (no allocation: the per-frame check of inbound streams). */
  has(address: string): boolean {
    return this.registry.has(address) || this.directory.has(address) || this.bootstrap.has(address);
  }

  isDirectory(address: string): boolean {
    return this.directory.has(address);
  }

  /** Every known peer: directory order first, then the others sorted. */
  addresses(): readonly string[] {
    if (!this.cached) {
      const rest = new Set<string>([...this.registry.keys(), ...this.bootstrap.keys()]);
      for (const a of this.directory.keys()) rest.delete(a);
      this.cached = [...this.directory.keys(), ...[...rest].sort()];
    }
    return this.cached;
  }
}
