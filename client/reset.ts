/**
 * `topvpn reset` and the stale kill-switch removal connect() shares with it.
 */
import type { Logger } from 'pino';
import { type CommandRunner, runCommand } from '../relay/system.js';
import { ControlError, probe } from './control.js';
import { DnsManager } from './dns.js';
import { removeKillSwitch } from './killswitch.js';
import { RouteManager } from './routes.js';

export interface ResetOptions {
  controlPath: string;
  stateDir: string;
  resolvConf: string;
  log: Logger;
  run?: CommandRunner;
}

export interface ResetResult {
  dnsRestored: boolean;
  /** Routes the killed run had recorded (those still present were deleted). */
  staleRoutes: number;
  killSwitchRemoved: boolean;
}

/**
 * `topvpn reset`: undoes what a client killed with -9 left (resolver backup, recorded routes,
 * kill switch), without connecting. Refuses while a client answers on `controlPath`.
 */
export async function resetClientState(o: ResetOptions): Promise<ResetResult> {
  if (await probe(o.controlPath)) throw new ControlError(`a client is running (control socket ${o.controlPath} answers); use \`disconnect\``);
  const run = o.run ?? runCommand;
  const dnsRestored = new DnsManager({ resolvConf: o.resolvConf, stateDir: o.stateDir, log: o.log }).recoverStale();
  const staleRoutes = new RouteManager({ stateDir: o.stateDir, log: o.log, run }).recoverStale();
  const killSwitchRemoved = removeStaleKillSwitch(run);
  return { dnsRestored, staleRoutes, killSwitchRemoved };
}

/** Removes a kill-switch table if one exists; false if none (or nft is unavailable). */
export function removeStaleKillSwitch(run: CommandRunner): boolean {
  try {
    return removeKillSwitch(undefined, run);
  } catch {
    return false;
  }
}
