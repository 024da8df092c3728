/**
 * The kill switch around the entry relay: what it admits (the entry's flow, the paid chain RPC,
 * ARP for their next hops and --lan) and the next hop ARP must resolve for a host.
 */
import type { Endpoint } from '../relay/addr.js';
import type { CommandRunner } from '../relay/system.js';
import { applyKillSwitch } from './killswitch.js';
import type { RelaySpec } from './relay-list.js';
import type { RouteManager } from './routes.js';

/** Paid: the chain RPC endpoint the kill switch admits, and how it was reached before the tunnel (for a direct route while it is down). */
export interface RpcReach {
  endpoint: Endpoint;
  arpPeers: string[];
  route?: { gateway?: string; dev?: string; type?: string };
}

/** The address ARP must resolve to reach `host`: its gateway, or itself when on-link; none when local. */
export function nextHopOf(routes: RouteManager, host: string): string[] {
  try {
    const r = routes.lookup(host);
    if (r.type === 'local' || r.dev === 'lo') return [];
    return [r.gateway ?? host];
  } catch {
    return [host];
  }
}

export interface EntryKillSwitch {
  tunName: string;
  ws?: { url: string } | undefined;
  lan?: string[] | undefined;
  routes: RouteManager;
  rpc: RpcReach | undefined;
  run: CommandRunner;
}

/**
 * Kill switch for `entry`: its flow (UDP, or TCP to the WebSocket port), TCP to the chain RPC
 * endpoint (paid), and ARP only for their next hops (and --lan).
 */
export function applyKillSwitchFor(entry: RelaySpec, o: EntryKillSwitch): void {
  const wsEntry = o.ws ? new URL(o.ws.url) : undefined;
  const ksEntry = wsEntry ? { host: entry.endpoint.host, port: Number(wsEntry.port || (wsEntry.protocol === 'wss:' ? 443 : 80)) } : entry.endpoint;
  const arpPeers = [...new Set([...nextHopOf(o.routes, entry.endpoint.host), ...(o.rpc?.arpPeers ?? [])])];
  applyKillSwitch(
    { tun: o.tunName, entry: ksEntry, proto: wsEntry ? 'tcp' : 'udp', arpPeers, ...(o.lan ? { lan: o.lan } : {}), ...(o.rpc ? { allowTcp: [o.rpc.endpoint] } : {}) },
    o.run,
  );
}
