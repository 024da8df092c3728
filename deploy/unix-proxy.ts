#!/usr/bin/env node
/**
 * Byte-for-byte forwarder from Unix sockets to TCP addresses, run inside a network namespace
 * so a process outside it (the testnet orchestrator) can reach services there: Unix socket
 * paths are file-system objects, not bound to a network namespace.
 *   node dist/deploy/unix-proxy.js --map /tmp/x/node-0.sock=198.18.0.200:30001 [--map …]
 * Prints {"event":"listening","sockets":N} on stdout when every socket listens; stops on SIGTERM.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';

export class ProxyArgError extends Error {
  override readonly name = 'ProxyArgError';
}

export interface ProxyMap {
  socket: string;
  host: string;
  port: number;
}

/** Parses "PATH=HOST:PORT". */
export function parseMap(v: string): ProxyMap {
  const m = /^(.+)=([0-9.]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new ProxyArgError(`--map: expected PATH=HOST:PORT, got "${v}"`);
  return { socket: m[1]!, host: m[2]!, port: Number(m[3]) };
}

function listen(map: ProxyMap): Promise<Server> {
  rmSync(map.socket, { force: true });
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: map.host, port: map.port });
    inbound.pipe(outbound).pipe(inbound);
    const close = (): void => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close);
    outbound.on('error', close);
    inbound.on('close', close);
    outbound.on('close', close);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(map.socket, () => resolve(server));
  });
}

async function main(argv: string[]): Promise<void> {
  const maps: ProxyMap[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--map' && argv[i + 1] !== undefined) maps.push(parseMap(argv[++i]!));
    else throw new ProxyArgError(`unknown argument "${argv[i]}"`);
  }
  if (maps.length === 0) throw new ProxyArgError('at least one --map PATH=HOST:PORT is needed');
  const servers = await Promise.all(maps.map(listen));
  const stop = (): void => {
    for (const s of servers) s.close();
    for (const m of maps) rmSync(m.socket, { force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ event: 'listening', sockets: servers.length })}\n`);
}

if (process.argv[1]?.endsWith('unix-proxy.js')) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`unix-proxy: ${(err as Error).message}\n`);
    process.exit(2);
  });
}
