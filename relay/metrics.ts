/**
 * Every Prometheus metric `toprelay` exports, in one place (grafana/ dashboards are linted
 * against the names defined here).
 *
 * Conventions: counters end in `_total`, durations are `_seconds`, sizes `_bytes`; every label
 * takes values from a fixed list below (no ids, addresses or keys as labels).
 *
 * Token amounts (`*_value*`) are in chain base units (10^6 per TOP), exported as float64:
 * exact up to 2^53 base units (9.0e9 TOP), the nearest double above (see toSample in
 * common/metrics-server.ts). Dashboards divide by 1e6 to show TOP.
 *
 * The engine, ledger and claim worker keep cumulative figures; the `observe*` methods turn
 * snapshots of them into counter increments (CounterSync), so the daemon only has to call
 * them on each scrape or stats tick. Events the relay core does not count (handshake timing,
 * errors, peers) are set directly on the metric objects.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildVersion, CounterSync, toSample } from '../common/metrics-server.js';
import { RECEIPT_OUTCOMES, type ReceiptOutcome } from '../protocol/payment.js';
import type { RelayStats } from './engine.js';
import { RESUME_REFUSALS, type ResumeStats } from './exit-resume.js';
import { DROP_REASONS } from './errors.js';
import type { TickReport } from './payments/claims.js';
import type { EarningsReport } from './payments/ledger.js';

export const RELAY_DIRECTIONS = ['forward', 'backward'] as const;
export type RelayDirection = (typeof RELAY_DIRECTIONS)[number];
/** to_internet: IP packets the exit wrote to its TUN; from_internet: read from it. */
export const EXIT_DIRECTIONS = ['to_internet', 'from_internet'] as const;
export const HANDSHAKE_KINDS = ['respond', 'extend'] as const;
export type HandshakeKind = (typeof HANDSHAKE_KINDS)[number];
export const HANDSHAKE_RESULTS = ['answered', 'retransmitted', 'extended', 'extend_failed', 'rekeyed'] as const;
export const CIRCUIT_CLOSE_REASONS = ['destroyed', 'idle', 'stopped'] as const;
/** submitted: accepted into a node's pool; failed: submission refused; confirmed: seen applied on chain; dropped: never appeared, given up. */
export const CLAIM_RESULTS = ['submitted', 'failed', 'confirmed', 'dropped'] as const;
export type ClaimResult = (typeof CLAIM_RESULTS)[number];
export const CHANNEL_STATUSES = ['open', 'closing', 'finalized'] as const;
export const RELAY_ERROR_KINDS = ['udp', 'tun', 'chain_rpc', 'claim', 'ledger', 'payment', 'discovery', 'internal'] as const;
export type RelayErrorKind = (typeof RELAY_ERROR_KINDS)[number];

/** Seconds; a local respond is sub-millisecond, an extend is a network round trip. */
export const HANDSHAKE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds from submitting a claim to seeing it final on chain. */
export const CLAIM_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

export const RELAY_METRIC_NAMES = [
  'topvpn_relay_up',
  'topvpn_relay_build_info',
  'topvpn_relay_info',
  'topvpn_relay_forwarded_bytes_total',
  'topvpn_relay_forwarded_packets_total',
  'topvpn_relay_exit_packets_total',
  'topvpn_relay_control_packets_total',
  'topvpn_relay_circuits_active',
  'topvpn_relay_circuits_total',
  'topvpn_relay_circuits_closed_total',
  'topvpn_relay_exit_addresses',
  'topvpn_relay_exit_resumptions_total',
  'topvpn_relay_handshakes_total',
  'topvpn_relay_handshake_seconds',
  'topvpn_relay_drops_total',
  'topvpn_relay_receipts_total',
  'topvpn_relay_claims_total',
  'topvpn_relay_claim_seconds',
  'topvpn_relay_served_bytes_total',
  'topvpn_relay_receipted_bytes_total',
  'topvpn_relay_claimed_bytes_total',
  'topvpn_relay_pending_bytes',
  'topvpn_relay_served_value_total',
  'topvpn_relay_receipted_value_total',
  'topvpn_relay_claimed_value_total',
  'topvpn_relay_burned_value_total',
  'topvpn_relay_fees_value_total',
  'topvpn_relay_lost_value_total',
  'topvpn_relay_pending_value',
  'topvpn_relay_channels',
  'topvpn_relay_peers',
  'topvpn_relay_errors_total',
] as const;
export const METRIC_NAMES = RELAY_METRIC_NAMES;

