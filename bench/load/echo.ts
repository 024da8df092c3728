#!/usr/bin/env node
/**
 * UDP echo responder for the relay load benchmark (runs on the inet host).
 * Usage: node dist/bench/load/echo.js [--port 7777] [--host 0.0.0.0]
 * Sends every datagram back to its source unchanged. Prints {"event":"listening","port":n};
 * on SIGTERM prints {"event":"stopped","datagrams":n} and exits.
 */
import { createSocket } from 'node:dgram';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const port = Number(arg('port', '7777'));
const sock = createSocket({ type: 'udp4', recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
let n = 0;
sock.on('message', (msg, r) => {
  n++;
  sock.send(msg, r.port, r.address);
});
sock.bind(port, arg('host', '0.0.0.0'), () => process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`));
const stop = (): void => {
  process.stdout.write(`${JSON.stringify({ event: 'stopped', datagrams: n })}\n`);
  sock.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
