/** In-process cluster of ChainNodes over MemoryNetwork + MemoryStore (unit tests). */
import { ChainNode } from '../../../chain/node/node.js';
import { MemoryHub, MemoryNetwork } from '../../../chain/node/net.js';
import { MemoryStore } from '../../../chain/node/store.js';
import { makeDevnetGenesis, type DevnetKeys } from '../../../chain/devnet/genesis.js';
import { silentLogger } from '../../../common/log.js';
import type { SignedTx } from '../../../chain/state/index.js';
import { devnetTransfer } from '../../helpers/chain-rpc.js';
import type { KeyPair } from '../../../chain/node/keys.js';
import type { ByzantineOptions } from '../../../chain/node/chain-runtime.js';

export interface Cluster {
  readonly dk: DevnetKeys;
  readonly hub: MemoryHub;
  readonly nodes: ChainNode[];
  readonly stores: MemoryStore[];
  restart(i: number): Promise<void>;
  kill(i: number): Promise<void>;
  stopAll(): Promise<void>;
}

export interface ClusterOptions {
  shards?: number;
  group?: number;
  auditors?: number;
  accounts?: number;
  /** Test-only misbehaviour per node index. */
  byzantine?: Readonly<Record<number, ByzantineOptions>>;
  slashReportStaggerMs?: number;
  /** Spare validator nodes (not registered at genesis; see makeDevnetGenesis). */
  spares?: number;
  /** Per-epoch re-election (genesis `election`). */
  election?: { epochBlocks: number };
  /** The hub the nodes talk over (a test may pass a subclass that watches or drops messages). */
  hub?: MemoryHub;
  /** Genesis timing (default: 600 ms view timeout, 50 ms blocks, 100 ms idle pause). */
  timing?: { baseTimeoutMs: number; minBlockIntervalMs: number; idleBlockMs: number };
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const dk = makeDevnetGenesis({ shards: opts.shards ?? 2, group: opts.group ?? 4, auditors: opts.auditors ?? 4, accounts: opts.accounts ?? 4, basePort: 1, ...(opts.spares ? { spares: opts.spares } : {}), ...(opts.election ? { election: opts.election } : {}), timing: opts.timing ?? { baseTimeoutMs: 600, minBlockIntervalMs: 50, idleBlockMs: 100 } });
  const hub = opts.hub ?? new MemoryHub();
  const stores = dk.nodeKeys.map(() => new MemoryStore());
  const make = (i: number): ChainNode =>
    new ChainNode({
      genesis: dk.genesis,
      key: dk.nodeKeys[i]!,
      net: new MemoryNetwork(dk.nodeKeys[i]!.address, hub),
      store: stores[i]!,
      log: silentLogger(),
      ...(opts.byzantine?.[i] ? { byzantine: opts.byzantine[i] } : {}),
      ...(opts.slashReportStaggerMs !== undefined ? { slashReportStaggerMs: opts.slashReportStaggerMs } : {}),
    });
  const nodes = dk.nodeKeys.map((_, i) => make(i));
  await Promise.all(nodes.map((n) => n.start()));
  const alive = new Set(nodes.map((_, i) => i));
  return {
    dk,
    hub,
    nodes,
    stores,
    async kill(i) {
      await nodes[i]!.stop();
      alive.delete(i);
    },
    async restart(i) {
      if (alive.has(i)) await nodes[i]!.stop();
      hub.unregister(dk.nodeKeys[i]!.address);
      nodes[i] = make(i);
      await nodes[i]!.start();
      alive.add(i);
    },
    async stopAll() {
      await Promise.all([...alive].map((i) => nodes[i]!.stop()));
      alive.clear();
    },
  };
}

/** A signed transfer on `chain` (test/helpers/chain-rpc.ts devnetTransfer). */
export function transfer(from: KeyPair, to: string, amountTop: bigint, nonce: number, chainId: string, shards: number, chain: string): SignedTx {
  return devnetTransfer({ chainId, shards }, from, to, amountTop, nonce, chain);
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
