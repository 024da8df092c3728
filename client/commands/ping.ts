/**
 * Latency to a relay: the round trip of one onion handshake (HANDSHAKE_INIT → RESP) over UDP
 * to the relay's data-plane endpoint. The RESP must complete the handshake with the relay's
 * published onion key (finish()), so a reply from anything else does not count. The relay
 * keeps a half-open circuit for it until its idle timeout. undefined = no valid answer in time.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { createInit, finish } from '../../protocol/handshake.js';
import { parseUdpEndpoint } from '../../protocol/descriptor.js';

function ipString(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}

export async function handshakeRtt(endpoint: string, onionKeyHex: string, timeoutMs = 1_000): Promise<number | undefined> {
  const { ip, port } = parseUdpEndpoint(endpoint);
  const idx = randomInt(1, 0x7fffffff);
  const { init, state } = createInit(new Uint8Array(Buffer.from(onionKeyHex, 'hex')), idx);
  const sock = createSocket('udp4');
  return new Promise((resolve) => {
    let t0 = 0n;
    const end = (v: number | undefined): void => {
      clearTimeout(timer);
      sock.close();
      resolve(v);
    };
    const timer = setTimeout(() => end(undefined), timeoutMs);
    sock.on('error', () => end(undefined));
    sock.on('message', (msg) => {
      const rtt = Number(process.hrtime.bigint() - t0) / 1e6;
      try {
        finish(state, msg, idx);
        end(rtt);
      } catch {
        // not a valid answer for this handshake: keep waiting
      }
    });
    t0 = process.hrtime.bigint();
    sock.send(init, port, ipString(ip), (err) => {
      if (err) end(undefined);
    });
  });
}
