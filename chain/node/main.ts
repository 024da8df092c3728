/**
 * Runs one node process from its config: libp2p network, LevelDB store, chain runtimes and
 * JSON-RPC. Prints one JSON line {"event":"started",...} on stdout once RPC is serving;
 * stops cleanly on SIGTERM/SIGINT (prints {"event":"stopped"}).
 */
import { join } from 'node:path';
import { createLogger } from '../../common/log.js';
import { readGenesis, readNodeConfig } from './config.js';
import { readKeyFile } from './keys.js';
import { Libp2pNetwork } from './net-libp2p.js';
import { ChainNode } from './node.js';
import { registerMethods } from './rpc-methods.js';
import { RpcServer } from './rpc.js';
import { LevelStore } from './store.js';
import { createChainMetrics } from './metrics.js';
import { Registry } from 'prom-client';
import { hashOf } from './chain-runtime.js';
import { byzantineFromEnv } from './test-hooks.js';
import { signatureVerifications } from '../consensus/index.js';

export interface RunningNode {
  readonly node: ChainNode;
  readonly rpc: RpcServer;
  readonly rpcUrl: string;
  stop(): Promise<void>;
}

export async function runNode(configPath: string): Promise<RunningNode> {
  const cfg = readNodeConfig(configPath);
  const genesis = readGenesis(cfg.genesisFile);
  const key = readKeyFile(cfg.keyFile);
  const log = createLogger('topchain', { level: cfg.logLevel ?? process.env.TOPVPN_LOG_LEVEL ?? 'info' });
  const net = new Libp2pNetwork({
    seedHex: key.seedHex,
    address: key.address,
    listen: [cfg.p2pListen],
    peers: genesis.nodes.map((n) => ({ address: n.address, multiaddr: n.p2p })),
    ...(cfg.bootstrap ? { bootstrap: cfg.bootstrap } : {}),
    log,
  });
  const store = new LevelStore(join(cfg.dataDir, 'db'));
  const byzantine = byzantineFromEnv(process.env); // test-only; throws unless TOPVPN_TEST_HOOKS=devnet
  if (byzantine) log.warn({ modes: byzantine.modes }, 'TEST HOOK: this node runs Byzantine on purpose');
  const node = new ChainNode({ genesis, key, net, store, log, ...(byzantine ? { byzantine } : {}) });
  // A peer's message must never take the node down: log stray async failures instead.
  process.on('unhandledRejection', (e) => log.error({ err: (e as Error)?.message ?? String(e) }, 'unhandled rejection'));
  const rpc = new RpcServer(log);
  await node.start();
  let bound: { host: string; port: number };
  try {
    bound = await rpc.listen(cfg.rpcHost, cfg.rpcPort);
  } catch (e) {
    await node.stop();
    throw e;
  }
  const rpcUrl = `http://${bound.host}:${bound.port}`;
  registerMethods(rpc, node, net, { rpcUrl, p2p: net.listenAddresses() });
  const metrics = createChainMetrics(new Registry(), { chains: [...node.runtimes.keys()] });
  rpc.metrics = {
    contentType: metrics.registry.contentType,
    text: () => {
      // Gauges read live state at scrape time.
      for (const rt of node.runtimes.values()) metrics.observeRuntime(rt);
      metrics.observeSupply(node.supply());
      metrics.observeVerifications(node.txVerifications);
      metrics.observeConsensusVerifications(signatureVerifications.count);
      metrics.peers.set(net.connectedPeers().length);
      metrics.observeTraffic(net.sentTraffic());
      return metrics.registry.metrics();
    },
  };
  node.events.onTxAdmitted = (hash) => metrics.txAdmitted(hash);
  node.events.onTxRejected = (chain) => metrics.txRejected(chain);
  node.events.onIncident = (kind) => metrics.error(kind);
  node.events.onViewChange = (chain) => metrics.viewChange(chain);
  node.events.onBlock = (chain, rec, payload) => {
    metrics.observeBlock(chain, { committedAt: rec.committedAt, height: rec.block.height, results: rec.results, txHashes: payload.body.txs.map((t) => hashOf(t)) });
    rpc.publish('newBlocks', { chain, height: rec.block.height, hash: rec.block.hash, txs: payload.body.txs.length, receipts: payload.body.receipts.length });
    payload.body.txs.forEach((stx, i) => {
      const t = stx.tx.op.type;
      if (t.startsWith('channel-')) {
        const r = rec.results[payload.body.confirms.length + payload.body.receipts.length + i];
        rpc.publish('channelEvents', { chain, height: rec.block.height, type: t, from: stx.tx.from, op: stx.tx.op, status: r?.status });
      }
    });
  };
  node.events.onFinal = (chain, height) => {
    metrics.observeFinal(chain, height);
    rpc.publish('finalBlocks', { chain, height });
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await rpc.close();
      await node.stop();
    })();
    return stopping;
  };
  log.info({ address: key.address.slice(0, 16), rpc: rpcUrl }, 'node started');
  return { node, rpc, rpcUrl, stop };
}
