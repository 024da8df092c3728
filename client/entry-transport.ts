/**
 * The client's one socket towards the entry relay: UDP, or a WebSocket (client/ws-transport.ts)
 * when the entry is reached over `ws`. Datagrams go to whatever circuit is current.
 */
import type { Logger } from 'pino';
import type { Endpoint } from '../relay/addr.js';
import type { UdpTransport } from '../relay/udp.js';
import { openBindTransport } from '../conn/index.js';
import type { Circuit } from './circuit.js';
import { openWsTransport } from './ws-transport.js';

export interface EntryTransportOptions {
  ws?: { url: string; ca?: Buffer } | undefined;
  entry: Endpoint;
  log: Logger;
  /** The circuit datagrams are handed to (none: dropped). */
  circuit(): Circuit | undefined;
}

export async function openEntryTransport(o: EntryTransportOptions): Promise<UdpTransport> {
  const { ws, log } = o;
  return ws
    ? await openWsTransport({ url: ws.url, entry: o.entry, ...(ws.ca ? { ca: ws.ca } : {}), log, onDatagram: (p, from) => o.circuit()?.onDatagram(p, from) })
    : await openBindTransport({
        host: '0.0.0.0',
        port: 0,
        log,
        onDatagram: (p, from) => o.circuit()?.onDatagram(p, from),
        // One circuit call (and one TUN write) per socket wake-up; TOPVPN_UDP_BATCH=0 (diagnostics) goes packet by packet.
        ...(process.env['TOPVPN_UDP_BATCH'] === '0' ? {} : { onBatch: (ps: Buffer[], from: Endpoint[]) => o.circuit()?.onDatagrams(ps, from) }),
      });
}
