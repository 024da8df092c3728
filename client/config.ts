/**
 * `topvpn connect` configuration from the CLI's raw flag values. Pure apart from reading
 * the relay file; every problem is a ConfigError or RelayListError naming the flag.
 */
import { basename, dirname, join } from 'node:path';
import { type Endpoint, isIpv4, parseEndpoint } from '../relay/addr.js';
import { checkIfName, ConfigError } from '../relay/config.js';
import { DEFAULT_CONTROL_PATH } from './control.js';
import { DEFAULT_RESOLV_CONF } from './dns.js';
import { choosePath, loadRelays, MAX_HOPS, type RelaySpec } from './relay-list.js';

export const DEFAULT_CLIENT_TUN = 'tvpn0';
export const DEFAULT_HOPS = 3;

export interface ConnectFlags {
  relays?: string;
  hops?: string;
  control?: string;
  tun?: string;
  /** commander: a string for --dns IP[,IP], false for --no-dns, undefined if neither. */
  dns?: string | boolean;
  resolvConf?: string;
  stateDir?: string;
  killSwitch?: boolean;
  reconnect?: boolean;
  metrics?: string;
  json?: boolean;
  pretty?: boolean;
  logLevel?: string;
}

export interface ConnectConfig {
  path: RelaySpec[];
  hops: number;
  controlPath: string;
  tunName: string;
  dns: 'auto' | 'off' | string[];
  resolvConf: string;
  resolvConfExplicit: boolean;
  stateDir: string;
  killSwitch: boolean;
  reconnect: boolean;
  metrics?: Endpoint;
  json: boolean;
  pretty: boolean;
  logLevel?: string;
}

/**
 * Default state directory: next to the control socket, named after it
 * (/run/topvpn/client.sock → /run/topvpn/client.state), so clients with distinct control
 * sockets (e.g. one per network namespace) never share crash-recovery state.
 */
export function defaultStateDir(controlPath: string): string {
  return join(dirname(controlPath), `${basename(controlPath).replace(/\.sock$/, '')}.state`);
}

export function parseHops(v: string | undefined): number {
  if (v === undefined) return DEFAULT_HOPS;
  if (!/^\d+$/.test(v)) throw new ConfigError(`--hops: "${v}" is not a number`);
  const n = Number(v);
  if (n < 1 || n > MAX_HOPS) throw new ConfigError(`--hops must be 1..${MAX_HOPS}, got ${n}`);
  return n;
}

export function parseConnectFlags(f: ConnectFlags): ConnectConfig {
  if (!f.relays) throw new ConfigError('--relays FILE|LIST is required');
  const hops = parseHops(f.hops);
  const path = choosePath(loadRelays(f.relays), hops);
  const controlPath = f.control ?? DEFAULT_CONTROL_PATH;
  let dns: ConnectConfig['dns'] = 'auto';
  if (f.dns === false) dns = 'off';
  else if (typeof f.dns === 'string') {
    const servers = f.dns.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (servers.length === 0) throw new ConfigError('--dns: expected IP[,IP...]');
    for (const s of servers) if (!isIpv4(s)) throw new ConfigError(`--dns: "${s}" is not an IPv4 address`);
    dns = servers;
  }
  if (f.logLevel !== undefined && !['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(f.logLevel)) {
    throw new ConfigError(`--log-level: unknown level "${f.logLevel}"`);
  }
  const cfg: ConnectConfig = {
    path,
    hops,
    controlPath,
    tunName: checkIfName('tun', f.tun ?? DEFAULT_CLIENT_TUN),
    dns,
    resolvConf: f.resolvConf ?? DEFAULT_RESOLV_CONF,
    resolvConfExplicit: f.resolvConf !== undefined,
    stateDir: f.stateDir ?? defaultStateDir(controlPath),
    killSwitch: f.killSwitch === true,
    reconnect: f.reconnect === true,
    json: f.json === true,
    pretty: f.pretty === true,
  };
  if (f.logLevel !== undefined) cfg.logLevel = f.logLevel;
  if (f.metrics !== undefined) {
    try {
      cfg.metrics = parseEndpoint(f.metrics, { allowZeroPort: true });
    } catch (err) {
      throw new ConfigError(`--metrics: ${(err as Error).message}`);
    }
  }
  return cfg;
}
