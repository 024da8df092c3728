/**
 * JSON-RPC 2.0 over HTTP POST (node:http) and over WebSocket (ws, same port, any path),
 * with subscriptions on WebSocket: {"method":"subscribe","params":["<topic>"]} returns a
 * subscription id; notifications are {"jsonrpc":"2.0","method":"subscription",
 * "params":{"subscription":id,"topic":t,"result":...}}. Bigints go out as decimal strings.
 * Malformed input always gets a JSON-RPC error response; a handler that throws never
 * takes the server down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_INTERNAL = -32603;
/** A transaction was refused; the message names the rule broken. */
export const RPC_TX_REJECTED = -32000;
export const RPC_NOT_FOUND = -32001;

/** The RPC port could not be bound. */
export class RpcListenError extends Error {
  override name = 'RpcListenError';
}

export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export type RpcParams = unknown[] | Record<string, unknown> | undefined;
export type RpcMethod = (params: RpcParams) => unknown | Promise<unknown>;

const MAX_BODY = 4 * 1024 * 1024;

/** JSON with bigint → decimal string and Uint8Array → hex. */
export function rpcJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    return v;
  });
}

interface RpcRequest {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

export class RpcServer {
  private server?: Server;
  private wss?: WebSocketServer;
  private readonly methods = new Map<string, RpcMethod>();
  private readonly subs = new Map<WebSocket, Map<string, string>>(); // socket → (subId → topic)
  private nextSub = 1;

  constructor(private readonly log: Logger) {}

  /** Serves GET /metrics (Prometheus text format) from this provider. */
  metrics?: { contentType: string; text(): Promise<string> };

  register(name: string, fn: RpcMethod): void {
    this.methods.set(name, fn);
  }

  /** Binds HTTP + WebSocket; a port that cannot be bound (in use, not permitted) is an RpcListenError. */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => void this.onHttp(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new RpcListenError(`rpc: cannot listen on ${host}:${port}: ${e.code ?? e.message}`)));
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    // Attached once bound: ws re-emits the server's errors on the WebSocketServer, which must not throw.
    this.wss = new WebSocketServer({ server, maxPayload: MAX_BODY });
    this.wss.on('error', (e) => this.log.error({ err: e.message }, 'rpc server error'));
    this.wss.on('connection', (ws) => this.onWs(ws));
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    for (const ws of this.subs.keys()) ws.terminate();
    this.subs.clear();
    await new Promise<void>((r) => (this.wss ? this.wss.close(() => r()) : r()));
    await new Promise<void>((r) => {
      if (!this.server) return r();
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }

  /** Push a notification to every WebSocket subscribed to `topic`. */
  publish(topic: string, result: unknown): void {
    if (this.subs.size === 0) return;
    let text: string | undefined;
    for (const [ws, m] of this.subs) {
      for (const [id, t] of m) {
        if (t !== topic) continue;
        text ??= rpcJson(result);
        if (ws.readyState === ws.OPEN) ws.send(`{"jsonrpc":"2.0","method":"subscription","params":{"subscription":${JSON.stringify(id)},"topic":${JSON.stringify(topic)},"result":${text}}}`);
      }
    }
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
      return;
    }
    if (req.method === 'GET' && req.url === '/metrics' && this.metrics) {
      const m = this.metrics;
      m.text().then(
        (t) => {
          res.writeHead(200, { 'content-type': m.contentType });
          res.end(t);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { 'content-type': 'application/json' });
      res.end(rpcJson({ jsonrpc: '2.0', id: null, error: { code: RPC_INVALID_REQUEST, message: 'use POST with a JSON-RPC 2.0 body' } }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        tooBig = true;
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) return;
      void this.handleText(Buffer.concat(chunks).toString('utf8')).then((out) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(out ?? '');
      });
    });
    req.on('error', () => {});
  }

