/**
 * WebSocket listener of an entry relay, for clients behind firewalls that block UDP.
 *
 * Contract (ANCHORS.md "Through firewalls"): one link packet per binary message, no
 * compression (perMessageDeflate off), and a send to a peer whose socket has more than
 * `maxBufferedBytes` queued is dropped, never queued (the inner TCP retransmits; queueing
 * would stack TCP-over-TCP delays). Each connection is one peer, named to the engine by a
 * synthetic endpoint `{ host: "ws:<remote ip>", port: <remote tcp port> }` that never
 * collides with a UDP endpoint; `send()` to such an endpoint goes over its socket. Relays
 * keep talking UDP to each other. With `cert` and `key` it serves wss:// (TLS).
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Endpoint } from './addr.js';

/** Endpoint hosts of WebSocket peers start with this. */
export const WS_HOST_PREFIX = 'ws:';
/** Default cap of bytes queued on one peer's socket before sends to it are dropped. */
export const DEFAULT_WS_MAX_BUFFERED = 256 * 1024;
/** Largest message accepted (a link packet is far smaller). */
export const WS_MAX_PAYLOAD = 64 * 1024;

export interface WsStats {
  connections: number;
  accepted: number;
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
  /** Sends dropped because the peer's socket was backed up (or closing). */
  dropsBackpressure: number;
  /** Text messages and other non-binary frames ignored. */
  dropsNotBinary: number;
}

export interface WsListenerOptions {
  host: string;
  port: number;
  /** PEM certificate and key: serve wss:// instead of ws://. */
  cert?: string | Buffer;
  key?: string | Buffer;
  maxBufferedBytes?: number;
  log: Logger;
  onPacket(packet: Buffer, from: Endpoint): void;
}

export interface WsListener {
  readonly local: Endpoint;
  readonly url: string;
  /** True if `to` is a WebSocket peer endpoint (the packet was then sent or dropped). */
  send(to: Endpoint, packet: Buffer): boolean;
  stats(): WsStats;
  close(): Promise<void>;
}

export class WsListenerError extends Error {
  override readonly name = 'WsListenerError';
}

export const isWsEndpoint = (e: Endpoint): boolean => e.host.startsWith(WS_HOST_PREFIX);
const key = (e: Endpoint): string => `${e.host}|${e.port}`;

export async function openWsListener(o: WsListenerOptions): Promise<WsListener> {
  if ((o.cert === undefined) !== (o.key === undefined)) throw new WsListenerError('wss needs both a certificate and a key');
  const tls = o.cert !== undefined;
  const maxBuffered = o.maxBufferedBytes ?? DEFAULT_WS_MAX_BUFFERED;
  const server: HttpServer = tls ? createHttpsServer({ cert: o.cert!, key: o.key! }) : createHttpServer();
  server.on('request', (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('topvpn relay: WebSocket only\n');
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: WS_MAX_PAYLOAD });
  const peers = new Map<string, WebSocket>();
  const st: WsStats = { connections: 0, accepted: 0, messagesIn: 0, bytesIn: 0, messagesOut: 0, bytesOut: 0, dropsBackpressure: 0, dropsNotBinary: 0 };
  wss.on('connection', (ws, req) => {
    const addr = (req.socket.remoteAddress ?? '0.0.0.0').replace(/^::ffff:/, '');
    const ep: Endpoint = { host: `${WS_HOST_PREFIX}${addr}`, port: req.socket.remotePort ?? 0 };
    const k = key(ep);
    peers.set(k, ws);
    st.accepted++;
    st.connections = peers.size;
    req.socket.setNoDelay(true);
    o.log.debug({ peer: `${addr}:${ep.port}` }, 'ws peer connected');
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        st.dropsNotBinary++;
        return;
      }
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      st.messagesIn++;
      st.bytesIn += buf.length;
      o.onPacket(buf, ep);
    });
    ws.on('close', () => {
      if (peers.get(k) === ws) peers.delete(k);
      st.connections = peers.size;
    });
    ws.on('error', (err) => o.log.debug({ err: err.message }, 'ws peer error'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => o.log.error({ err: err.message }, 'ws listener error'));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new WsListenerError('ws listener has no TCP address');
  const local = { host: a.address, port: a.port };
  let closed = false;
  return {
    local,
    url: `${tls ? 'wss' : 'ws'}://${a.address}:${a.port}`,
    send(to, packet) {
      if (!isWsEndpoint(to)) return false;
      const ws = peers.get(key(to));
      if (closed || ws === undefined || ws.readyState !== ws.OPEN || ws.bufferedAmount > maxBuffered) {
        st.dropsBackpressure++;
        return true;
      }
      st.messagesOut++;
      st.bytesOut += packet.length;
      ws.send(packet, { binary: true, compress: false });
      return true;
    },
    stats: () => ({ ...st }),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const ws of peers.values()) ws.terminate();
      peers.clear();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
