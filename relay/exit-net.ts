/**
 * The exit's kernel side: its TUN (first host address of the pool, route to the pool),
 * IPv4 forwarding, and its nftables table (relay/nat.ts). `teardown()` undoes all of it
 * and restores ip_forward if this process changed it. Never throws from teardown.
 */
import type { Logger } from 'pino';
import { LAYER_OVERHEAD } from '../protocol/constants.js';
import type { Tun } from '../tun/tun.js';
import { cidrHost, formatCidr } from './addr.js';
import type { ExitConfig } from './config.js';
import { applyNat, removeNat } from './nat.js';
import { type CommandRunner, readSysctl, runCommand } from './system.js';

/** IPv4 (20) + UDP (8) on a 1500-byte link. */
export const UDP_IPV4_OVERHEAD = 28;
export const LINK_MTU = 1500;

/** Largest inner IP packet a circuit of `hops` hops carries on a 1500-byte link. */
export function innerMtu(hops: number, linkMtu = LINK_MTU): number {
  return linkMtu - UDP_IPV4_OVERHEAD - LAYER_OVERHEAD * hops;
}

/**
 * The exit TUN's MTU: the largest packet any client can send, i.e. a 1-hop client's MTU.
 * (Longer circuits have smaller client MTUs; their TCP MSS keeps replies small.)
 */
export const EXIT_TUN_MTU = innerMtu(1);

export interface ExitNetwork {
  tun: Tun;
  /** The TUN's own address (first host of the pool). */
  address: string;
  mtu: number;
  teardown(): void;
}

export interface ExitNetworkDeps {
  openTun(opts: { name: string; mtu: number }): Tun;
  run?: CommandRunner;
  log: Logger;
}

export function setUpExitNetwork(cfg: ExitConfig, deps: ExitNetworkDeps): ExitNetwork {
  const run = deps.run ?? runCommand;
  const log = deps.log;
  const mtu = EXIT_TUN_MTU;
  const address = cidrHost(cfg.pool, 1);
  const undo: Array<[string, () => void]> = [];
  const teardown = (): void => {
    for (const [what, fn] of undo.splice(0).reverse()) {
      try {
        fn();
      } catch (err) {
        log.error({ step: what, err: (err as Error).message }, 'exit teardown step failed');
      }
    }
  };
  try {
    const tun = deps.openTun({ name: cfg.tun, mtu });
    undo.push(['close tun', () => tun.close()]);
    run(['ip', 'addr', 'add', `${address}/${cfg.pool.prefixLen}`, 'dev', tun.name]);
    try {
      run(['sysctl', '-q', '-w', `net.ipv6.conf.${tun.name}.disable_ipv6=1`]);
    } catch {
      /* IPv6 off system-wide: nothing to disable */
    }
    run(['ip', 'link', 'set', 'dev', tun.name, 'mtu', String(mtu), 'up']);
    const fwd = readSysctl('net.ipv4.ip_forward');
    if (fwd !== '1') {
      run(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      undo.push(['restore ip_forward', () => run(['sysctl', '-q', '-w', `net.ipv4.ip_forward=${fwd ?? '0'}`])]);
    }
    applyNat({ table: cfg.nftTable, pool: cfg.pool, tun: tun.name, ...(cfg.egress ? { egress: cfg.egress } : {}) }, run);
    undo.push(['delete nft table', () => removeNat(cfg.nftTable, run)]);
    log.info({ tun: tun.name, address, pool: formatCidr(cfg.pool), mtu, egress: cfg.egress ?? `any but ${tun.name}`, nftTable: cfg.nftTable }, 'exit network up');
    return { tun, address, mtu, teardown };
  } catch (err) {
    teardown();
    throw err;
  }
}
