/**
 * What path selection knows about a relay, and the rules every hop obeys: eligibility
 * (staked, not jailed, fresh descriptor), selection weight, and "related" (two relays that
 * must never share a circuit). Pure.
 */
import type { Descriptor } from '../../protocol/descriptor.js';
import { parseUdpEndpoint } from '../../protocol/descriptor.js';
import type { Rng } from './rng.js';

export interface RelayMeasurement {
  /** Measured round-trip latency to the relay, ms. */
  latencyMs?: number;
  /** Measured bandwidth, bit/s. */
  bandwidthBps?: number;
}

export interface RelayCandidate {
  /** A descriptor whose signature the caller has verified (verifyDescriptor) on intake. */
  descriptor: Descriptor;
  /** On-chain relay deposit, base units. */
  stake: bigint;
  /** On-chain status is jailed (or tombstoned). */
  jailed: boolean;
  /** On-chain owner account of the node, when known: an operator id besides descriptor.operator. */
  owner?: string;
  measured?: RelayMeasurement;
}

export interface EligibilityRules {
  nowMs: number;
  /** Smallest stake that counts as staked (default 1 base unit; pass the chain's relay minimum). */
  minStake?: bigint;
  /** When given, relays published for another chain are ignored. */
  chainId?: string;
  /** Node addresses never to use (e.g. a relay that just failed). */
  exclude?: ReadonlySet<string>;
}

export type Ineligibility = 'jailed' | 'unstaked' | 'descriptor-expired' | 'wrong-chain' | 'excluded';

/** Why the relay may not carry traffic now, or null if it may. */
export function ineligibility(c: RelayCandidate, rules: EligibilityRules): Ineligibility | null {
  if (rules.exclude?.has(c.descriptor.nodeAddress)) return 'excluded';
  if (rules.chainId !== undefined && c.descriptor.chainId !== rules.chainId) return 'wrong-chain';
  if (c.jailed) return 'jailed';
  if (c.stake < (rules.minStake ?? 1n) || c.stake <= 0n) return 'unstaked';
  if (rules.nowMs >= c.descriptor.expiresAt) return 'descriptor-expired';
  return null;
}

/** Bandwidth assumed for a relay nobody has measured: its claim, capped (a claim alone must not attract traffic). */
export const UNMEASURED_BANDWIDTH_CAP_BPS = 10_000_000;
/** Latency at which the weight is halved; unknown latency counts as this much. */
export const LATENCY_HALF_WEIGHT_MS = 100;

/**
 * Selection weight ∝ stake (TOP) × bandwidth (Mbit/s) / (1 + latency / 100 ms).
 * Bandwidth is min(measured, advertised) when measured, else min(advertised, 10 Mbit/s).
 */
export function relayWeight(c: RelayCandidate): number {
  const stakeTop = Math.min(1e15, Number(c.stake) / 1e6);
  const adv = c.descriptor.bandwidthBps;
  const m = c.measured?.bandwidthBps;
  const bw = m !== undefined && Number.isFinite(m) && m >= 0 ? Math.min(m, adv) : Math.min(adv, UNMEASURED_BANDWIDTH_CAP_BPS);
  const lat = c.measured?.latencyMs;
  const latency = lat !== undefined && Number.isFinite(lat) && lat >= 0 ? lat : LATENCY_HALF_WEIGHT_MS;
  const w = (stakeTop * (bw / 1e6)) / (1 + latency / LATENCY_HALF_WEIGHT_MS);
  return Number.isFinite(w) && w > 0 ? w : 0;
}

/** Picks one candidate with probability proportional to relayWeight; undefined if none has weight. */
export function weightedPick<T extends RelayCandidate>(items: readonly T[], rng: Rng): T | undefined {
  const weights = items.map(relayWeight);
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return undefined;
  let x = rng() * total;
  for (let i = 0; i < items.length; i++) {
    x -= weights[i]!;
    if (x < 0 && weights[i]! > 0) return items[i];
  }
  // Floating-point remainder: the last item with positive weight.
  for (let i = items.length - 1; i >= 0; i--) if (weights[i]! > 0) return items[i];
  return undefined;
}

/** The /16 of the relay's UDP endpoint, as a number (ip >>> 16). */
export function slash16(c: RelayCandidate): number {
  return parseUdpEndpoint(c.descriptor.endpoints.udp).ip >>> 16;
}

function operatorsOf(c: RelayCandidate): string[] {
  return c.owner !== undefined && c.owner !== c.descriptor.operator ? [c.descriptor.operator, c.owner] : [c.descriptor.operator];
}

export interface RelatedOptions {
  /**
   * Whether UDP endpoints in one /16 make two relays related (default true). Only a private
   * testnet, where every relay sits in one subnet, turns this off (Tor's EnforceDistinctSubnets 0).
   */
  distinctSubnets?: boolean;
}

/**
 * True when two relays must not be on one circuit: the same node, a shared operator id,
 * either one listing the other as family (one-sided declarations count: stricter than Tor's
 * mutual rule, it can only remove choices), or UDP endpoints in the same /16 (unless
 * `distinctSubnets` is false).
 */
export function related(a: RelayCandidate, b: RelayCandidate, opts: RelatedOptions = {}): boolean {
  const da = a.descriptor;
  const db = b.descriptor;
  if (da.nodeAddress === db.nodeAddress) return true;
  const opsB = operatorsOf(b);
  if (operatorsOf(a).some((o) => opsB.includes(o))) return true;
  if (da.family.includes(db.nodeAddress) || db.family.includes(da.nodeAddress)) return true;
  return opts.distinctSubnets !== false && slash16(a) === slash16(b);
}
