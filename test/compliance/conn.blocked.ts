// Child process of conn.test.ts, run inside a throwaway network namespace with native Binds
// on its loopback. Prints one JSON line: what arrived, whether in order and intact, and the
// sender's counters. Modes:
//   blocked <count>  lo shaped by a tbf qdisc (sent datagrams stay charged to the socket for
//                    a while); the sender has a tiny send buffer and sends a burst of 1400 B
//                    datagrams far larger than it.
//   mtu              lo MTU 1500: runs of 3000 B datagrams (GSO must fall back: a segment may
//                    not exceed the MTU) followed by runs of 1000 B ones (GSO works).
import { openBind } from '../../conn/index.js';
import { numbered } from './conn.suite.js';

const mode = process.argv[2] ?? 'blocked';
const sizes: number[] = mode === 'mtu'
  ? [...Array.from({ length: 200 }, () => 3000), ...Array.from({ length: 200 }, () => 1000)]
  : Array.from({ length: Number(process.argv[3] ?? 2000) }, () => 1400);

const a = await openBind({ host: '127.0.0.1', port: 0, impl: 'native', ...(mode === 'blocked' ? { sndbuf: 4096, offload: false } : {}) });
const b = await openBind({ host: '127.0.0.1', port: 0, impl: 'native' });
let received = 0;
let inOrder = true;
const done = new Promise<void>((resolve) => {
  b.onBatch((packets) => {
    for (const p of packets) {
      if (!p.equals(numbered(received, sizes[received] ?? 0))) inOrder = false;
      received++;
    }
    if (received >= sizes.length) resolve();
  });
});
const accepted = a.sendBatch(sizes.map((s, i) => ({ to: b.local, packet: numbered(i, s) })));
const timer = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ accepted, received, inOrder, timeout: true, stats: a.stats() })}\n`);
  process.exit(1);
}, 20_000);
await done;
clearTimeout(timer);
process.stdout.write(`${JSON.stringify({ accepted, received, inOrder, stats: a.stats() })}\n`);
a.close();
b.close();
