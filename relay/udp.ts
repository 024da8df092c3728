/**
 * One UDP socket carrying a daemon's links (relay: all circuits; client: its entry link).
 * Socket buffers are raised to `bufferBytes` (the kernel caps them at net.core.rmem_max /
 * wmem_max; the sizes actually granted are reported). Send errors are counted, not thrown:
 * UDP is lossy anyway and the inner TCP retransmits.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { Endpoint } from './addr.js';

export const DEFAULT_UDP_BUFFER_BYTES = 4 * 1024 * 1024;

export interface UdpStats {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  sendErrors: number;
}

export interface UdpTransport {
  readonly local: Endpoint;
  readonly recvBufferBytes: number;
  readonly sendBufferBytes: number;
  send(to: Endpoint, packet: Buffer): void;
  stats(): UdpStats;
  close(): Promise<void>;
}

export interface UdpOptions {
  host: string;
  port: number;
  bufferBytes?: number;
  log: Logger;
  onDatagram(packet: Buffer, from: Endpoint): void;
}

export async function openUdp(opts: UdpOptions): Promise<UdpTransport> {
  const want = opts.bufferBytes ?? DEFAULT_UDP_BUFFER_BYTES;
  const sock: Socket = createSocket({ type: 'udp4', recvBufferSize: want, sendBufferSize: want });
  const st: UdpStats = { datagramsIn: 0, bytesIn: 0, datagramsOut: 0, bytesOut: 0, sendErrors: 0 };
  let lastErrLog = 0;
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(opts.port, opts.host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', (err) => opts.log.error({ err: err.message }, 'udp socket error'));
  sock.on('message', (msg, rinfo) => {
    st.datagramsIn++;
    st.bytesIn += msg.length;
    opts.onDatagram(msg, { host: rinfo.address, port: rinfo.port });
  });
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const onSent = (err: Error | null): void => {
    inFlight--;
    if (inFlight === 0) drained?.();
    if (!err) return;
    st.sendErrors++;
    const now = Date.now();
    if (now - lastErrLog > 5_000) {
      lastErrLog = now;
      opts.log.warn({ err: err.message, sendErrors: st.sendErrors }, 'udp send failed');
    }
  };
  const addr = sock.address();
  let closed = false;
  return {
    local: { host: addr.address, port: addr.port },
    recvBufferBytes: sock.getRecvBufferSize(),
    sendBufferBytes: sock.getSendBufferSize(),
    send(to, packet) {
      if (closed) return;
      st.datagramsOut++;
      st.bytesOut += packet.length;
      inFlight++;
      sock.send(packet, to.port, to.host, onSent);
    },
    stats: () => ({ ...st }),
    // Lets datagrams already handed to send() (e.g. DESTROYs on stop) leave first, for up to 250 ms.
    close: async () => {
      if (closed) return;
      closed = true;
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 250);
          drained = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      await new Promise<void>((resolve) => sock.close(() => resolve()));
    },
  };
}
