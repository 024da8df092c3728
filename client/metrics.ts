/**
 * Every Prometheus metric the `topvpn` client daemon exports, in one place (grafana/
 * dashboards are linted against the names defined here).
 *
 * Conventions: counters end in `_total`, durations are `_seconds`, sizes `_bytes`; every label
 * takes values from a fixed list below. Token amounts (`*_value*`) are chain base units
 * (10^6 per TOP) exported as float64: exact up to 2^53 base units, the nearest double above.
 *
 * Circuit counters come from Circuit.stats() snapshots (`observeCircuit`). A reconnect makes a
 * new Circuit whose counters start at 0: call `observeCircuit(old.stats())` one last time,
 * then `circuitReplaced()`, so the new circuit's traffic is added on top (never lost, never
 * counted twice).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildVersion, CounterSync, toSample } from '../common/metrics-server.js';
import type { CircuitState, CircuitStats } from './circuit.js';
import { CLIENT_DROP_REASONS, type BuildFailure } from './circuit-errors.js';

/** sent: into the circuit (toward the exit); received: out of it. */
export const CLIENT_DIRECTIONS = ['sent', 'received'] as const;
export const CIRCUIT_STATES: readonly CircuitState[] = ['new', 'building', 'up', 'down', 'closed'];
export const BUILD_FAILURES: readonly BuildFailure[] = ['timeout', 'auth', 'refused', 'closed'];
export const CLIENT_ERROR_KINDS = ['udp', 'tun', 'routes', 'dns', 'chain_rpc', 'payment', 'discovery', 'internal'] as const;
export type ClientErrorKind = (typeof CLIENT_ERROR_KINDS)[number];

/** Seconds to build a 3-hop circuit (three telescoped handshakes). */
export const BUILD_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds of round trip through the circuit (keepalive to the exit and back). */
export const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const CLIENT_METRIC_NAMES = [
  'topvpn_client_up',
  'topvpn_client_build_info',
  'topvpn_client_circuit_state',
  'topvpn_client_circuit_hops',
  'topvpn_client_tunnel_bytes_total',
  'topvpn_client_tunnel_packets_total',
  'topvpn_client_circuit_build_seconds',
  'topvpn_client_circuits_built_total',
  'topvpn_client_circuits_failed_total',
  'topvpn_client_reconnects_total',
  'topvpn_client_keepalives_total',
  'topvpn_client_rekeys_total',
  'topvpn_client_drops_total',
  'topvpn_client_receipts_signed_total',
  'topvpn_client_spent_value_total',
  'topvpn_client_rtt_seconds',
  'topvpn_client_errors_total',
] as const;
export const METRIC_NAMES = CLIENT_METRIC_NAMES;

export interface ClientMetricsOptions {
  /** Defaults to the package version. */
  version?: string;
}

export interface ClientMetrics {
  readonly registry: Registry;
  readonly up: Gauge<never>;
  readonly buildInfo: Gauge<'version' | 'nodejs'>;
  readonly circuitState: Gauge<'state'>;
  readonly circuitHops: Gauge<never>;
  readonly tunnelBytes: Counter<'direction'>;
  readonly tunnelPackets: Counter<'direction'>;
  readonly circuitBuildSeconds: Histogram<never>;
  readonly circuitsBuilt: Counter<never>;
  readonly circuitsFailed: Counter<'reason'>;
  readonly reconnects: Counter<never>;
  readonly keepalives: Counter<never>;
  readonly rekeys: Counter<never>;
  readonly drops: Counter<'reason'>;
  readonly receiptsSigned: Counter<never>;
  readonly spentValue: Counter<never>;
  readonly rttSeconds: Histogram<never>;
  readonly errors: Counter<'kind'>;
  /** Sync from a Circuit.stats() snapshot of the current circuit. */
  observeCircuit(stats: CircuitStats): void;
  /** The current circuit was replaced by a new one (its counters restart at 0). */
  circuitReplaced(): void;
  /** A circuit came up after `seconds` of building. */
  circuitBuilt(seconds: number): void;
  circuitFailed(reason: BuildFailure): void;
  /** One receipt signed that raised the promised cumulative amount by `amountIncrease` base units. */
  receiptSigned(amountIncrease: bigint | number): void;
  error(kind: ClientErrorKind): void;
}

