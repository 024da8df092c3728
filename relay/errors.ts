/** Relay error classes and the reasons a relay drops a packet (counted, never thrown). */

export const DROP_REASONS = [
  'malformed', // framing or plaintext fails to decode
  'unknown_type', // first byte is no message type
  'unknown_index', // no circuit has this receiver index
  'unknown_epoch', // no live key generation has this epoch byte (includes expired keys)
  'replay', // counter already seen or too old
  'auth', // AEAD tag did not verify
  'expired', // our send keys for the circuit are too old / exhausted
  'misrouted', // wrong next index inside FORWARD, or a packet from the wrong peer
  'spoofed', // exit: IP source is not the circuit's assigned address
  'policy', // exit: destination denied by the exit policy
  'not_ipv4', // exit: IP packet is not (well-formed) IPv4
  'no_route', // exit: TUN packet for an address no circuit owns
  'not_exit', // IP packet on a circuit that did not open an exit
  'no_next', // FORWARD on a circuit that is not extended
  'rate_limited', // handshake over the per-source rate
  'wrong_node', // HANDSHAKE_INIT for another node
  'handshake', // HANDSHAKE_INIT rejected (low-order point, ...)
  'circuit_limit', // table full
  'protocol', // control message not valid in the circuit's state
  'unexpected_resp', // HANDSHAKE_RESP that answers no pending extend
  'unpaid', // the circuit hooks refused to carry the packet (payments: circuit paused)
  'internal', // a bug: an exception escaped a handler
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export function emptyDrops(): Record<DropReason, number> {
  const d = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) d[r] = 0;
  return d;
}

export class RelayError extends Error {
  override readonly name: string = 'RelayError';
}

export class RelayConfigError extends RelayError {
  override readonly name = 'RelayConfigError';
}
