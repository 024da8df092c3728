/**
 * `toprelay start` configuration: validated from the CLI's raw flag values. Pure (no IO);
 * every problem is a ConfigError whose message names the flag.
 */
import { isCountryCode } from '../protocol/descriptor-countries.js';
import { AddressError, type Cidr, type Endpoint, formatCidr, isIpv4, parseCidr, parseEndpoint } from './addr.js';

export const DEFAULT_EXIT_POOL = '198.19.0.0/16';
export const DEFAULT_EXIT_TUN = 'tvx0';
export const DEFAULT_NFT_TABLE = 'topvpn_exit';

export interface ExitConfig {
  /** Inner addresses handed to clients; the exit's TUN takes the first host address. */
  pool: Cidr;
  /** Extra destination networks the exit policy allows (local/private ranges are refused by default). */
  allow: Cidr[];
  /** Interface that masqueraded traffic leaves by; undefined = any interface but the TUN. */
  egress?: string;
  /** Resolver announced to clients in EXIT_OPENED. */
  dns?: string;
  tun: string;
  nftTable: string;
  /** Tor-like policy file replacing the default policy (and --exit-allow). */
  policyFile?: string;
}

export interface RelayConfig {
  listen: Endpoint;
  keyFile: string;
  exit?: ExitConfig;
  pretty: boolean;
  json: boolean;
  logLevel?: string;
  /** Seconds between stats log lines; 0 = never. */
  statsIntervalSec: number;
  /** Prometheus scrape endpoint (GET /metrics); undefined = none. */
  metrics?: Endpoint;
  /** Operator-declared region label for metrics. */
  region?: string;
  /** WebSocket listener for clients (--ws-listen; wss:// with --ws-cert and --ws-key, PEM files). */
  ws?: { listen: Endpoint; certFile?: string; keyFile?: string };
  /** Paid relaying (--chain-rpc): circuits must bind a payment channel; receipts are claimed on chain. */
  payments?: RelayPaymentFlags;
  /** Publish a signed descriptor over libp2p (--p2p-listen); needs paid relaying (the chain and the node key). */
  discovery?: RelayDiscoveryFlags;
}

export interface RelayDiscoveryFlags {
  /** libp2p listen multiaddrs, e.g. /ip4/0.0.0.0/tcp/4001. */
  listen: string[];
  /** Multiaddrs to announce instead of the listen addresses. */
  announce?: string[];
  /** Discovery peers to dial and keep dialing (each ends in /p2p/<peer id>). */
  bootstrap: string[];
  /** Persistent libp2p identity (0600, created if absent); absent = a new peer id every start. */
  peerKeyFile?: string;
  /** ISO 3166-1 alpha-2 country, upper case (the descriptor's region). */
  country: string;
  /** Operator account (64 hex); default the relay's node address. */
  operator?: string;
  /** Other node addresses of the same operator (64 hex each). */
  family: string[];
  /** Advertised bandwidth, bit/s. */
  bandwidthBps: number;
  /** Advertised UDP endpoint; default the bound listen address (which must then not be 0.0.0.0). */
  advertise?: Endpoint;
  /** Descriptor lifetime and refresh interval, ms (refresh < lifetime). */
  lifetimeMs: number;
  refreshMs: number;
}

export const DEFAULT_BANDWIDTH_MBIT = 100;
export const DEFAULT_DESCRIPTOR_LIFETIME_SEC = 30 * 60;
export const DEFAULT_DESCRIPTOR_REFRESH_SEC = 10 * 60;

export interface RelayPaymentFlags {
  rpcUrl: string;
  /** The relay's chain key file (chain/node/keys.ts format): signs claims; its address is paid. */
  nodeKeyFile: string;
  /** Base units per GiB. */
  pricePerGiB: bigint;
  /** Claim tx fee in base units (default: the chain's minimum fee). */
  claimFee?: bigint;
}