export function createClientMetrics(registry: Registry = new Registry(), opts: ClientMetricsOptions = {}): ClientMetrics {
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> => new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> => new Gauge<L>({ name, help, labelNames, registers });

  const m = {
    registry,
    up: gauge('topvpn_client_up', '1 while the client daemon is running.'),
    buildInfo: gauge('topvpn_client_build_info', 'Always 1; labels carry the client version and Node.js version.', ['version', 'nodejs']),
    circuitState: gauge('topvpn_client_circuit_state', '1 for the state the current circuit is in, 0 for the others.', ['state']),
    circuitHops: gauge('topvpn_client_circuit_hops', 'Hops built in the current circuit.'),
    tunnelBytes: counter('topvpn_client_tunnel_bytes_total', 'Bytes of circuit packets, by direction (sent toward the exit, received from it).', ['direction']),
    tunnelPackets: counter('topvpn_client_tunnel_packets_total', 'Circuit packets, by direction.', ['direction']),
    circuitBuildSeconds: new Histogram<never>({ name: 'topvpn_client_circuit_build_seconds', help: 'Seconds from starting a circuit build to the exit being open.', buckets: BUILD_BUCKETS, registers }),
    circuitsBuilt: counter('topvpn_client_circuits_built_total', 'Circuits built successfully.'),
    circuitsFailed: counter('topvpn_client_circuits_failed_total', 'Circuit builds that failed, by reason.', ['reason']),
    reconnects: counter('topvpn_client_reconnects_total', 'Times a live circuit was replaced by a new one.'),
    keepalives: counter('topvpn_client_keepalives_total', 'Keepalive messages sent.'),
    rekeys: counter('topvpn_client_rekeys_total', 'Per-hop rekeys completed.'),
    drops: counter('topvpn_client_drops_total', 'Packets dropped, by reason (client/circuit-errors.ts CLIENT_DROP_REASONS).', ['reason']),
    receiptsSigned: counter('topvpn_client_receipts_signed_total', 'Payment receipts signed.'),
    spentValue: counter('topvpn_client_spent_value_total', 'Value promised in signed receipts, in base units (10^6 per TOP).'),
    rttSeconds: new Histogram<never>({ name: 'topvpn_client_rtt_seconds', help: 'Round trip through the circuit, in seconds.', buckets: RTT_BUCKETS, registers }),
    errors: counter('topvpn_client_errors_total', 'Errors, by kind.', ['kind']),
  };

  m.up.set(1);
  m.buildInfo.set({ version: opts.version ?? buildVersion(), nodejs: process.versions.node }, 1);
  for (const s of CIRCUIT_STATES) m.circuitState.set({ state: s }, s === 'new' ? 1 : 0);
  m.circuitHops.set(0);
  for (const d of CLIENT_DIRECTIONS) {
    m.tunnelBytes.inc({ direction: d }, 0);
    m.tunnelPackets.inc({ direction: d }, 0);
  }
  for (const r of BUILD_FAILURES) m.circuitsFailed.inc({ reason: r }, 0);
  for (const r of CLIENT_DROP_REASONS) m.drops.inc({ reason: r }, 0);
  for (const k of CLIENT_ERROR_KINDS) m.errors.inc({ kind: k }, 0);

  let sync = new CounterSync();

  return {
    ...m,
    observeCircuit(s: CircuitStats): void {
      for (const st of CIRCUIT_STATES) m.circuitState.set({ state: st }, st === s.state ? 1 : 0);
      m.circuitHops.set(s.hopsBuilt);
      for (const d of CLIENT_DIRECTIONS) {
        sync.advance(m.tunnelBytes, s.bytes[d], { direction: d });
        sync.advance(m.tunnelPackets, s.packets[d], { direction: d });
      }
      sync.advance(m.keepalives, s.keepalivesSent);
      sync.advance(m.rekeys, s.rekeys);
      for (const r of CLIENT_DROP_REASONS) sync.advance(m.drops, s.drops[r], { reason: r });
    },
    circuitReplaced(): void {
      sync = new CounterSync();
      m.reconnects.inc();
    },
    circuitBuilt(seconds: number): void {
      m.circuitsBuilt.inc();
      m.circuitBuildSeconds.observe(seconds);
    },
    circuitFailed(reason: BuildFailure): void {
      m.circuitsFailed.inc({ reason });
    },
    receiptSigned(amountIncrease: bigint | number): void {
      m.receiptsSigned.inc();
      const v = toSample(amountIncrease);
      if (v > 0) m.spentValue.inc(v);
    },
    error(kind: ClientErrorKind): void {
      m.errors.inc({ kind });
    },
  };
}