  private onWs(ws: WebSocket): void {
    this.subs.set(ws, new Map());
    ws.on('message', (data) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      void this.handleText(text, ws).then((out) => {
        if (out !== undefined && ws.readyState === ws.OPEN) ws.send(out);
      });
    });
    ws.on('close', () => this.subs.delete(ws));
    ws.on('error', () => this.subs.delete(ws));
  }

  /** Handles one HTTP body or WS frame; returns the response text (undefined for notifications only). */
  async handleText(text: string, ws?: WebSocket): Promise<string | undefined> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return rpcJson({ jsonrpc: '2.0', id: null, error: { code: RPC_PARSE_ERROR, message: 'parse error: body is not JSON' } });
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return rpcJson({ jsonrpc: '2.0', id: null, error: { code: RPC_INVALID_REQUEST, message: 'empty batch' } });
      const outs = await Promise.all(parsed.map((r) => this.handleOne(r, ws)));
      const present = outs.filter((o) => o !== undefined);
      return present.length ? `[${present.join(',')}]` : undefined;
    }
    return this.handleOne(parsed, ws);
  }

  private async handleOne(raw: unknown, ws?: WebSocket): Promise<string | undefined> {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      return rpcJson({ jsonrpc: '2.0', id: null, error: { code: RPC_INVALID_REQUEST, message: 'request must be an object' } });
    }
    const r = raw as RpcRequest;
    const idOk = r.id === undefined || r.id === null || typeof r.id === 'string' || typeof r.id === 'number';
    const id = idOk ? (r.id ?? null) : null;
    if (r.jsonrpc !== '2.0' || typeof r.method !== 'string' || !idOk) {
      return rpcJson({ jsonrpc: '2.0', id, error: { code: RPC_INVALID_REQUEST, message: 'invalid request: need jsonrpc "2.0", a string method, a string/number id' } });
    }
    if (r.params !== undefined && (r.params === null || typeof r.params !== 'object')) {
      return rpcJson({ jsonrpc: '2.0', id, error: { code: RPC_INVALID_PARAMS, message: 'params must be an array or an object' } });
    }
    const isNotification = r.id === undefined;
    let result: unknown;
    try {
      if (r.method === 'subscribe' || r.method === 'unsubscribe') {
        if (!ws) throw new RpcError(RPC_METHOD_NOT_FOUND, `${r.method} is only available over WebSocket`);
        result = this.subscription(ws, r.method, r.params as RpcParams);
      } else {
        const fn = this.methods.get(r.method);
        if (!fn) throw new RpcError(RPC_METHOD_NOT_FOUND, `method not found: ${r.method}`);
        result = await fn(r.params as RpcParams);
      }
    } catch (e) {
      if (isNotification) return undefined;
      if (e instanceof RpcError) return rpcJson({ jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data !== undefined ? { data: e.data } : {}) } });
      this.log.warn({ method: r.method, err: (e as Error).message }, 'rpc handler error');
      return rpcJson({ jsonrpc: '2.0', id, error: { code: RPC_INTERNAL, message: `internal error: ${(e as Error).message}` } });
    }
    if (isNotification) return undefined;
    return rpcJson({ jsonrpc: '2.0', id, result: result ?? null });
  }

  private subscription(ws: WebSocket, method: string, params: RpcParams): unknown {
    const arg = Array.isArray(params) ? params[0] : params?.topic;
    if (typeof arg !== 'string') throw new RpcError(RPC_INVALID_PARAMS, `${method} needs one string parameter`);
    const m = this.subs.get(ws)!;
    if (method === 'unsubscribe') return m.delete(arg);
    if (!SUB_TOPICS.includes(arg)) throw new RpcError(RPC_INVALID_PARAMS, `unknown topic ${arg}; topics: ${SUB_TOPICS.join(', ')}`);
    const id = `s${this.nextSub++}`;
    m.set(id, arg);
    return id;
  }
}

/** newBlocks: every committed block (any chain); finalBlocks: blocks made final; channelEvents: channel open/claim/close/finalize. */
export const SUB_TOPICS = ['newBlocks', 'finalBlocks', 'channelEvents'];

/** Helpers for method implementations: positional or named params. */
export function param(params: RpcParams, index: number, name: string): unknown {
  if (Array.isArray(params)) return params[index];
  return params?.[name];
}

export function stringParam(params: RpcParams, index: number, name: string, re?: RegExp): string {
  const v = param(params, index, name);
  if (typeof v !== 'string' || (re && !re.test(v))) throw new RpcError(RPC_INVALID_PARAMS, `parameter ${name} must be a string${re ? ` matching ${re}` : ''}`);
  return v;
}

export function intParam(params: RpcParams, index: number, name: string, optional = false): number | undefined {
  const v = param(params, index, name);
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RpcError(RPC_INVALID_PARAMS, `parameter ${name} must be a non-negative integer`);
  return v;
}