/** The raw commander option bag of `toprelay start`. */
export interface RelayStartFlags {
  listen?: string;
  key?: string;
  exit?: boolean;
  exitPool?: string;
  exitAllow?: string;
  egress?: string;
  dns?: string;
  tun?: string;
  nftTable?: string;
  exitPolicy?: string;
  pretty?: boolean;
  json?: boolean;
  logLevel?: string;
  statsInterval?: string;
  metrics?: string;
  region?: string;
  wsListen?: string;
  wsCert?: string;
  wsKey?: string;
  chainRpc?: string;
  nodeKey?: string;
  pricePerGib?: string;
  claimFee?: string;
  p2pListen?: string;
  p2pAnnounce?: string;
  bootstrap?: string;
  peerKey?: string;
  country?: string;
  operator?: string;
  family?: string;
  bandwidth?: string;
  advertise?: string;
  descriptorLifetime?: string;
  descriptorRefresh?: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const NFT_NAME_RE = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;

function flag<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AddressError) throw new ConfigError(`--${name}: ${err.message}`);
    throw err;
  }
}

export function checkIfName(flagName: string, v: string): string {
  if (!IFNAME_RE.test(v)) throw new ConfigError(`--${flagName}: "${v}" is not a valid interface name (1-15 chars of A-Z a-z 0-9 _ . -)`);
  return v;
}

const BASE_UNITS_RE = /^\d{1,30}$/;

/** --chain-rpc must be an http(s) URL; shared by `toprelay start` and `topvpn connect`. */
export function checkChainRpcUrl(raw: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`--chain-rpc: "${raw}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`--chain-rpc: "${raw}" must be http(s)://HOST:PORT`);
}

/** --chain-rpc URL --node-key FILE --price-per-gib N [--claim-fee N]: the first three together or none. */
export function parseRelayPaymentFlags(f: RelayStartFlags): RelayPaymentFlags | undefined {
  const given = [f.chainRpc, f.nodeKey, f.pricePerGib].filter((v) => v !== undefined).length;
  if (given === 0) {
    if (f.claimFee !== undefined) throw new ConfigError('--claim-fee only makes sense with --chain-rpc');
    return undefined;
  }
  if (given !== 3) throw new ConfigError('paid relaying needs --chain-rpc URL, --node-key FILE and --price-per-gib N together');
  checkChainRpcUrl(f.chainRpc!);
  if (!BASE_UNITS_RE.test(f.pricePerGib!)) throw new ConfigError(`--price-per-gib: "${f.pricePerGib}" must be a whole number of base units`);
  const out: RelayPaymentFlags = { rpcUrl: f.chainRpc!, nodeKeyFile: f.nodeKey!, pricePerGiB: BigInt(f.pricePerGib!) };
  if (f.claimFee !== undefined) {
    if (!BASE_UNITS_RE.test(f.claimFee)) throw new ConfigError(`--claim-fee: "${f.claimFee}" must be a whole number of base units`);
    out.claimFee = BigInt(f.claimFee);
  }
  return out;
}

const HEX32_RE = /^[0-9a-f]{64}$/;
const COUNTRY_RE = /^[A-Z]{2}$/;

