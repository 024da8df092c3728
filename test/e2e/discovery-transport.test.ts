/** The DiscoveryTransport compliance suite against real libp2p hosts on 127.0.0.1. */
import { DiscoveryNode } from '../../discovery/node.js';
import { Libp2pTransport } from '../../discovery/transport-libp2p.js';
import { waitUntil } from '../helpers/wait.js';
import { transportSuite, type TransportHarness } from '../unit/discovery/transport.suite.js';

transportSuite('libp2p transport', async (n): Promise<TransportHarness> => {
  const hosts: DiscoveryNode[] = [];
  const nodes: Libp2pTransport[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const h = await DiscoveryNode.create({ listen: ['/ip4/127.0.0.1/tcp/0'] });
      hosts.push(h);
      nodes.push(await Libp2pTransport.create(h));
      await h.start();
    }
  } catch (err) {
    await Promise.all(hosts.map((h) => h.stop()));
    throw err;
  }
  return {
    nodes,
    async connect(i, j) {
      await hosts[i]!.dial(hosts[j]!.multiaddrs()[0]!);
      await waitUntil('connected both ways', () => nodes[i]!.peers().includes(nodes[j]!.selfId) && nodes[j]!.peers().includes(nodes[i]!.selfId));
    },
    async close() {
      for (const t of nodes) await t.close();
      await Promise.all(hosts.map((h) => h.stop()));
    },
  };
});
