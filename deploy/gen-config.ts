/**
 * The one source of truth for running topvpn for real: which chain nodes and relays exist,
 * where they listen and with which roles and flags. `deploy/generate.ts` renders every
 * deployment artefact (systemd units, Dockerfile, compose file, Kubernetes manifests,
 * Prometheus config) from a `DeployConfig`, so they cannot drift from each other.
 *
 * `DEFAULT_DEPLOY_CONFIG` is what the committed files under deploy/{systemd,docker,k8s,
 * prometheus} are generated from; an operator passes their own JSON file of the same shape
 * (`node dist/deploy/generate.js --config my.json --out DIR`).
 */

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

/** A chain node (`topchain start`). */
export interface ValidatorSpec {
  /** [a-z][a-z0-9-]* — unit name suffix, container/pod name, data dir name. */
  readonly name: string;
  /** Address the other nodes and Prometheus reach it at (IP or DNS name) on real servers. */
  readonly host: string;
  /** libp2p TCP port. */
  readonly p2pPort: number;
  /** JSON-RPC port; the node also serves Prometheus `/metrics` on it. */
  readonly rpcPort: number;
  /** 'validator' proposes and executes one shard; 'auditor' audits every shard and sits in the beacon committee. */
  readonly role: 'validator' | 'auditor';
  /** Shard index, for role 'validator' only. */
  readonly shard?: number;
}

export interface ExitSpec {
  /** Inner addresses handed to clients (`--exit-pool`). */
  readonly pool: string;
  /** Extra destination networks the exit policy allows (`--exit-allow`). */
  readonly allow?: readonly string[];
  /** Interface NAT masquerades out of (`--egress`). */
  readonly egress?: string;
  /** DNS resolver announced to clients (`--dns`). */
  readonly dns?: string;
  /** TUN name (`--tun`). */
  readonly tun?: string;
}

/** A relay (`toprelay start`). Only exits need CAP_NET_ADMIN and /dev/net/tun. */
export interface RelaySpec {
  readonly name: string;
  readonly host: string;
  /** UDP port of `--listen`. */
  readonly port: number;
  /** Port of `--metrics` (Prometheus /metrics). */
  readonly metricsPort: number;
  readonly region?: string;
  readonly exit?: ExitSpec;
  /** Further `toprelay start` flags, appended verbatim. */
  readonly extraArgs?: readonly string[];
}

export interface DeployConfig {
  readonly chainId: string;
  readonly shards: number;
  /** Container image name:tag the Dockerfile builds and compose/k8s run. */
  readonly image: string;
  /** Where the built repository lives on a server (systemd). */
  readonly installDir: string;
  /** Node.js binary on a server (systemd). */
  readonly nodeBin: string;
  /** System user the daemons run as (systemd; created by the sysusers.d file). */
  readonly user: string;
  /** Parent of each daemon's state dir on a server: `<dataRoot>/<name>`. */
  readonly dataRoot: string;
  /** Config dir on a server (genesis.json). */
  readonly configRoot: string;
  readonly logLevel: string;
  readonly validators: readonly ValidatorSpec[];
  readonly relays: readonly RelaySpec[];
  readonly prometheus: { readonly port: number; readonly scrapeInterval: string; readonly image: string };
  readonly grafana: { readonly port: number; readonly image: string };
  /** Compose bridge network with fixed addresses (nodes dial each other by address). */
  readonly compose: { readonly subnet: string };
  readonly k8s: { readonly namespace: string; readonly storageSize: string; readonly storageClass?: string };
}

export const RELAY_METRICS_PORT = 9101;
export const CLIENT_METRICS_PORT = 9102;
export const CHAIN_RPC_PORT = 8645;
export const CHAIN_P2P_PORT = 31000;
export const RELAY_UDP_PORT = 51820;

function validator(i: number, role: 'validator' | 'auditor', shard?: number): ValidatorSpec {
  const name = role === 'validator' ? `val-${shard ?? 0}-${i}` : `aud-${i}`;
  return { name, host: `${name}.topvpn.example`, p2pPort: CHAIN_P2P_PORT, rpcPort: CHAIN_RPC_PORT, role, ...(role === 'validator' ? { shard: shard ?? 0 } : {}) };
}

