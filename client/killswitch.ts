/**
 * Opt-in kill switch (as Mullvad's): an nftables `inet` table that drops every packet in
 * and out except on loopback, on the tunnel device, and the flow to/from the entry relay:
 * UDP to its endpoint, or with the WebSocket transport TCP to its WebSocket port. IPv6 is dropped entirely (the tunnel is IPv4-only). It fails closed: if
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
}

const q = (s: string): string => `"${s.replace(/"/g, '')}"`;

export function killSwitchRuleset(spec: KillSwitchSpec): string {
  const t = spec.table ?? KILL_SWITCH_TABLE;
  const { host, port } = spec.entry;
  const proto = spec.proto ?? 'udp';
  return [
    `table inet ${t} {}`,
    `delete table inet ${t}`,
    `table inet ${t} {`,
    `  chain output {`,
    `    type filter hook output priority filter; policy drop;`,
    `    oifname "lo" accept`,
    `    oifname ${q(spec.tun)} accept`,
    `    ip daddr ${host} ${proto} dport ${port} accept`,
    `    counter comment "topvpn kill switch: dropped"`,
    `  }`,
    `  chain input {`,
    `    type filter hook input priority filter; policy drop;`,
    `    iifname "lo" accept`,
    `    iifname ${q(spec.tun)} accept`,
    `    ip saddr ${host} ${proto} sport ${port} accept`,
    `    counter comment "topvpn kill switch: dropped"`,
    `  }`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy drop;`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

export function applyKillSwitch(spec: KillSwitchSpec, run: CommandRunner = runCommand): void {
  run(['nft', '-f', '-'], killSwitchRuleset(spec));
}

/** Deletes the kill-switch table; false if it was not there. */
export function removeKillSwitch(table: string = KILL_SWITCH_TABLE, run: CommandRunner = runCommand): boolean {
  try {
    run(['nft', 'delete', 'table', 'inet', table]);
    return true;
  } catch (err) {
    if (err instanceof SystemCommandError && /No such file or directory|does not exist/i.test(err.stderr)) return false;
    throw err;
  }
}
