/**
 * The client's link to its entry relay over one WebSocket (`--transport ws`), for networks
 * that block UDP. It stands in for the UDP transport (same UdpTransport shape): every
 * packet sent goes to the entry as one binary message, every binary message received is
 * handed on as if it came from `entry` (the relay list's endpoint, which the Circuit checks).
 *
 * Contract (ANCHORS.md "Through firewalls"): no compression, one packet per message, and
 * a send while the socket has more than `maxBufferedBytes` queued (or is not open) is
 * dropped and counted in `sendErrors`, never queued. A lost connection is re-opened in the
 * background (backoff 250 ms … 5 s) until `close()`; packets meanwhile are dropped, and the
 * circuit's liveness check decides whether the circuit must be rebuilt.
 */
import type { Logger } from 'pino';
import WebSocket from 'ws';
import type { Endpoint } from '../relay/addr.js';
import type { UdpStats, UdpTransport } from '../relay/udp.js';

export const DEFAULT_WS_MAX_BUFFERED = 256 * 1024;
/**
 * Inner MTU over WebSocket: lower than over UDP so that a full inner packet plus three
 * layers fits one TCP segment of a 1500 B path, which limits TCP-over-TCP meltdown.
 */
export const WS_INNER_MTU = 1280;

export class WsTransportError extends Error {
  override readonly name = 'WsTransportError';
}

export interface WsTransportOptions {
  url: string;
  /** The entry's endpoint as the Circuit knows it: received packets are reported from it. */
  entry: Endpoint;
  /** PEM CA certificate(s) to trust for wss:// (e.g. a relay's self-signed certificate). */
  ca?: string | Buffer;
  maxBufferedBytes?: number;
  connectTimeoutMs?: number;
  log: Logger;
  onDatagram(packet: Buffer, from: Endpoint): void;
}

export interface WsTransport extends UdpTransport {
  readonly url: string;
  /** Connections opened so far (1 + re-opens). */
  readonly opens: number;
}

export async function openWsTransport(o: WsTransportOptions): Promise<WsTransport> {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new WsTransportError(`not a URL: ${o.url}`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new WsTransportError(`expected ws:// or wss://, got ${o.url}`);
  const maxBuffered = o.maxBufferedBytes ?? DEFAULT_WS_MAX_BUFFERED;
  const st: UdpStats = { datagramsIn: 0, bytesIn: 0, datagramsOut: 0, bytesOut: 0, sendErrors: 0 };
  let ws: WebSocket | undefined;
  let closed = false;
  let opens = 0;
  let retryMs = 250;
  let retryTimer: NodeJS.Timeout | undefined;
  const from: Endpoint = { host: o.entry.host, port: o.entry.port };

  const dial = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const s = new WebSocket(o.url, { perMessageDeflate: false, handshakeTimeout: o.connectTimeoutMs ?? 10_000, ...(o.ca !== undefined ? { ca: o.ca } : {}) });
      s.binaryType = 'nodebuffer';
      s.once('open', () => {
        opens++;
        retryMs = 250;
        s.off('error', reject);
        s.on('error', (err) => o.log.warn({ err: err.message }, 'ws link error'));
        resolve(s);
      });
      s.once('error', reject);
      s.on('message', (data, isBinary) => {
        if (!isBinary) return;
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
        st.datagramsIn++;
        st.bytesIn += buf.length;
        o.onDatagram(buf, from);
      });
      s.on('close', () => {
        if (ws !== s || closed) return;
        ws = undefined;
        o.log.warn({ url: o.url }, 'ws link closed; re-opening');
        schedule();
      });
    });

  const schedule = (): void => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      dial().then(
        (s) => {
          if (closed) s.terminate();
          else ws = s;
        },
        (err: Error) => {
          o.log.debug({ err: err.message }, 'ws re-open failed');
          retryMs = Math.min(5_000, retryMs * 2);
          schedule();
        },
      );
    }, retryMs);
    retryTimer.unref();
  };

  try {
    ws = await dial();
  } catch (err) {
    throw new WsTransportError(`cannot open ${o.url}: ${(err as Error).message}`);
  }
  return {
    url: o.url,
    get opens() {
      return opens;
    },
    local: { host: '0.0.0.0', port: 0 },
    recvBufferBytes: 0,
    sendBufferBytes: maxBuffered,
    send(_to, packet) {
      const s = ws;
      if (closed || s === undefined || s.readyState !== WebSocket.OPEN || s.bufferedAmount > maxBuffered) {
        st.sendErrors++;
        return;
      }
      st.datagramsOut++;
      st.bytesOut += packet.length;
      s.send(packet, { binary: true, compress: false });
    },
    stats: () => ({ ...st }),
    close: async () => {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const s = ws;
      ws = undefined;
      if (s === undefined) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.terminate();
          resolve();
        }, 250);
        s.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        s.close();
      });
    },
  };
}