function list(v: string | undefined): string[] {
  return (v ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

function seconds(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d{1,6}$/.test(v) || Number(v) === 0) throw new ConfigError(`--${name}: "${v}" must be a positive whole number of seconds`);
  return Number(v);
}

/**
 * --p2p-listen MULTIADDR[,..] [--p2p-announce ..] [--bootstrap ..] [--peer-key FILE] --country CC
 * [--operator HEX] [--family HEX,..] [--bandwidth MBIT] [--advertise HOST:PORT]
 * [--descriptor-lifetime SEC] [--descriptor-refresh SEC]: discovery is on with --p2p-listen,
 * and then needs paid relaying (a descriptor is signed by the chain key and carries the price).
 */
export function parseRelayDiscoveryFlags(f: RelayStartFlags, paid: boolean): RelayDiscoveryFlags | undefined {
  const dependents = ['p2pAnnounce', 'bootstrap', 'country', 'operator', 'family', 'bandwidth', 'advertise', 'descriptorLifetime', 'descriptorRefresh'] as const;
  if (f.p2pListen === undefined) {
    const stray = dependents.filter((k) => f[k] !== undefined);
    if (stray.length > 0) throw new ConfigError(`${stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} only make sense with --p2p-listen (discovery)`);
    return undefined;
  }
  if (!paid) throw new ConfigError('--p2p-listen (discovery) needs paid relaying: --chain-rpc, --node-key and --price-per-gib (clients only use staked relays)');
  const listen = list(f.p2pListen);
  if (listen.length === 0 || listen.some((a) => !a.startsWith('/'))) throw new ConfigError(`--p2p-listen: "${f.p2pListen}" must be multiaddrs like /ip4/0.0.0.0/tcp/4001`);
  const bootstrap = list(f.bootstrap);
  for (const b of bootstrap) if (!b.startsWith('/') || !b.includes('/p2p/')) throw new ConfigError(`--bootstrap: ${b} must be a multiaddr ending in /p2p/<peer id>`);
  if (f.country === undefined) throw new ConfigError('--p2p-listen needs --country CC (ISO 3166-1 alpha-2, where the relay exits)');
  const country = f.country.toUpperCase();
  if (!COUNTRY_RE.test(country) || !isCountryCode(country)) throw new ConfigError(`--country: "${f.country}" is not a 2-letter country code`);
  if (f.operator !== undefined && !HEX32_RE.test(f.operator)) throw new ConfigError(`--operator: "${f.operator}" must be an account address (64 lowercase hex)`);
  const family = list(f.family);
  for (const a of family) if (!HEX32_RE.test(a)) throw new ConfigError(`--family: "${a}" must be a node address (64 lowercase hex)`);
  let bandwidthBps = DEFAULT_BANDWIDTH_MBIT * 1e6;
  if (f.bandwidth !== undefined) {
    const mbit = Number(f.bandwidth);
    if (!/^\d+(\.\d+)?$/.test(f.bandwidth) || !(mbit > 0) || mbit * 1e6 > 1e13) throw new ConfigError(`--bandwidth: "${f.bandwidth}" must be Mbit/s, above 0 and at most 10^7`);
    bandwidthBps = Math.max(1, Math.round(mbit * 1e6));
  }
  const lifetimeMs = seconds('descriptor-lifetime', f.descriptorLifetime, DEFAULT_DESCRIPTOR_LIFETIME_SEC) * 1000;
  if (lifetimeMs > 24 * 3600_000) throw new ConfigError('--descriptor-lifetime: at most 86400 seconds');
  const refreshMs = seconds('descriptor-refresh', f.descriptorRefresh, Math.max(1, Math.min(DEFAULT_DESCRIPTOR_REFRESH_SEC, Math.floor(lifetimeMs / 3000)))) * 1000;
  if (refreshMs >= lifetimeMs) throw new ConfigError('--descriptor-refresh must be shorter than --descriptor-lifetime');
  const out: RelayDiscoveryFlags = { listen, bootstrap, country, family, bandwidthBps, lifetimeMs, refreshMs };
  const announce = list(f.p2pAnnounce);
  if (announce.length > 0) out.announce = announce;
  if (f.peerKey !== undefined) out.peerKeyFile = f.peerKey;
  if (f.operator !== undefined) out.operator = f.operator;
  if (f.advertise !== undefined) {
    out.advertise = flag('advertise', () => parseEndpoint(f.advertise!));
    if (out.advertise.host === '0.0.0.0') throw new ConfigError('--advertise: give the address clients dial, not 0.0.0.0');
  }
  return out;
}

export function parseRelayStartFlags(f: RelayStartFlags): RelayConfig {
  if (!f.listen) throw new ConfigError('--listen HOST:PORT is required');
  if (!f.key) throw new ConfigError('--key FILE is required');
  const listen = flag('listen', () => parseEndpoint(f.listen!, { allowZeroPort: true }));
  const exitOnly = ['exitPool', 'exitAllow', 'exitPolicy', 'egress', 'dns', 'tun', 'nftTable'] as const;
  let statsIntervalSec = 60;
  if (f.statsInterval !== undefined) {
    if (!/^\d+$/.test(f.statsInterval)) throw new ConfigError(`--stats-interval: "${f.statsInterval}" is not a whole number of seconds`);
    statsIntervalSec = Number(f.statsInterval);
  }
  const cfg: RelayConfig = { listen, keyFile: f.key, pretty: f.pretty === true, json: f.json === true, statsIntervalSec };
  if (f.metrics !== undefined) cfg.metrics = flag('metrics', () => parseEndpoint(f.metrics!, { allowZeroPort: true }));
  if (f.wsListen !== undefined) {
    cfg.ws = { listen: flag('ws-listen', () => parseEndpoint(f.wsListen!, { allowZeroPort: true })) };
    if ((f.wsCert === undefined) !== (f.wsKey === undefined)) throw new ConfigError('--ws-cert and --ws-key go together');
    if (f.wsCert !== undefined) cfg.ws.certFile = f.wsCert;
    if (f.wsKey !== undefined) cfg.ws.keyFile = f.wsKey;
  } else if (f.wsCert !== undefined || f.wsKey !== undefined) throw new ConfigError('--ws-cert/--ws-key need --ws-listen HOST:PORT');
  if (f.region !== undefined) {
    if (!/^[a-z0-9-]{1,32}$/.test(f.region)) throw new ConfigError(`--region: "${f.region}" must be 1-32 chars of a-z 0-9 -`);
    cfg.region = f.region;
  }
  const payments = parseRelayPaymentFlags(f);
  if (payments) cfg.payments = payments;
  const discovery = parseRelayDiscoveryFlags(f, payments !== undefined);
  if (discovery) cfg.discovery = discovery;
  if (f.logLevel !== undefined) {
    if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(f.logLevel)) throw new ConfigError(`--log-level: unknown level "${f.logLevel}"`);
    cfg.logLevel = f.logLevel;
  }
  if (!f.exit) {
    const stray = exitOnly.filter((k) => f[k] !== undefined);
    if (stray.length > 0) {
      const names = stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      throw new ConfigError(`${names.join(', ')} only make sense with --exit`);
    }
    return cfg;
  }
  const pool = flag('exit-pool', () => parseCidr(f.exitPool ?? DEFAULT_EXIT_POOL));
  if (pool.prefixLen > 30) throw new ConfigError(`--exit-pool: ${formatCidr(pool)} is too small (need at least a /30)`);
  const allow = f.exitAllow
    ? flag('exit-allow', () =>
        f.exitAllow!
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0)
          .map((s) => parseCidr(s)),
      )
    : [];
  if (f.exitAllow !== undefined && allow.length === 0) throw new ConfigError('--exit-allow: expected CIDR[,CIDR...]');
  if (f.dns !== undefined && !isIpv4(f.dns)) throw new ConfigError(`--dns: "${f.dns}" is not an IPv4 address`);
  const exit: ExitConfig = {
    pool,
    allow,
    tun: checkIfName('tun', f.tun ?? DEFAULT_EXIT_TUN),
    nftTable: f.nftTable ?? DEFAULT_NFT_TABLE,
  };
  if (!NFT_NAME_RE.test(exit.nftTable)) throw new ConfigError(`--nft-table: "${exit.nftTable}" is not a valid nftables table name`);
  if (f.egress !== undefined) exit.egress = checkIfName('egress', f.egress);
  if (exit.egress !== undefined && exit.egress === exit.tun) throw new ConfigError('--egress must differ from --tun');
  if (f.dns !== undefined) exit.dns = f.dns;
  if (f.exitPolicy !== undefined) {
    if (f.exitAllow !== undefined) throw new ConfigError('--exit-allow and --exit-policy exclude each other (put accept rules in the policy file)');
    exit.policyFile = f.exitPolicy;
  }
  cfg.exit = exit;
  return cfg;
}