export interface RelayMetricsOptions {
  /** Defaults to the package version. */
  version?: string;
  /** Operator-declared region (descriptor field), e.g. 'de'; one value per process. */
  region?: string;
  exit?: boolean;
  /** Monotonic milliseconds (Clock.now); default performance.now. Used for claim latency. */
  now?: () => number;
}

export interface RelayMetrics {
  readonly registry: Registry;
  readonly up: Gauge<never>;
  readonly buildInfo: Gauge<'version' | 'nodejs'>;
  readonly info: Gauge<'region' | 'exit'>;
  readonly forwardedBytes: Counter<'direction'>;
  readonly forwardedPackets: Counter<'direction'>;
  readonly exitPackets: Counter<'direction'>;
  readonly controlPackets: Counter<never>;
  readonly circuitsActive: Gauge<never>;
  readonly circuitsTotal: Counter<never>;
  readonly circuitsClosed: Counter<'reason'>;
  readonly exitAddresses: Gauge<never>;
  readonly resumptions: Counter<'result'>;
  readonly handshakes: Counter<'result'>;
  readonly handshakeSeconds: Histogram<'kind'>;
  readonly drops: Counter<'reason'>;
  readonly receipts: Counter<'result'>;
  readonly claims: Counter<'result'>;
  readonly claimSeconds: Histogram<never>;
  readonly servedBytes: Counter<never>;
  readonly receiptedBytes: Counter<never>;
  readonly claimedBytes: Counter<never>;
  readonly pendingBytes: Gauge<never>;
  readonly servedValue: Counter<never>;
  readonly receiptedValue: Counter<never>;
  readonly claimedValue: Counter<never>;
  readonly burnedValue: Counter<never>;
  readonly feesValue: Counter<never>;
  readonly lostValue: Counter<never>;
  readonly pendingValue: Gauge<never>;
  readonly channels: Gauge<'status'>;
  readonly peers: Gauge<never>;
  readonly errors: Counter<'kind'>;
  /** Sync the data-plane counters from a RelayEngine.stats() snapshot. */
  observeEngine(stats: RelayStats): void;
  /** Sync the exit's resumption counters (relay/exit-resume.ts) from a snapshot. */
  observeResume(stats: ResumeStats): void;
  /** Sync earnings (bytes and base units) from a reconcile() report over all channels. */
  observeEarnings(report: EarningsReport): void;
  /** Sync receipt outcomes from the sum of ChannelAccount.outcomes over all accounts. */
  observeReceiptOutcomes(totals: Readonly<Record<ReceiptOutcome, number>>): void;
  /** Count one ClaimWorker tick's results and time claims from submission to confirmation. */
  observeClaimTick(report: TickReport): void;
  /** Count an error of a fixed kind (the kind list is the label's whole value set). */
  error(kind: RelayErrorKind): void;
}

