/**
 * A small libp2p host for relay discovery: TCP + noise + yamux, identify, ping, gossipsub
 * (unsigned messages, content-addressed message ids: descriptors carry their own
 * signatures, so a relay re-gossiping another relay's descriptor produces the same message),
 * optionally kad-dht. The peer id comes from a persisted Ed25519 key file (0600) so a relay's
 * peer id is stable across restarts. Bootstrap multiaddrs (with /p2p/<id>) are dialed at
 * start and redialed while not connected.
 */
import '../chain/node/shims.js';
import '../chain/node/yamux-window.js';
import { createHash } from 'node:crypto';
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { ping, type Ping } from '@libp2p/ping';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { kadDHT, type KadDHT } from '@libp2p/kad-dht';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Logger } from 'pino';
import { silentLogger } from '../common/log.js';

export const DHT_PROTOCOL = '/topvpn/kad/1.0.0';
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0'];
export const DEFAULT_REDIAL_INTERVAL_MS = 5_000;
/** Largest gossip message accepted (descriptors are ≤ 8 KiB). */
export const MAX_GOSSIP_DATA_BYTES = 64 * 1024;

export class PeerKeyFileError extends Error {
  override readonly name = 'PeerKeyFileError';
}

export class BootstrapAddressError extends Error {
  override readonly name = 'BootstrapAddressError';
}

export interface DiscoveryServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
  pubsub: GossipSub;
  dht?: KadDHT;
}

export interface DiscoveryNodeOptions {
  /** Private key file (libp2p protobuf encoding), created 0600 if absent; refused if group/other may read it. */
  keyFile?: string;
  /** A key to use instead of keyFile (e.g. tests). Neither given: a fresh key per run. */
  privateKey?: PrivateKey;
  /** Listen multiaddrs (default /ip4/127.0.0.1/tcp/0). */
  listen?: readonly string[];
  /** Addresses to announce instead of the listen addresses. */
  announce?: readonly string[];
  /** Peers to dial at start and keep dialing while not connected; each must end in /p2p/<peer id>. */
  bootstrap?: readonly string[];
  redialIntervalMs?: number;
  /** Run kad-dht (server mode unless clientMode). */
  dht?: boolean | { clientMode?: boolean };
  log?: Logger;
}

/**
 * Loads the Ed25519 key in `path`, or creates it (parent folder 0700, file 0600, exclusive
 * create so two processes cannot race to different keys). Throws PeerKeyFileError for a file
 * that others may read or that does not hold a libp2p private key.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) throw new PeerKeyFileError(`${path}: mode ${(st.mode & 0o777).toString(8)} lets others read the key; chmod 600 it`);
    try {
      return privateKeyFromProtobuf(new Uint8Array(await readFile(path)));
    } catch (err) {
      throw new PeerKeyFileError(`${path}: not a libp2p private key (${(err as Error).message})`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreatePeerKey(path);
    throw err;
  }
  try {
    await fh.writeFile(privateKeyToProtobuf(key));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(path, 0o600);
  return key;
}

function parseBootstrap(addrs: readonly string[]): Multiaddr[] {
  return addrs.map((a) => {
    let ma: Multiaddr;
    try {
      ma = multiaddr(a);
    } catch (err) {
      throw new BootstrapAddressError(`bootstrap address ${JSON.stringify(a)}: ${(err as Error).message}`);
    }
    if (!a.includes('/p2p/')) throw new BootstrapAddressError(`bootstrap address ${a} must end in /p2p/<peer id>`);
    return ma;
  });
}

/** Gossip message id: SHA-256 of the data (messages are unsigned at the pubsub layer). */
function contentMsgId(msg: { data: Uint8Array }): Uint8Array {
  return new Uint8Array(createHash('sha256').update(msg.data).digest());
}

export class DiscoveryNode {
  private redialTimer?: NodeJS.Timeout;
  private started = false;

  private constructor(
    readonly libp2p: Libp2p<DiscoveryServices>,
    private readonly bootstrap: Multiaddr[],
    private readonly redialIntervalMs: number,
    private readonly log: Logger,
  ) {}

  static async create(opts: DiscoveryNodeOptions = {}): Promise<DiscoveryNode> {
    const bootstrap = parseBootstrap(opts.bootstrap ?? []);
    const privateKey = opts.privateKey ?? (opts.keyFile !== undefined ? await loadOrCreatePeerKey(opts.keyFile) : await generateKeyPair('Ed25519'));
    const dhtOpt = opts.dht;
    const services = {
      identify: identify(),
      ping: ping({ maxOutboundStreams: 4 }),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictNoSign',
        msgIdFn: contentMsgId,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        maxInboundDataLength: MAX_GOSSIP_DATA_BYTES,
      }),
      ...(dhtOpt ? { dht: kadDHT({ protocol: DHT_PROTOCOL, clientMode: typeof dhtOpt === 'object' ? dhtOpt.clientMode ?? false : false }) } : {}),
    };
    const libp2p = (await createLibp2p({
      privateKey,
      start: false,
      addresses: { listen: [...(opts.listen ?? DEFAULT_LISTEN)], ...(opts.announce ? { announce: [...opts.announce] } : {}) },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services,
    })) as unknown as Libp2p<DiscoveryServices>; // the optional dht key widens the inferred service map
    return new DiscoveryNode(libp2p, bootstrap, opts.redialIntervalMs ?? DEFAULT_REDIAL_INTERVAL_MS, opts.log ?? silentLogger());
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.libp2p.start();
    this.redial();
    this.redialTimer = setInterval(() => this.redial(), this.redialIntervalMs);
    this.redialTimer.unref();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.redialTimer) clearInterval(this.redialTimer);
    this.redialTimer = undefined;
    await this.libp2p.stop();
  }

  /** The addresses others can dial, each with /p2p/<peer id>. */
  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString());
  }

  /** Dials a peer (multiaddr with /p2p/); resolves when connected. */
  async dial(addr: string, timeoutMs = 5_000): Promise<void> {
    await this.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(timeoutMs) });
  }

  private redial(): void {
    if (!this.started) return;
    for (const ma of this.bootstrap) {
      const pid = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (pid !== undefined && this.libp2p.getConnections().some((c) => c.remotePeer.toString() === pid)) continue;
      this.libp2p.dial(ma, { signal: AbortSignal.timeout(5_000) }).catch((err: unknown) => {
        this.log.debug({ addr: ma.toString(), err: (err as Error).message }, 'bootstrap dial failed');
      });
    }
  }
}
