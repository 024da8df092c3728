/**
 * The relay's local control socket (opt-in: `toprelay start --control PATH`): a unix stream
 * socket, mode 0600, speaking JSON lines.
 *   {"cmd":"earnings"} → {"ok":true,"result":{...paymentSummary}}
 *   {"cmd":"claim"}    → runs one claim round that claims every channel owing anything
 *                        (not only those over the threshold), then {"ok":true,"result":{before, after}}
 * Unpaid relays answer {"ok":false,"error":"…"}. A stale socket file is replaced; a live one
 * is a RelayControlError.
 */
import { existsSync, unlinkSync, chmodSync, mkdirSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { probe } from '../client/control.js';

const MAX_LINE = 64 * 1024;

export type RelayControlCommand = 'earnings' | 'claim';
export type RelayControlResponse = { ok: true; result: unknown } | { ok: false; error: string };

export interface RelayControlHandlers {
  earnings(): unknown;
  claim(): Promise<unknown>;
}

export class RelayControlError extends Error {
  override readonly name = 'RelayControlError';
}

export class RelayControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly onExit = (): void => {
    try {
      if (this.server) unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  };

  constructor(
    readonly path: string,
    private readonly handlers: RelayControlHandlers,
    private readonly log: Logger,
  ) {}

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    if (existsSync(this.path)) {
      if (await probe(this.path)) throw new RelayControlError(`another relay answers on ${this.path}`);
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
    server.unref();
    this.server = server;
    process.on('exit', this.onExit);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    process.off('exit', this.onExit);
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    this.server = undefined;
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
        sock.end(`${JSON.stringify({ ok: false, error: 'request line too long' })}\n`);
        return;
      }
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.length === 0) continue;
        // Every request gets an answer, and a failing handler never becomes an unhandled
        // rejection (the client's control socket had exactly that fuzz finding).
        chain = chain
          .then(() => this.handle(line))
          .catch((err: unknown): RelayControlResponse => ({ ok: false, error: `internal error: ${(err as Error).message}` }))
          .then((r) => {
            if (!sock.destroyed) sock.write(`${JSON.stringify(r)}\n`);
          });
      }
    });
  }

  private async handle(line: string): Promise<RelayControlResponse> {
    let req: unknown;
    try {
      req = JSON.parse(line);
    } catch {
      return { ok: false, error: 'request is not JSON' };
    }
    const cmd = typeof req === 'object' && req !== null ? (req as Record<string, unknown>).cmd : undefined;
    try {
      if (cmd === 'earnings') return { ok: true, result: this.handlers.earnings() };
      if (cmd === 'claim') return { ok: true, result: await this.handlers.claim() };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const shown = typeof cmd === 'string' ? JSON.stringify(cmd.slice(0, 64)) : typeof cmd;
    return { ok: false, error: `unknown command ${shown} (expected "earnings" or "claim")` };
  }
}

/** Sends one request to the relay's control socket; a missing/dead socket is a RelayControlError. */
export function relayControlRequest(path: string, cmd: RelayControlCommand, timeoutMs = 120_000): Promise<RelayControlResponse> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new RelayControlError(`no answer from ${path} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify({ cmd })}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.destroy();
      try {
        resolve(JSON.parse(buf.slice(0, nl)) as RelayControlResponse);
      } catch {
        reject(new RelayControlError(`bad answer from ${path}`));
      }
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new RelayControlError(`no relay control socket at ${path} (${err.code ?? err.message}); start the relay with --control ${path}`));
    });
  });
}