export function createRelayMetrics(registry: Registry = new Registry(), opts: RelayMetricsOptions = {}): RelayMetrics {
  const registers = [registry];
  const now = opts.now ?? (() => performance.now());
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> => new Counter<L>({ name, help, labelNames, registers });
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> => new Gauge<L>({ name, help, labelNames, registers });

  const m = {
    registry,
    up: gauge('topvpn_relay_up', '1 while the relay daemon is running.'),
    buildInfo: gauge('topvpn_relay_build_info', 'Always 1; labels carry the relay version and Node.js version.', ['version', 'nodejs']),
    info: gauge('topvpn_relay_info', 'Always 1; labels carry the operator-declared region and whether this relay is an exit.', ['region', 'exit']),
    forwardedBytes: counter('topvpn_relay_forwarded_bytes_total', 'Bytes of circuit packets forwarded, by direction (forward: toward the exit; backward: toward the client).', ['direction']),
    forwardedPackets: counter('topvpn_relay_forwarded_packets_total', 'Circuit packets forwarded, by direction.', ['direction']),
    exitPackets: counter('topvpn_relay_exit_packets_total', 'IP packets an exit wrote to (to_internet) or read from (from_internet) its TUN.', ['direction']),
    controlPackets: counter('topvpn_relay_control_packets_total', 'Circuit control messages handled by this hop.'),
    circuitsActive: gauge('topvpn_relay_circuits_active', 'Circuits currently in the circuit table.'),
    circuitsTotal: counter('topvpn_relay_circuits_total', 'Circuits created (handshakes answered with a new circuit).'),
    circuitsClosed: counter('topvpn_relay_circuits_closed_total', 'Circuits removed, by reason.', ['reason']),
    exitAddresses: gauge('topvpn_relay_exit_addresses', 'Exit pool addresses currently assigned to circuits.'),
    resumptions: counter('topvpn_relay_exit_resumptions_total', 'Exit resumption tokens: issued, resumed (same inner address given back), or refused by reason.', ['result']),
    handshakes: counter('topvpn_relay_handshakes_total', 'Handshake events, by result.', ['result']),
    handshakeSeconds: new Histogram<'kind'>({
      name: 'topvpn_relay_handshake_seconds',
      help: 'Handshake latency: respond = INIT received to RESP sent; extend = INIT sent to the next hop until its RESP arrives.',
      labelNames: ['kind'],
      buckets: HANDSHAKE_BUCKETS,
      registers,
    }),
    drops: counter('topvpn_relay_drops_total', 'Packets dropped, by reason (relay/errors.ts DROP_REASONS).', ['reason']),
    receipts: counter('topvpn_relay_receipts_total', 'Payment receipts received, by check result (protocol/payment.ts RECEIPT_OUTCOMES).', ['result']),
    claims: counter('topvpn_relay_claims_total', 'Channel claims, by result (submitted, failed, confirmed, dropped).', ['result']),
    claimSeconds: new Histogram<never>({ name: 'topvpn_relay_claim_seconds', help: 'Seconds from submitting a claim to seeing it applied on chain.', buckets: CLAIM_BUCKETS, registers }),
    servedBytes: counter('topvpn_relay_served_bytes_total', 'Billable bytes served on paid channels (both directions).'),
    receiptedBytes: counter('topvpn_relay_receipted_bytes_total', 'Bytes covered by the best receipts held.'),
    claimedBytes: counter('topvpn_relay_claimed_bytes_total', 'Bytes covered by claims applied on chain.'),
    pendingBytes: gauge('topvpn_relay_pending_bytes', 'Receipted bytes not yet claimed on chain.'),
    servedValue: counter('topvpn_relay_served_value_total', 'Value of the bytes served at the agreed price, in base units (10^6 per TOP).'),
    receiptedValue: counter('topvpn_relay_receipted_value_total', 'Value of the best receipts held (capped by deposits), in base units.'),
    claimedValue: counter('topvpn_relay_claimed_value_total', 'Value claimed on chain (before burn and fee), in base units.'),
    burnedValue: counter('topvpn_relay_burned_value_total', 'Part of the claimed value burned by the chain, in base units.'),
    feesValue: counter('topvpn_relay_fees_value_total', 'Transaction fees paid for claims, in base units.'),
    lostValue: counter('topvpn_relay_lost_value_total', 'Receipted value never claimed before its channel finalized, in base units.'),
    pendingValue: gauge('topvpn_relay_pending_value', 'Receipted value not yet claimed on chain, in base units.'),
    channels: gauge('topvpn_relay_channels', 'Payment channels with this relay, by chain status.', ['status']),
    peers: gauge('topvpn_relay_peers', 'Peers connected on the discovery network.'),
    errors: counter('topvpn_relay_errors_total', 'Errors, by kind.', ['kind']),
  };

  m.up.set(1);
  m.buildInfo.set({ version: opts.version ?? buildVersion(), nodejs: process.versions.node }, 1);
  m.info.set({ region: opts.region ?? 'unknown', exit: opts.exit ? 'true' : 'false' }, 1);
  // Every bounded label value exists from the start, so rate() has a series to work on.
  for (const d of RELAY_DIRECTIONS) {
    m.forwardedBytes.inc({ direction: d }, 0);
    m.forwardedPackets.inc({ direction: d }, 0);
  }
  for (const d of EXIT_DIRECTIONS) m.exitPackets.inc({ direction: d }, 0);
  for (const r of CIRCUIT_CLOSE_REASONS) m.circuitsClosed.inc({ reason: r }, 0);
  for (const r of HANDSHAKE_RESULTS) m.handshakes.inc({ result: r }, 0);
  for (const k of HANDSHAKE_KINDS) m.handshakeSeconds.zero({ kind: k });
  for (const r of DROP_REASONS) m.drops.inc({ reason: r }, 0);
  for (const r of ['issued', 'resumed', ...RESUME_REFUSALS]) m.resumptions.inc({ result: r }, 0);
  for (const r of RECEIPT_OUTCOMES) m.receipts.inc({ result: r }, 0);
  for (const r of CLAIM_RESULTS) m.claims.inc({ result: r }, 0);
  for (const s of CHANNEL_STATUSES) m.channels.set({ status: s }, 0);
  for (const k of RELAY_ERROR_KINDS) m.errors.inc({ kind: k }, 0);

  const sync = new CounterSync();
  /** channelId → the claim in flight (bounded by the number of channels). */
  const inFlight = new Map<string, { txHash: string; at: number }>();

  return {
    ...m,
    observeEngine(s: RelayStats): void {
      m.circuitsActive.set(s.circuits);
      m.exitAddresses.set(s.exitAddresses);
      for (const d of RELAY_DIRECTIONS) {
        sync.advance(m.forwardedBytes, s.forwardedBytes[d], { direction: d });
        sync.advance(m.forwardedPackets, s.packets[d], { direction: d });
      }
      sync.advance(m.exitPackets, s.packets.exitOut, { direction: 'to_internet' });
      sync.advance(m.exitPackets, s.packets.exitIn, { direction: 'from_internet' });
      sync.advance(m.controlPackets, s.packets.control);
      sync.advance(m.circuitsTotal, s.handshakes.answered);
      sync.advance(m.handshakes, s.handshakes.answered, { result: 'answered' });
      sync.advance(m.handshakes, s.handshakes.retransmitted, { result: 'retransmitted' });
      sync.advance(m.handshakes, s.handshakes.extended, { result: 'extended' });
      sync.advance(m.handshakes, s.handshakes.extendFailed, { result: 'extend_failed' });
      sync.advance(m.handshakes, s.handshakes.rekeyed, { result: 'rekeyed' });
      for (const r of CIRCUIT_CLOSE_REASONS) sync.advance(m.circuitsClosed, s.circuitsClosed[r], { reason: r });
      for (const r of DROP_REASONS) sync.advance(m.drops, s.drops[r], { reason: r });
    },
    observeResume(s: ResumeStats): void {
      sync.advance(m.resumptions, s.issued, { result: 'issued' });
      sync.advance(m.resumptions, s.resumed, { result: 'resumed' });
      for (const r of RESUME_REFUSALS) sync.advance(m.resumptions, s.refused[r], { result: r });
    },
    observeEarnings(r: EarningsReport): void {
      sync.advance(m.servedBytes, r.totalBytes.served);
      sync.advance(m.receiptedBytes, r.totalBytes.receipted);
      sync.advance(m.claimedBytes, r.totalBytes.claimed);
      m.pendingBytes.set(toSample(r.totalBytes.pending));
      sync.advance(m.servedValue, r.total.served);
      sync.advance(m.receiptedValue, r.total.receipted);
      sync.advance(m.claimedValue, r.total.claimed);
      sync.advance(m.burnedValue, r.total.burned);
      sync.advance(m.feesValue, r.total.fees);
      sync.advance(m.lostValue, r.total.lost);
      m.pendingValue.set(toSample(r.total.pending));
      const byStatus: Record<(typeof CHANNEL_STATUSES)[number], number> = { open: 0, closing: 0, finalized: 0 };
      for (const c of r.channels) byStatus[c.status]++;
      for (const s of CHANNEL_STATUSES) m.channels.set({ status: s }, byStatus[s]);
    },
    observeReceiptOutcomes(totals: Readonly<Record<ReceiptOutcome, number>>): void {
      for (const o of RECEIPT_OUTCOMES) sync.advance(m.receipts, totals[o], { result: o });
    },
    observeClaimTick(t: TickReport): void {
      const at = now();
      // A tick confirms/drops earlier submissions before it submits new ones (ClaimWorker.tick).
      for (const c of t.confirmed) {
        const f = inFlight.get(c.channelId);
        if (f && f.txHash === c.txHash) m.claimSeconds.observe(Math.max(0, (at - f.at) / 1000));
        inFlight.delete(c.channelId);
      }
      for (const id of t.dropped) inFlight.delete(id);
      for (const s of t.submitted) inFlight.set(s.channelId, { txHash: s.txHash, at });
      if (t.submitted.length) m.claims.inc({ result: 'submitted' }, t.submitted.length);
      if (t.failed.length) m.claims.inc({ result: 'failed' }, t.failed.length);
      if (t.confirmed.length) m.claims.inc({ result: 'confirmed' }, t.confirmed.length);
      if (t.dropped.length) m.claims.inc({ result: 'dropped' }, t.dropped.length);
    },
    error(kind: RelayErrorKind): void {
      m.errors.inc({ kind });
    },
  };
}
