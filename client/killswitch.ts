/**
 * Opt-in kill switch (as Mullvad's): an nftables `inet` table that drops every packet in
 * and out except on loopback, on the tunnel device, and the flow to/from the entry relay:
 * UDP to its endpoint, or with the WebSocket transport TCP to its WebSocket port (and, with
 * `lan`, IPv4 to/from those networks), and TCP to/from each `allowTcp` endpoint exactly (the
 * chain RPC the client already reaches directly to open channels: it can then close them,
 * and open new ones for a re-path, while the tunnel is down). IPv6 is dropped entirely (the tunnel is IPv4-only).
 * ARP is not IP: an `arp` table of the same name admits ARP only to/from the entry's next
 * hop (`arpPeers`: its gateway, or the entry itself when on-link) and the `lan` networks.
 * Both tables are loaded in one nft transaction and removed together. It fails closed: if
 * the client is killed, the table stays and nothing leaks until `topvpn reset` or the next
 * `connect` (which replaces it) and its disconnect (which deletes it).
 */
import type { Endpoint } from '../relay/addr.js';
import { type CommandRunner, runCommand, SystemCommandError } from '../relay/system.js';

export const KILL_SWITCH_TABLE = 'topvpn_killswitch';

export interface KillSwitchSpec {
  table?: string;
  tun: string;
  entry: Endpoint;
  /** The entry flow's protocol: 'udp' (default) or 'tcp' (WebSocket transport; entry.port is the WS port). */
  proto?: 'udp' | 'tcp';
  /** IPv4 addresses ARP may resolve and answer (the entry's next hop); none: all ARP is dropped. */
  arpPeers?: string[];
  /** IPv4 CIDRs reachable outside the tunnel (LAN access), for IP and ARP. */
  lan?: string[];
  /** TCP endpoints (IPv4 literal host, port) admitted outside the tunnel: the chain RPC; nothing else of their hosts. */
  allowTcp?: Endpoint[];
}

function tcpEndpoint(e: Endpoint): Endpoint {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(e.host)) throw new KillSwitchError(`not an IPv4 address: ${JSON.stringify(e.host)}`);
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new KillSwitchError(`not a TCP port: ${e.port}`);
  return e;
}

/** An nft set literal of addresses / CIDRs (validated: digits, dots and one slash only). */
function addrSet(items: readonly string[]): string {
  for (const a of items) if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(a)) throw new KillSwitchError(`not an IPv4 address or CIDR: ${JSON.stringify(a)}`);
  return `{ ${items.join(', ')} }`;
}

export class KillSwitchError extends Error {
  override readonly name = 'KillSwitchError';
}

const q = (s: string): string => `"${s.replace(/"/g, '')}"`;

export function killSwitchRuleset(spec: KillSwitchSpec): string {
  const t = spec.table ?? KILL_SWITCH_TABLE;
  const { host, port } = spec.entry;
  const proto = spec.proto ?? 'udp';
  const tcp = (spec.allowTcp ?? []).map(tcpEndpoint);
  return [
    `table inet ${t} {}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    `  chain output {`,
    `    type filter hook output priority filter; policy drop;`,
    `    oifname "lo" accept`,
    `    oifname ${q(spec.tun)} accept`,
    `    ip daddr ${host} ${proto} dport ${port} accept`,
    ...tcp.map((e) => `    ip daddr ${e.host} tcp dport ${e.port} accept`),
    ...(spec.lan?.length ? [`    ip daddr ${addrSet(spec.lan)} accept`] : []),
    `    counter comment "topvpn kill switch: dropped"`,
    `  }`,
    `  chain input {`,
    `    type filter hook input priority filter; policy drop;`,
    `    iifname "lo" accept`,
    `    iifname ${q(spec.tun)} accept`,
    `    ip saddr ${host} ${proto} sport ${port} accept`,
    ...tcp.map((e) => `    ip saddr ${e.host} tcp sport ${e.port} accept`),
    ...(spec.lan?.length ? [`    ip saddr ${addrSet(spec.lan)} accept`] : []),
    `    counter comment "topvpn kill switch: dropped"`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy drop;`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/**
 * The `arp` table: ARP out only when its target protocol address (requests we send, replies
 * we give) is an allowed peer, ARP in only from an allowed peer's sender address.
 */
export function arpRuleset(spec: KillSwitchSpec): string {
  const t = spec.table ?? KILL_SWITCH_TABLE;
  const peers = [...(spec.arpPeers ?? []), ...(spec.lan ?? [])];
  return [
    `table arp ${t} {}`,
    `delete table arp ${t}`,
    `table arp ${t} {`,
    `  chain output {`,
    `    type filter hook output priority filter; policy drop;`,
    ...(peers.length > 0 ? [`    arp daddr ip ${addrSet(peers)} accept`] : []),
    `    counter comment "topvpn kill switch: ARP dropped"`,
    `  }`,
    `  chain input {`,
    `    type filter hook input priority filter; policy drop;`,
    ...(peers.length > 0 ? [`    arp saddr ip ${addrSet(peers)} accept`] : []),
    `    counter comment "topvpn kill switch: ARP dropped"`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

/** Loads (or atomically replaces) both tables in one transaction. */
export function applyKillSwitch(spec: KillSwitchSpec, run: CommandRunner = runCommand): void {
  run(['nft', '-f', '-'], killSwitchRuleset(spec) + arpRuleset(spec));
}

function deleteTable(family: 'inet' | 'arp', table: string, run: CommandRunner): boolean {
  try {
    run(['nft', 'delete', 'table', family, table]);
    return true;
  } catch (err) {
    if (err instanceof SystemCommandError && /No such file or directory|does not exist/i.test(err.stderr)) return false;
    throw err;
  }
}

/** Deletes the kill-switch tables (inet and arp); false if neither was there. */
export function removeKillSwitch(table: string = KILL_SWITCH_TABLE, run: CommandRunner = runCommand): boolean {
  const inet = deleteTable('inet', table, run);
  const arp = deleteTable('arp', table, run);
  return inet || arp;
}
