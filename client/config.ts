/**
 * `topvpn connect` configuration from the CLI's raw flag values. Pure apart from reading
 * the relay file; every problem is a ConfigError or RelayListError naming the flag.
 */
import { basename, dirname, join } from 'node:path';
import { type Endpoint, isIpv4, parseEndpoint } from '../relay/addr.js';
import { checkChainRpcUrl, checkIfName, ConfigError } from '../relay/config.js';
import { formatIpv4, parseCidr4 } from '../protocol/ipv4.js';
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
  /** --lan CIDR[,CIDR]: networks the kill switch leaves reachable (IP and ARP). */
  lan?: string;
  reconnect?: boolean;
  metrics?: string;
  transport?: string;
  wsUrl?: string;
  wsCa?: string;
  chainRpc?: string;
  wallet?: string;
  budget?: string;
  passwordFile?: string;
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
  /** --lan: LAN networks the kill switch admits (IP and ARP). */
  lan?: string[];
  reconnect: boolean;
  /** `--transport ws`: reach the entry over this WebSocket URL (wss:// trusting `caFile` if given) instead of UDP. */
  ws?: { url: string; caFile?: string };
  /** Relays of the list not in the path that may replace a middle hop that stopped answering (with --reconnect). */
  spares?: RelaySpec[];
  metrics?: Endpoint;
  /** Paid circuits (--chain-rpc): every path relay has an address and a price. */
  payments?: PaymentFlags;
  json: boolean;
  pretty: boolean;
  logLevel?: string;
}

export interface PaymentFlags {
  rpcUrl: string;
  wallet: string;
  /** Most one connect may lock or spend (new deposits + open fees), base units. */
  budget: bigint;
  /** The wallet password is read from this file (else from $TOPVPN_WALLET_PASSWORD). */
  passwordFile?: string;
}

/** --chain-rpc, --wallet, --budget (all three or none) and --password-file, checked against the path. */
export function parsePaymentFlags(f: ConnectFlags, path: RelaySpec[]): PaymentFlags | undefined {
  const given = [f.chainRpc, f.wallet, f.budget].filter((v) => v !== undefined).length;
  if (given === 0) {
    if (f.passwordFile !== undefined) throw new ConfigError('--password-file only makes sense with --chain-rpc');
    return undefined;
  }
  if (given !== 3) throw new ConfigError('paid circuits need --chain-rpc URL, --wallet FILE and --budget N together');
  checkChainRpcUrl(f.chainRpc!);
  if (!/^\d{1,30}$/.test(f.budget!) || BigInt(f.budget!) === 0n) throw new ConfigError(`--budget: "${f.budget}" must be a positive whole number of base units`);
  path.forEach((r, i) => {
    if (r.address === undefined || r.pricePerGiB === undefined) throw new ConfigError(`--chain-rpc: relay ${i + 1} of the path has no "address" and "pricePerGiB" in the relay list`);
  });
  const out: PaymentFlags = { rpcUrl: f.chainRpc!, wallet: f.wallet!, budget: BigInt(f.budget!) };
  if (f.passwordFile !== undefined) out.passwordFile = f.passwordFile;
  return out;
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

/** --lan CIDR[,CIDR]: IPv4 networks (canonical, e.g. 192.168.1.0/24); only with --kill-switch. */
export function parseLan(v: string, killSwitch: boolean): string[] {
  if (!killSwitch) throw new ConfigError('--lan only makes sense with --kill-switch');
  const items = v.split(',').map((s) => s.trim());
  for (const c of items) {
    let ok = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(c);
    if (ok) {
      try {
        const p = parseCidr4(c);
        ok = formatIpv4(p.base) === c.split('/')[0];
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new ConfigError(`--lan: "${c}" is not an IPv4 network like 192.168.1.0/24`);
  }
  return items;
}

/** `discovered`: the path chosen by discovery (entry first, exactly --hops relays) when --relays is absent. */
export function parseConnectFlags(f: ConnectFlags, discovered?: RelaySpec[]): ConnectConfig {
  if (!f.relays && !discovered) throw new ConfigError('--relays FILE|LIST is required');
  const hops = parseHops(f.hops);
  const relays = discovered ?? loadRelays(f.relays!);
  const path = choosePath(relays, hops);
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
  if (f.lan !== undefined) cfg.lan = parseLan(f.lan, cfg.killSwitch);
  const transport = f.transport ?? 'udp';
  if (transport !== 'udp' && transport !== 'ws') throw new ConfigError(`--transport: "${transport}" must be udp or ws`);
  if (transport === 'ws') {
    if (f.wsUrl === undefined || !/^wss?:\/\/[^/\s]+/.test(f.wsUrl)) throw new ConfigError('--transport ws needs --ws-url ws://HOST:PORT or wss://HOST:PORT (the entry relay\'s --ws-listen)');
    // Routes keep only the entry's address out of the tunnel: the WebSocket must go to that host.
    if (new URL(f.wsUrl).hostname !== path[0]!.endpoint.host) throw new ConfigError(`--ws-url: host must be the entry relay's (${path[0]!.endpoint.host})`);
    cfg.ws = { url: f.wsUrl };
    if (f.wsCa !== undefined) cfg.ws.caFile = f.wsCa;
  } else if (f.wsUrl !== undefined || f.wsCa !== undefined) throw new ConfigError('--ws-url/--ws-ca need --transport ws');
  // Relays of the list outside the path (the exit, listed last, excepted) may replace a dead middle.
  const inPath = new Set(path.map((r) => Buffer.from(r.publicKey).toString('hex')));
  const spares = relays.slice(0, -1).filter((r) => !inPath.has(Buffer.from(r.publicKey).toString('hex')));
  if (spares.length > 0) cfg.spares = spares;
  const payments = parsePaymentFlags(f, path);
  if (payments) cfg.payments = payments;
  if (f.metrics !== undefined) {
    try {
      cfg.metrics = parseEndpoint(f.metrics, { allowZeroPort: true });
    } catch (err) {
      throw new ConfigError(`--metrics: ${(err as Error).message}`);
    }
  }
  return cfg;
}
