/**
 * The testnet's address plan (pure, no IO). See deploy/testnet.ts for the diagram.
 * Underlay 198.18.0.0/24: client .10, relays .11 upwards, inet .100. Relay hosts are named
 * by position: 1 relay → exit; 2 → entry, exit; 3 → entry, middle, exit;
 * n > 3 → entry, middle1 … middle(n-2), exit.
 */
export const UNDERLAY_PREFIX = '198.18.0';
export const UNDERLAY_CIDR = '198.18.0.0/24';
/** Everything the testnet may address (exit policy allows it; relays' exit pool lives here). */
export const TESTNET_CIDR = '198.18.0.0/15';
/** Inner addresses the exit hands out to clients. */
export const EXIT_POOL_CIDR = '198.19.0.0/24';
export const CLIENT_IP = `${UNDERLAY_PREFIX}.10`;
export const INET_IP = `${UNDERLAY_PREFIX}.100`;
/** The chain host (devnet nodes, all in one namespace), when the testnet has one. */
export const CHAIN_IP = `${UNDERLAY_PREFIX}.200`;
export const RELAY_BASE = 11;
export const MAX_RELAYS = 80;
export const RELAY_PORT = 51820;
export const HTTP_PORT = 80;
export const IPERF_PORT = 5201;

export class TopologyError extends Error {
  override readonly name = 'TopologyError';
}

export type Role = 'client' | 'relay' | 'inet' | 'chain';

export interface HostPlan {
  /** Short host name, also the namespace suffix: `<prefix>-<name>`. */
  name: string;
  role: Role;
  /** Underlay IPv4 address on eth0. */
  ip: string;
}

export function relayNames(n: number): string[] {
  if (!Number.isInteger(n) || n < 1 || n > MAX_RELAYS) throw new TopologyError(`relay count must be 1..${MAX_RELAYS}, got ${n}`);
  if (n === 1) return ['exit'];
  if (n === 2) return ['entry', 'exit'];
  if (n === 3) return ['entry', 'middle', 'exit'];
  return ['entry', ...Array.from({ length: n - 2 }, (_, i) => `middle${i + 1}`), 'exit'];
}

/** Hosts in creation order: client, relays (entry first), inet, and the chain host with `chain`. */
export function planTopology(relays: number, opts: { chain?: boolean } = {}): HostPlan[] {
  return [
    { name: 'client', role: 'client', ip: CLIENT_IP },
    ...relayNames(relays).map((name, i): HostPlan => ({ name, role: 'relay', ip: `${UNDERLAY_PREFIX}.${RELAY_BASE + i}` })),
    { name: 'inet', role: 'inet', ip: INET_IP },
    ...(opts.chain ? [{ name: 'chain', role: 'chain', ip: CHAIN_IP } satisfies HostPlan] : []),
  ];
}

/**
 * The relays a circuit of `hops` uses, entry first, ending at the exit host (the last relay,
 * the only one started with --exit). With 1 hop the exit is also the entry.
 */
export function pathFor(relayHosts: readonly HostPlan[], hops: number): HostPlan[] {
  if (!Number.isInteger(hops) || hops < 1 || hops > relayHosts.length) throw new TopologyError(`hops must be 1..${relayHosts.length}, got ${hops}`);
  const exit = relayHosts[relayHosts.length - 1] as HostPlan;
  return [...relayHosts.slice(0, hops - 1), exit];
}
