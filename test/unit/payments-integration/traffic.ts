/** Traffic drivers for the paid network: upload through a sender, echo replies from the exit's TUN. */
import { flush, udpPacket } from '../relay/fake-net.js';
import { INTERNET, type PaidRelay } from './paid-net.js';

export const IP_SIZE = 1300;

export interface TrafficResult {
  sentPackets: number;
  sentBytes: number;
  exitPackets: number;
  repliedPackets: number;
  ms: number;
}

/**
 * Sends `bytes` of IP (IP_SIZE packets, `batch` at a time) from `src` via `send`; when `echo`,
 * the exit answers each packet it wrote with one of the same size. Flushes the network after
 * every batch. Returns counts and the wall time spent.
 */
export async function drive(o: { send: (ps: Buffer[]) => void; src: string; exit: PaidRelay; bytes: number; echo: boolean; batch?: number }): Promise<TrafficResult> {
  const batch = o.batch ?? 32;
  const payload = Buffer.alloc(IP_SIZE - 28, 0x5a);
  const r: TrafficResult = { sentPackets: 0, sentBytes: 0, exitPackets: 0, repliedPackets: 0, ms: 0 };
  const t0 = performance.now();
  while (r.sentBytes < o.bytes) {
    const ps: Buffer[] = [];
    for (let i = 0; i < batch && r.sentBytes < o.bytes; i++) {
      ps.push(udpPacket(o.src, INTERNET, 9, payload));
      r.sentBytes += IP_SIZE;
      r.sentPackets++;
    }
    o.send(ps);
    await flush();
    const w = o.exit.exitWrites.splice(0);
    r.exitPackets += w.length;
    if (o.echo && w.length) {
      o.exit.engine.onTunPackets(w.map(() => udpPacket(INTERNET, o.src, 12345, payload)));
      r.repliedPackets += w.length;
      await flush();
    }
  }
  r.ms = performance.now() - t0;
  return r;
}
