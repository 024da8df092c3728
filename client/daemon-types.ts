/**
 * The client daemon's exported types (re-exported by client/daemon.ts): its options, the
 * events it emits, `status` output, and the error connect() rejects with when disconnected.
 */
import type { Logger } from 'pino';
import type { Clock } from '../common/clock.js';
import type { Tun } from '../tun/tun.js';
import type { Endpoint } from '../relay/addr.js';
import type { CommandRunner } from '../relay/system.js';
import type { RelaySource } from './circuit-repath.js';
import type { RelaySpec } from './relay-list.js';
import type { ClientPayments } from './payments/client-payments.js';
import type { HopQuote } from './payments/channels.js';

export class ConnectAbortedError extends Error {
  override readonly name = 'ConnectAbortedError';
}

export interface ClientDaemonOptions {
  path: RelaySpec[];
  tunName: string;
  controlPath: string;
  stateDir: string;
  /** 'auto': the exit's announced resolver (if any); 'off': leave DNS alone; else these servers. */
  dns: 'auto' | 'off' | string[];
  resolvConf: string;
  /** The resolv.conf path was named explicitly (--resolv-conf): skip the host-resolver guard. */
  resolvConfExplicit: boolean;
  /** Drop all traffic outside the tunnel while connected, and after a crash (fail closed). */
  killSwitch?: boolean;
  /** Rebuild the circuit when it goes down instead of exiting (routes and DNS stay; traffic is dropped meanwhile). */
  reconnect?: boolean;
  /** Reach the entry over this WebSocket (client/ws-transport.ts) instead of UDP; the inner MTU drops to WS_INNER_MTU. */
  ws?: { url: string; ca?: Buffer };
  /** With `reconnect`: relays that may replace a hop that stopped answering (client/circuit-repath.ts). */
  spares?: RelaySpec[];
  /**
   * With `reconnect`: where replacements for a dead entry, middle or exit come from (paid: only
   * candidates with a chain address and price are used); default: the path and `spares` as a
   * ListRelaySource; discovery passes a DiscoveryRelaySource. A dead relay is avoided for
   * `deadRelayCooldownMs` (default DEAD_RELAY_COOLDOWN_MS).
   */
  relaySource?: RelaySource;
  deadRelayCooldownMs?: number;
  /** With `killSwitch`: LAN networks (CIDRs) still reachable outside the tunnel, ARP included. */
  lan?: string[];
  /** Serve Prometheus metrics (client/metrics.ts) at http://HOST:PORT/metrics. */
  metrics?: Endpoint;
  /**
   * Paid circuits: channels are opened (or reused) per hop before the build, a PaymentSession
   * binds them after it, IP flows through the session, and disconnect signs the last receipts
   * and closes the channels (`quotes`: each path relay's chain address and price, entry first).
   */
  payments?: { pay: ClientPayments; quotes: HopQuote[] };
  log: Logger;
  clock?: Clock;
  openTun(opts: { name: string; mtu: number }): Tun;
  run?: CommandRunner;
  onEvent?(e: ClientEvent): void;
}

export type ClientEvent =
  | ({ event: 'progress' } & Record<string, unknown>)
  | UpEvent
  | { event: 'reconnecting'; reason: string; attempt: number; deadHop?: number; path?: string[]; replaced?: { hop: number; role: string; from: string; to: string } }
  | { event: 'reconnected'; address: string; buildMs: number; reconnects: number; resumed: boolean; entry: string }
  | { event: 'down'; reason: string; killSwitchKept: boolean }
  | { event: 'channels'; hops: Array<{ channelId: string; relay: string; deposit: string }> }
  | { event: 'settled'; closeTxs: string[]; channels: SettledChannel[]; replaced?: Array<{ channelId: string; relay: string; promised: string }>; error?: string };

/** A paid hop at disconnect: what we promised in the last receipt and what we measured. */
export interface SettledChannel {
  channelId: string;
  relay: string;
  deposit: string;
  promised: string;
  measuredBytes: string;
  signed: number;
}

export interface UpEvent {
  event: 'up';
  address: string;
  prefixLen: number;
  hops: number;
  buildMs: number;
  mtu: number;
  tun: string;
  dns: string[];
  killSwitch: boolean;
  /** 'def1': 0/1 + 128/1 via the TUN; 'exclude-entry': the 32-prefix complement of the entry. */
  routes: 'def1' | 'exclude-entry';
  entry: string;
  control: string;
  /** Prometheus scrape URL, with --metrics. */
  metrics?: string;
}

export interface ClientStatus {
  state: 'building' | 'up' | 'reconnecting' | 'closing' | 'down';
  reconnects: number;
  path: Array<{ endpoint: string; publicKey: string }>;
  hops: number;
  tun: string;
  mtu: number;
  address?: string;
  dns: string[];
  buildMs?: number;
  uptimeMs: number;
  /** From the tunnel into the TUN (downloaded) and from the TUN into the tunnel (uploaded). */
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Bytes per second over the last few seconds. */
  rateInBps: number;
  rateOutBps: number;
  drops: { tunWrite: number; udpSend: number };
  udp: { datagramsIn: number; datagramsOut: number; bytesIn: number; bytesOut: number };
  circuit?: unknown;
  /** Paid circuits: the PaymentSession's stats (amounts and byte counts as decimal strings). */
  payments?: unknown;
}

/** A re-path's replaced hop, as reported in the 'reconnecting' event. */
export type Replaced = Extract<ClientEvent, { event: 'reconnecting' }>['replaced'];
