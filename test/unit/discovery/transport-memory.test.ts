import { MemoryNetwork } from '../../../discovery/transport-memory.js';
import { waitUntil } from '../../helpers/wait.js';
import { transportSuite, type TransportHarness } from './transport.suite.js';

transportSuite('memory transport', async (n): Promise<TransportHarness> => {
  const net = new MemoryNetwork();
  const nodes = Array.from({ length: n }, (_, i) => net.create(`node-${i}`));
  return {
    nodes,
    async connect(i, j) {
      net.connect(nodes[i]!.selfId, nodes[j]!.selfId);
      await waitUntil('linked', () => nodes[i]!.peers().includes(nodes[j]!.selfId));
    },
    async close() {
      for (const t of nodes) net.remove(t.selfId);
    },
  };
});