/** A demo network: 1 shard with a validator group of 4, an auditor group (= beacon) of 4, an entry, a middle and an exit relay. */
export const DEFAULT_DEPLOY_CONFIG: DeployConfig = {
  chainId: 'topvpn-mainnet-demo',
  shards: 1,
  image: 'topvpn:0.1.0',
  installDir: '/opt/topvpn',
  nodeBin: '/usr/bin/node',
  user: 'topvpn',
  dataRoot: '/var/lib/topvpn',
  configRoot: '/etc/topvpn',
  logLevel: 'info',
  validators: [0, 1, 2, 3].map((i) => validator(i, 'validator', 0)).concat([0, 1, 2, 3].map((i) => validator(i, 'auditor'))),
  relays: [
    { name: 'relay-entry', host: 'relay-entry.topvpn.example', port: RELAY_UDP_PORT, metricsPort: RELAY_METRICS_PORT, region: 'eu' },
    { name: 'relay-middle', host: 'relay-middle.topvpn.example', port: RELAY_UDP_PORT, metricsPort: RELAY_METRICS_PORT, region: 'eu' },
    {
      name: 'relay-exit',
      host: 'relay-exit.topvpn.example',
      port: RELAY_UDP_PORT,
      metricsPort: RELAY_METRICS_PORT,
      region: 'eu',
      exit: { pool: '10.77.0.0/16', egress: 'eth0', dns: '9.9.9.9', tun: 'tvx0' },
    },
  ],
  prometheus: { port: 9090, scrapeInterval: '15s', image: 'prom/prometheus:v2.53.0' },
  grafana: { port: 3000, image: 'grafana/grafana:11.1.0' },
  compose: { subnet: '172.28.0.0/24' },
  k8s: { namespace: 'topvpn', storageSize: '10Gi' },
};

const NAME = /^[a-z][a-z0-9-]{0,40}$/;
const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;
const DURATION = /^[0-9]+(ms|s|m|h)$/;
/** A value for an error message (a JSON object may have no usable toString, e.g. {"toString":null}). */
const show = (v: unknown): string => (typeof v === 'object' && v !== null ? (Array.isArray(v) ? 'a list' : 'an object') : String(v));

function port(p: unknown, what: string): void {
  if (!Number.isInteger(p) || (p as number) < 1 || (p as number) > 65535) throw new DeployConfigError(`${what}: port must be 1..65535, got ${show(p)}`);
}

function cidr(c: unknown, what: string): void {
  const m = typeof c === 'string' ? CIDR4.exec(c) : null;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) throw new DeployConfigError(`${what}: not an IPv4 CIDR: ${show(c)}`);
}

