/**
 * The exit's own nftables table: masquerade the client pool out of the egress interface,
 * drop packets from the TUN whose source is outside the pool (anti-spoofing), and clamp
 * TCP MSS to the route MTU so TCP through the tunnel never needs fragmentation.
 * The table is owned entirely by the daemon: replaced atomically on start, deleted on stop;
 * nothing else in the ruleset is touched.
 */
import { type Cidr, formatCidr } from './addr.js';
import { type CommandRunner, runCommand, SystemCommandError } from './system.js';

export interface NatSpec {
  table: string;
  pool: Cidr;
  tun: string;
  /** Undefined: masquerade out of every interface except the TUN. */
  egress?: string;
}

const q = (s: string): string => `"${s.replace(/"/g, '')}"`;

/** The nft script for `nft -f -`: creates-then-deletes-then-defines, so applying is idempotent and atomic. */
export function natRuleset(spec: NatSpec): string {
  const pool = formatCidr(spec.pool);
  const out = spec.egress ? `oifname ${q(spec.egress)}` : `oifname != ${q(spec.tun)}`;
  return [
    `table ip ${spec.table} {}`,
    `delete table ip ${spec.table}`,
    `table ip ${spec.table} {`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    iifname ${q(spec.tun)} ip saddr != ${pool} counter drop`,
    `    iifname ${q(spec.tun)} tcp flags syn / syn,rst tcp option maxseg size set rt mtu`,
    `    oifname ${q(spec.tun)} tcp flags syn / syn,rst tcp option maxseg size set rt mtu`,
    `  }`,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    `    ip saddr ${pool} ${out} counter masquerade`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

export function applyNat(spec: NatSpec, run: CommandRunner = runCommand): void {
  run(['nft', '-f', '-'], natRuleset(spec));
}

/** Deletes the table; returns false if it was not there. Other failures throw. */
export function removeNat(table: string, run: CommandRunner = runCommand): boolean {
  try {
    run(['nft', 'delete', 'table', 'ip', table]);
    return true;
  } catch (err) {
    if (err instanceof SystemCommandError && /No such file or directory|does not exist/i.test(err.stderr)) return false;
    throw err;
  }
}
