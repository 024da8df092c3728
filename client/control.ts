/**
 * The client daemon's control socket: a unix stream socket speaking JSON lines.
 * Request:  {"cmd":"status"} | {"cmd":"disconnect"}   (one object per line)
 * Response: {"ok":true,"result":{...}} | {"ok":false,"error":"message"}
 * The socket file is mode 0600 (only its owner controls the tunnel). A leftover socket file
 * nobody listens on is replaced; a live one means another client runs: ControlError.
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';

export const DEFAULT_CONTROL_PATH = '/run/topvpn/client.sock';
const MAX_LINE = 64 * 1024;

export type ControlCommand = 'status' | 'disconnect';

export interface ControlRequest {
  cmd: ControlCommand;
}

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };

export interface ControlHandlers {
  status(): unknown;
  /** Resolves when routes and DNS are restored; the reply is sent after that. */
  disconnect(): Promise<unknown>;
}

export class ControlError extends Error {
  override readonly name = 'ControlError';
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

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly handlers: ControlHandlers,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o755 });
    if (existsSync(this.path)) {
      if (await probe(this.path)) throw new ControlError(`another client is already running (control socket ${this.path} answers)`);
      unlinkSync(this.path);
    }
    const server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
    server.on('error', (err) => this.log.error({ err: err.message }, 'control socket error'));
    this.server = server;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.end();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    for (const sock of this.sockets) sock.destroy();
    // net.Server removes its own socket file on close; make sure of it.
    if (existsSync(this.path)) {
      try {
        unlinkSync(this.path);
      } catch {
        /* already gone */
      }
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
        this.reply(sock, { ok: false, error: 'request line too long' });
        sock.end();
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length === 0) continue;
        // handle() answers every request; the catch keeps one unexpected failure from silencing the connection
        chain = chain.then(() => this.handle(line)).then(
          (r) => this.reply(sock, r),
          (err: unknown) => this.reply(sock, { ok: false, error: `internal error: ${(err as Error).message}` }),
        );
      }
    });
  }

  private async handle(line: string): Promise<ControlResponse> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    const cmd = typeof req === 'object' && req !== null ? (req as Record<string, unknown>).cmd : undefined;
    try {
      if (cmd === 'status') return { ok: true, result: this.handlers.status() };
      if (cmd === 'disconnect') return { ok: true, result: await this.handlers.disconnect() };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const shown = typeof cmd === 'string' ? JSON.stringify(cmd.slice(0, 64)) : typeof cmd;
    return { ok: false, error: `unknown command ${shown} (expected "status" or "disconnect")` };
  }

  private reply(sock: Socket, r: ControlResponse): void {
    if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
  }
}

/** Sends one request and returns the response. ControlError if no daemon listens or it does not answer. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 15_000): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buf = '';
    let done = false;
    const finish = (err: Error | undefined, r?: ControlResponse): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => finish(new ControlError(`no answer from ${path} within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.once('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        finish(undefined, JSON.parse(buf.slice(0, nl)) as ControlResponse);
      } catch {
        finish(new ControlError(`malformed answer from ${path}`));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no client is running' : err.message;
      finish(new ControlError(`cannot reach the client at ${path}: ${why}`));
    });
    sock.on('close', () => finish(new ControlError(`${path} closed the connection without answering`)));
  });
}
