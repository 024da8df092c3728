/**
 * The resolver the client points the system at: chosen at connect (`--dns auto`: the exit's
 * announced resolver; `off`; or the user's servers) and followed to a new exit on rebuild.
 */
import type { Logger } from 'pino';
import { checkSafeTarget, type DnsManager } from './dns.js';

export interface DnsChoice {
  /** 'auto': the exit's announced resolver (if any); 'off': leave DNS alone; else these servers. */
  dns: 'auto' | 'off' | string[];
  resolvConf: string;
  resolvConfExplicit: boolean;
}

/**
 * Applies the resolvers for a circuit whose exit announced `announced` and returns them (none
 * applied: []). With 'auto' a resolver file that is the host's is left alone (warned, not fatal).
 */
export function applyConnectDns(dnsMgr: DnsManager, o: DnsChoice, announced: string | undefined, log: Logger): string[] {
  let servers = o.dns === 'off' ? [] : o.dns === 'auto' ? (announced && announced !== '0.0.0.0' ? [announced] : []) : o.dns;
  if (o.dns === 'auto' && servers.length > 0) {
    try {
      checkSafeTarget(o.resolvConf, o.resolvConfExplicit);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'not changing the resolver');
      servers = [];
    }
  }
  if (servers.length > 0) dnsMgr.apply(servers);
  else if (o.dns === 'auto' && !(announced && announced !== '0.0.0.0')) log.warn('the exit announced no DNS resolver; the system resolver is unchanged (its queries go through the tunnel if it is not on-link)');
  return servers;
}

/**
 * With `--dns auto`, follows the resolver the (possibly new) exit announces: an exit's
 * resolver usually lives at its own inner gateway, unreachable through another exit. A user
 * choice (`--dns A,B`) or `off` is never changed; an exit announcing none keeps the old one.
 * Returns the resolvers now in effect (`current` unless changed).
 */
export function followExitDns(dnsMgr: DnsManager, mode: DnsChoice['dns'], current: string[], announced: string | undefined, log: Logger): string[] {
  if (mode !== 'auto' || !dnsMgr.isActive) return current;
  if (!announced || announced === '0.0.0.0' || (current.length === 1 && current[0] === announced)) return current;
  try {
    if (dnsMgr.update([announced])) return [announced];
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not point the resolver at the new exit');
  }
  return current;
}
