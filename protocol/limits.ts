/**
 * Implementation limits: choices of this implementation, not of the wire format. A peer
 * with other limits still interoperates.
 */

/** Longest circuit a client builds (entry, middle, exit). */
export const MAX_HOPS = 3;
/** Circuits one relay holds at most. */
export const MAX_CIRCUITS_PER_RELAY = 65_536;
/** A handshake (INIT, EXTEND, EXIT_OPEN, REKEY) is retransmitted this often until answered. */
export const HANDSHAKE_RETRY_MS = 1_000;
/** ... and abandoned after this long. */
export const HANDSHAKE_GIVE_UP_MS = 10_000;
/** A relay frees a circuit with no authenticated traffic in either direction for this long. */
export const CIRCUIT_IDLE_MS = 60_000;
/** How often engines run their housekeeping timer. */
export const TIMER_TICK_MS = 1_000;
/** Per-source handshake rate limit (token bucket): sustained rate and burst. */
export const HANDSHAKE_RATE_PER_SEC = 100;
export const HANDSHAKE_BURST = 200;
/** Rate-limit buckets kept at most (oldest dropped first). */
export const MAX_RATE_BUCKETS = 4_096;
/**
 * Counters are JS numbers here: a counter above 2^53 − 1 is rejected. Sessions rekey after
 * REKEY_AFTER_MESSAGES or REKEY_AFTER_TIME, so a live session never gets near this.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;
/** Effective rekey / reject message counts for this implementation. */
export const REKEY_AFTER_MESSAGES_IMPL = 2 ** 52;
export const REJECT_AFTER_MESSAGES_IMPL = MAX_COUNTER;
/**
 * Inner MTU that fits a 3-hop packet in a 1500 B IPv4/UDP link: 1500 − 28 − 3 × 33 = 1373,
 * rounded down to a multiple of 16.
 */
export const RECOMMENDED_TUNNEL_MTU = 1360;
