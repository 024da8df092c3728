/**
 * The Prometheus scrape endpoint every daemon runs, and the small helpers its metric files
 * share (cumulative-to-counter sync, bigint amounts to sample values).
 *
 * Server contract: `GET|HEAD /metrics` answers the registry in the text exposition format
 * (content type from the registry); any other path is 404, any other method 405. Binds
 * 127.0.0.1 unless told otherwise (metrics reveal traffic volumes: exposing them is an
 * operator decision). A port already in use rejects with MetricsPortInUseError, never a
 * half-started server. `close()` is idempotent and ends keep-alive connections.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Counter, Registry } from 'prom-client';
import { repoRoot } from './paths.js';

export class MetricsServerError extends Error {
  override readonly name: string = 'MetricsServerError';
}

export class MetricsPortInUseError extends MetricsServerError {
  override readonly name = 'MetricsPortInUseError';
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`metrics: ${formatHostPort(host, port)} is already in use (choose another --metrics-port, or 0 for any free port)`);
  }
}

export interface MetricsServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (the chosen one is in `url`). */
  port: number;
  registry: Registry;
}

export interface MetricsServer {
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const host = opts.host ?? '127.0.0.1';
  const { registry } = opts;
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new MetricsServerError(`metrics: port must be 0..65535, got ${opts.port}`);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: scrape /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  });
  // Scrapes are tiny; do not let a slow client hold a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE') reject(new MetricsPortInUseError(host, opts.port));
      else if (err.code === 'EADDRNOTAVAIL') reject(new MetricsServerError(`metrics: cannot bind ${formatHostPort(host, opts.port)}: no such local address`));
      else if (err.code === 'EACCES') reject(new MetricsServerError(`metrics: cannot bind ${formatHostPort(host, opts.port)}: permission denied`));
      else reject(new MetricsServerError(`metrics: cannot bind ${formatHostPort(host, opts.port)}: ${err.message}`));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port: opts.port, exclusive: true });
  });

  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${formatHostPort(host, port)}/metrics`,
    host,
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Amounts (token base units, bytes) are bigint in the code; prom-client samples are float64.
 * Contract: values up to 2^53 (9.007e15 base units = 9.0e9 TOP at 10^6 base units per TOP)
 * are exported exactly; above that the nearest double is exported (relative error ≤ 2^-53,
 * far below what a dashboard shows). Dashboards divide by 1e6 to show TOP.
 */
export function toSample(v: bigint | number): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

/**
 * Feeds a prom-client Counter from a cumulative figure the code already keeps (engine
 * stats, ledger totals): each `advance` adds what grew since the last call for those labels.
 * A figure that went down (its source was recreated, e.g. a new engine in the same process)
 * is taken as the new base without adding anything, so a counter never decreases and never
 * counts a value twice.
 */
export class CounterSync {
  private readonly last = new Map<Counter<string>, Map<string, number>>();

  advance<T extends string>(counter: Counter<T>, cumulative: bigint | number, labels?: Partial<Record<T, string>>): void {
    const v = toSample(cumulative);
    if (!Number.isFinite(v)) return;
    let seen = this.last.get(counter as Counter<string>);
    if (!seen) {
      seen = new Map();
      this.last.set(counter as Counter<string>, seen);
    }
    const key = labels ? JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))) : '';
    const prev = seen.get(key);
    seen.set(key, v);
    const delta = prev === undefined ? v : v - prev;
    if (delta <= 0) return;
    if (labels) counter.inc(labels, delta);
    else counter.inc(delta);
  }
}

/** The package version (package.json), for the `*_build_info` metrics; '0.0.0-unknown' if unreadable. */
export function buildVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : '0.0.0-unknown';
  } catch {
    return '0.0.0-unknown';
  }
}
