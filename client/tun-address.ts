/**
 * The TUN device's inner address: set up from the exit's assignment at connect, and swapped
 * for a new one when a rebuilt circuit's exit assigns another.
 */
import type { CommandRunner } from '../relay/system.js';
import type { RouteManager } from './routes.js';

/** Adds `address/prefixLen` to `dev`, disables IPv6 on it (if possible), sets its MTU and brings it up. */
export function configureTun(run: CommandRunner, dev: string, address: string, prefixLen: number, mtu: number): void {
  run(['ip', 'addr', 'add', `${address}/${prefixLen}`, 'dev', dev]);
  try {
    run(['sysctl', '-q', '-w', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
  } catch {
    /* IPv6 disabled system-wide: nothing to do */
  }
  run(['ip', 'link', 'set', 'dev', dev, 'mtu', String(mtu), 'up']);
}

/**
 * New address first, then the old one goes: with promote_secondaries the device never
 * lacks an address (which would flush its routes); ensure() re-adds them regardless.
 */
export function replaceTunAddress(run: CommandRunner, routes: RouteManager, dev: string, old: { address: string | undefined; prefixLen: number }, next: { address: string; prefixLen: number }): void {
  try {
    run(['sysctl', '-q', '-w', `net.ipv4.conf.${dev}.promote_secondaries=1`]);
  } catch {
    /* not fatal: ensure() below restores the routes */
  }
  run(['ip', 'addr', 'add', `${next.address}/${next.prefixLen}`, 'dev', dev]);
  if (old.address) run(['ip', 'addr', 'del', `${old.address}/${old.prefixLen}`, 'dev', dev]);
  routes.ensure();
}
