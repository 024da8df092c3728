/**
 * The testnet's "internet" web server (runs inside the inet namespace).
 * Usage: node dist/deploy/inet-server.js [--port 80] [--host 0.0.0.0]
 *   GET  /ip         → {"remote":"<peer source address>","port":n}
 *   GET  /bytes/N    → N bytes (application/octet-stream, a fixed repeating pattern)
 *   any  /echo?...   → {"remote":..,"url":..,"body":<request body as text>}
 * Prints {"event":"listening","port":n} on stdout when ready; SIGTERM stops it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

const MAX_BYTES = 4 * 1024 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'topvpn-inet-pattern-');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

function remote(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

function sendBytes(res: ServerResponse, n: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
  let left = n;
  const pump = (): void => {
    while (left > 0) {
      const part = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= part.length;
      if (!res.write(part)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://inet');
  if (url.pathname === '/ip') return json(res, 200, { remote: remote(req), port: req.socket.remotePort });
  const m = /^\/bytes\/(\d+)$/.exec(url.pathname);
  if (m) {
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n) || n > MAX_BYTES) return json(res, 400, { error: 'too large' });
    return sendBytes(res, n);
  }
  if (url.pathname === '/echo') {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => json(res, 200, { remote: remote(req), url: req.url, body: Buffer.concat(parts).toString('utf8') }));
    return;
  }
  json(res, 404, { error: 'not found' });
});

const port = Number(arg('port', '80'));
server.listen(port, arg('host', '0.0.0.0'), () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});
const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
