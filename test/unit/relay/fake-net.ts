/**
 * In-memory UDP network for engine tests: a Map of "host:port" -> receiver; delivery via
 * queueMicrotask. A `tap` may observe, drop or rewrite packets in flight.
 */
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { parseExitPolicy } from '../../../relay/exit-policy.js';
import { RelayEngine, type Endpoint } from '../../../relay/engine.js';
import { Circuit, type CircuitOptions, type HopInfo } from '../../../client/circuit.js';
import { generateX25519 } from '../../../protocol/x25519.js';

export type Receiver = (packet: Buffer, from: Endpoint) => void;
export interface InFlight {
  from: Endpoint;
  to: Endpoint;
  packet: Buffer;
}
/** Return false to drop; may replace `packet`. */
export type Tap = (p: InFlight) => boolean;

const key = (e: Endpoint): string => `${e.host}:${e.port}`;

export class FakeNet {
  readonly nodes = new Map<string, Receiver>();
  readonly log: InFlight[] = [];
  taps: Tap[] = [];
  delivered = 0;
  lost = 0;
  attach(ep: Endpoint, r: Receiver): void {
    this.nodes.set(key(ep), r);
  }
  sender(from: Endpoint): (to: Endpoint, packet: Buffer) => void {
    return (to, packet) => {
      const f: InFlight = { from, to: { host: to.host, port: to.port }, packet: Buffer.from(packet) };
      this.log.push(f);
      for (const t of this.taps) if (!t(f)) return;
      const r = this.nodes.get(key(to));
      if (!r) {
        this.lost++;
        return;
      }
      queueMicrotask(() => {
        this.delivered++;
        r(f.packet, from);
      });
    };
  }
  /** Inject a packet as if sent by `from`. */
  inject(from: Endpoint, to: Endpoint, packet: Buffer): void {
    this.sender(from)(to, packet);
  }
}

/** Lets every queued microtask (and the ones they queue) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Advances the manual clock in steps, flushing the network between steps. */
export async function advance(clock: ManualClock, ms: number, step = 1000): Promise<void> {
  let left = ms;
  while (left > 0) {
    const d = Math.min(step, left);
    clock.advance(d);
    left -= d;
    await flush();
  }
}

export interface Testbed {
  clock: ManualClock;
  net: FakeNet;
  relays: RelayEngine[];
  endpoints: Endpoint[];
  statics: Uint8Array[];
  exitWrites: Buffer[][];
  clientEp: Endpoint;
  path(n: number): HopInfo[];
  newCircuit(n: number, opts?: CircuitOptions, ep?: Endpoint): Circuit;
}

export const POOL = '198.19.0.0/16';
export const DNS = '198.18.0.53';

/** Three relays (each also an exit) at 198.18.0.1..3:5000 and a client at 198.18.1.1:40000. */
export function testbed(opts: { relayOptions?: ConstructorParameters<typeof RelayEngine>[0]['options']; policy?: string[]; pool?: string } = {}): Testbed {
  const clock = new ManualClock();
  const net = new FakeNet();
  const relays: RelayEngine[] = [];
  const endpoints: Endpoint[] = [];
  const statics: Uint8Array[] = [];
  const exitWrites: Buffer[][] = [];
  const policy = parseExitPolicy(opts.policy ?? ['reject 198.18.0.0/24:*', 'accept 198.18.0.0/15:*', 'reject *:*']);
  for (let i = 0; i < 3; i++) {
    const ep = { host: `198.18.0.${i + 1}`, port: 5000 };
    const kp = generateX25519();
    const writes: Buffer[] = [];
    const r = new RelayEngine({
      clock,
      log: silentLogger(),
      identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
      send: net.sender(ep),
      exit: { write: (ps) => writes.push(...ps), policy, pool: opts.pool ?? POOL, dns: DNS },
      ...(opts.relayOptions ? { options: opts.relayOptions } : {}),
    });
    net.attach(ep, (p, from) => r.onDatagram(p, from));
    relays.push(r);
    endpoints.push(ep);
    statics.push(kp.publicKey);
    exitWrites.push(writes);
  }
  const clientEp = { host: '198.18.1.1', port: 40000 };
  let nextPort = 40001;
  return {
    clock,
    net,
    relays,
    endpoints,
    statics,
    exitWrites,
    clientEp,
    path: (n) => endpoints.slice(0, n).map((endpoint, i) => ({ endpoint, staticPublic: statics[i]! })),
    newCircuit(n, o, ep) {
      const me = ep ?? (nextPort === 40001 ? clientEp : { host: '198.18.1.1', port: nextPort });
      nextPort++;
      const c = new Circuit({ clock, log: silentLogger(), send: net.sender(me), ...(o ? { options: o } : {}) }, this.path(n));
      net.attach(me, (p, from) => c.onDatagram(p, from));
      return c;
    },
  };
}

/** A minimal IPv4/UDP packet from src to dst:port with `payload`. */
export function udpPacket(src: string, dst: string, dport: number, payload: Buffer | string = 'hello'): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const p = Buffer.alloc(28 + body.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  const s = src.split('.').map(Number);
  const d = dst.split('.').map(Number);
  for (let i = 0; i < 4; i++) {
    p[12 + i] = s[i]!;
    p[16 + i] = d[i]!;
  }
  p.writeUInt16BE(12345, 20);
  p.writeUInt16BE(dport, 22);
  p.writeUInt16BE(8 + body.length, 24);
  body.copy(p, 28);
  return p;
}

/** Swaps source and destination (an "internet" reply). */
export function reply(p: Buffer, payload = 'pong'): Buffer {
  const src = `${p[16]}.${p[17]}.${p[18]}.${p[19]}`;
  const dst = `${p[12]}.${p[13]}.${p[14]}.${p[15]}`;
  return udpPacket(src, dst, 12345, payload);
}