/** The committees a config implies, keyed like genesis: 'shard-N' → validator names; auditors → all auditor names. */
export function committeesOf(cfg: DeployConfig): { shards: string[][]; auditors: string[] } {
  const shards = Array.from({ length: cfg.shards }, (_, s) => cfg.validators.filter((v) => v.role === 'validator' && v.shard === s).map((v) => v.name));
  const auditors = cfg.validators.filter((v) => v.role === 'auditor').map((v) => v.name);
  return { shards, auditors };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Most shards a config may ask for (each needs its own validators). */
export const MAX_SHARDS = 64;

/** The JSON shape validateDeployConfig relies on (a config file may hold any JSON value). */
function checkShape(cfg: unknown): void {
  if (!isObj(cfg)) throw new DeployConfigError('config: not a JSON object');
  for (const k of ['prometheus', 'grafana', 'compose', 'k8s'] as const) if (!isObj(cfg[k])) throw new DeployConfigError(`${k}: object required`);
  for (const k of ['validators', 'relays'] as const) {
    const list = cfg[k];
    if (!Array.isArray(list) || !list.every(isObj)) throw new DeployConfigError(`${k}: list of objects required`);
  }
  for (const r of cfg.relays as unknown[]) {
    const o = r as Record<string, unknown>;
    if (o.exit !== undefined && !isObj(o.exit)) throw new DeployConfigError(`${show(o.name)}: exit must be an object`);
    if (isObj(o.exit) && o.exit.allow !== undefined && !Array.isArray(o.exit.allow)) throw new DeployConfigError(`${show(o.name)}: exit.allow must be a list`);
    if (o.extraArgs !== undefined && !Array.isArray(o.extraArgs)) throw new DeployConfigError(`${show(o.name)}: extraArgs must be a list`);
    const exit = isObj(o.exit) ? o.exit : {};
    for (const [k, v] of [['region', o.region], ['exit.egress', exit.egress], ['exit.tun', exit.tun], ['exit.dns', exit.dns]] as const) {
      if (v !== undefined && typeof v !== 'string') throw new DeployConfigError(`${show(o.name)}: ${k} must be a string`);
    }
  }
  for (const n of [...(cfg.validators as Array<Record<string, unknown>>), ...(cfg.relays as Array<Record<string, unknown>>)]) {
    if (typeof n.name !== 'string' || typeof n.host !== 'string') throw new DeployConfigError(`${show(n.name)}: name and host must be strings`);
  }
  const prometheus = cfg.prometheus as Record<string, unknown>;
  const k8s = cfg.k8s as Record<string, unknown>;
  for (const [k, v] of [['image', cfg.image], ['logLevel', cfg.logLevel], ['user', cfg.user], ['prometheus.scrapeInterval', prometheus.scrapeInterval], ['k8s.namespace', k8s.namespace], ['k8s.storageSize', k8s.storageSize]] as const) {
    if (typeof v !== 'string') throw new DeployConfigError(`${k}: string required`);
  }
}

/** Throws DeployConfigError on the first inconsistency; returns the config unchanged. */
export function validateDeployConfig(cfg: DeployConfig): DeployConfig {
  checkShape(cfg);
  if (typeof cfg.chainId !== 'string' || !/^[A-Za-z0-9._-]+$/.test(cfg.chainId)) throw new DeployConfigError('chainId: letters, digits, . _ - only');
  if (!Number.isInteger(cfg.shards) || cfg.shards < 1 || cfg.shards > MAX_SHARDS) throw new DeployConfigError(`shards must be an integer in 1..${MAX_SHARDS}`);
  for (const [k, v] of [['installDir', cfg.installDir], ['nodeBin', cfg.nodeBin], ['dataRoot', cfg.dataRoot], ['configRoot', cfg.configRoot]] as const) {
    if (typeof v !== 'string' || !v.startsWith('/') || /\s/.test(v)) throw new DeployConfigError(`${k}: absolute path without spaces required`);
  }
  if (!NAME.test(cfg.user)) throw new DeployConfigError(`user: bad name ${cfg.user}`);
  if (!DURATION.test(cfg.prometheus.scrapeInterval)) throw new DeployConfigError(`prometheus.scrapeInterval: bad duration ${cfg.prometheus.scrapeInterval}`);
  port(cfg.prometheus.port, 'prometheus');
  port(cfg.grafana.port, 'grafana');
  cidr(cfg.compose.subnet, 'compose.subnet');
  if (!NAME.test(cfg.k8s.namespace)) throw new DeployConfigError(`k8s.namespace: bad name ${cfg.k8s.namespace}`);
  const names = new Set<string>();
  const all = [...cfg.validators, ...cfg.relays];
  for (const n of all) {
    if (!NAME.test(n.name)) throw new DeployConfigError(`bad name "${n.name}": [a-z][a-z0-9-]*, ≤ 41 chars`);
    if (names.has(n.name)) throw new DeployConfigError(`duplicate name "${n.name}"`);
    names.add(n.name);
    if (typeof n.host !== 'string' || !/^[A-Za-z0-9.-]+$/.test(n.host)) throw new DeployConfigError(`${n.name}: bad host ${String(n.host)}`);
  }
  if (names.size + 3 > 250) throw new DeployConfigError('too many nodes for one compose subnet');
  for (const v of cfg.validators) {
    port(v.p2pPort, `${v.name}.p2pPort`);
    port(v.rpcPort, `${v.name}.rpcPort`);
    if (v.p2pPort === v.rpcPort) throw new DeployConfigError(`${v.name}: p2pPort and rpcPort must differ`);
    if (v.role === 'validator') {
      if (!Number.isInteger(v.shard) || (v.shard as number) < 0 || (v.shard as number) >= cfg.shards) throw new DeployConfigError(`${v.name}: shard must be 0..${cfg.shards - 1}`);
    } else if (v.role === 'auditor') {
      if (v.shard !== undefined) throw new DeployConfigError(`${v.name}: an auditor has no shard`);
    } else throw new DeployConfigError(`${v.name}: role must be validator or auditor`);
  }
  const { shards, auditors } = committeesOf(cfg);
  shards.forEach((g, s) => {
    if (g.length < 1) throw new DeployConfigError(`shard-${s} has no validators`);
  });
  if (auditors.length < 1) throw new DeployConfigError('at least one auditor (the beacon committee) is required');
  for (const r of cfg.relays) {
    port(r.port, `${r.name}.port`);
    port(r.metricsPort, `${r.name}.metricsPort`);
    if (r.region !== undefined && !/^[a-z0-9-]+$/.test(r.region)) throw new DeployConfigError(`${r.name}: bad region`);
    if (r.exit) {
      cidr(r.exit.pool, `${r.name}.exit.pool`);
      for (const a of r.exit.allow ?? []) cidr(a, `${r.name}.exit.allow`);
      if (r.exit.egress !== undefined && !IFACE.test(r.exit.egress)) throw new DeployConfigError(`${r.name}: bad egress interface`);
      if (r.exit.tun !== undefined && !IFACE.test(r.exit.tun)) throw new DeployConfigError(`${r.name}: bad tun name`);
      if (r.exit.dns !== undefined && !/^[0-9a-fA-F.:]+$/.test(r.exit.dns)) throw new DeployConfigError(`${r.name}: bad dns address`);
    }
    for (const a of r.extraArgs ?? []) if (typeof a !== 'string' || /[\n\r]/.test(a)) throw new DeployConfigError(`${r.name}: bad extra arg`);
  }
  return cfg;
}

/** `toprelay start` argv (after the script path) for a relay listening on `listenHost`. */
export function relayArgs(r: RelaySpec, keyFile: string, listenHost: string, logLevel: string): string[] {
  const args = ['start', '--listen', `${listenHost}:${r.port}`, '--key', keyFile, '--metrics', `${listenHost}:${r.metricsPort}`, '--log-level', logLevel];
  if (r.exit) {
    args.push('--exit', '--exit-pool', r.exit.pool);
    if (r.exit.allow && r.exit.allow.length > 0) args.push('--exit-allow', r.exit.allow.join(','));
    if (r.exit.egress) args.push('--egress', r.exit.egress);
    if (r.exit.dns) args.push('--dns', r.exit.dns);
    if (r.exit.tun) args.push('--tun', r.exit.tun);
  }
  return [...args, ...(r.extraArgs ?? [])];
}
