/**
 * A local control socket: a unix stream socket, mode 0600, speaking JSON lines. Shared by the
 * client daemon (client/control.ts) and the relay (relay/control.ts).
 *
 * Request:  {"cmd":"<name>", ...}   (one object per line; answered in order)
 * Response: {"ok":true,"result":...} | {"ok":false,"error":"message"}
 *
 * Contract: every request line gets exactly one answer line, also when a handler throws or
 * rejects (never an unhandled rejection); a line over MAX_LINE bytes ends the connection with
 * an error answer. A leftover socket file nobody listens on is replaced; a live one is an error
 * (another daemon owns it).
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

/** Longest request line accepted (bytes of UTF-16 text, before the newline). */
export const MAX_LINE = 64 * 1024;

export type JsonLinesResponse = { ok: true; result: unknown } | { ok: false; error: string };

/** One handler per command name; it gets the parsed request object. */
export type JsonLinesHandlers = Readonly<Record<string, (req: Readonly<Record<string, unknown>>) => unknown>>;

export interface JsonLinesServerOptions {
  path: string;
  handlers: JsonLinesHandlers;
  log: Logger;
  /** Mode of the socket's directory when it has to be created. */
  dirMode: number;
  /** Error thrown by listen() when a live daemon already answers on `path`. */
  busyError: (path: string) => Error;
  /** Do not keep the event loop alive for the socket (the relay's socket is opt-in). */
  unref?: boolean;
}

/** True if something accepts connections on the unix socket `path`. */
export function probe(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

export class JsonLinesServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly expected: string;
  private readonly onExit = (): void => this.unlink();

  constructor(private readonly opts: JsonLinesServerOptions) {
    this.expected = Object.keys(opts.handlers)
      .map((c) => JSON.stringify(c))
      .join(' or ');
  }

  get path(): string {
    return this.opts.path;
  }

  async listen(): Promise<void> {
    const { path } = this.opts;
    mkdirSync(dirname(path), { recursive: true, mode: this.opts.dirMode });
    if (existsSync(path)) {
      if (await probe(path)) throw this.opts.busyError(path);
      unlinkSync(path);
    }
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    server.on('error', (err) => this.opts.log.error({ err: err.message }, 'control socket error'));
    if (this.opts.unref) server.unref();
    this.server = server;
    process.on('exit', this.onExit);
  }

  /** Ends open connections, stops listening and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    process.off('exit', this.onExit);
    for (const sock of this.sockets) sock.end();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    for (const sock of this.sockets) sock.destroy();
    this.unlink();
  }

  private unlink(): void {
    try {
      unlinkSync(this.opts.path);
    } catch {
      /* already gone (net.Server removes its own socket file on close) */
    }
  }

  private serve(sock: Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setEncoding('utf8');
    let buf = '';
    let chain = Promise.resolve();
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE && !buf.includes('\n')) {
        buf = '';
        chain = chain.then(() => {
          reply(sock, { ok: false, error: 'request line too long' });
          sock.end();
        });
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length === 0) continue;
        chain = chain
          .then(() => this.handle(line))
          .catch((err: unknown): JsonLinesResponse => ({ ok: false, error: `internal error: ${(err as Error).message}` }))
          .then((r) => reply(sock, r));
      }
    });
  }

  private async handle(line: string): Promise<JsonLinesResponse> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    const obj = typeof req === 'object' && req !== null && !Array.isArray(req) ? (req as Record<string, unknown>) : {};
    const cmd = obj.cmd;
    const handler = typeof cmd === 'string' && Object.hasOwn(this.opts.handlers, cmd) ? this.opts.handlers[cmd] : undefined;
    if (!handler) {
      const shown = typeof cmd === 'string' ? JSON.stringify(cmd.slice(0, 64)) : typeof cmd;
      return { ok: false, error: `unknown command ${shown} (expected ${this.expected})` };
    }
    try {
      return { ok: true, result: await handler(obj) };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }
}

function reply(sock: Socket, r: JsonLinesResponse): void {
  if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
}

export interface JsonLinesRequestOptions {
  timeoutMs: number;
  /** Builds the error thrown for every failure (no daemon, timeout, bad answer). */
  makeError: (message: string) => Error;
  /** Message for a socket that cannot be reached (ENOENT/ECONNREFUSED or other errno). */
  unreachable: (err: NodeJS.ErrnoException) => string;
}

/** Sends one request and resolves with the daemon's answer; rejects with opts.makeError(...). */
export function jsonLinesRequest(path: string, req: Readonly<Record<string, unknown>>, opts: JsonLinesRequestOptions): Promise<JsonLinesResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let done = false;
    const finish = (err: string | undefined, r?: JsonLinesResponse): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err !== undefined) reject(opts.makeError(err));
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(`no answer from ${path} within ${opts.timeoutMs} ms`), opts.timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(buf.slice(0, nl));
      } catch {
        finish(`malformed answer from ${path}`);
        return;
      }
      if (!isResponse(parsed)) finish(`malformed answer from ${path}`);
      else finish(undefined, parsed);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => finish(opts.unreachable(err)));
    sock.on('close', () => finish(`${path} closed the connection without answering`));
  });
}

function isResponse(v: unknown): v is JsonLinesResponse {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.ok === true || (o.ok === false && typeof o.error === 'string');
}
