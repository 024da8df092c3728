/**
 * Starts topvpn relays and the client inside a Testnet, through their CLIs (the contract):
 *   node dist/relay/cli.js keygen --out FILE --json        → {"publicKey":hex}
 *   node dist/relay/cli.js start --listen HOST:PORT --key FILE [--exit …]
 *                                                          → {"event":"listening",…} on stdout
 *   node dist/client/cli.js connect --relays FILE --hops N --control PATH --tun NAME --json
 *                                                          → {"event":"up","address",…,"buildMs"}
 *   node dist/client/cli.js connect --bootstrap MADDR --chain-rpc URL … (no --relays: discovery)
 *                                                          → {"event":"progress","step":"discovery"|"path",…}, then "up"
 *   node dist/client/cli.js status|disconnect --control PATH --json
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distBin } from '../common/paths.js';
import type { ExecResult } from './netns.js';
import { parseJsonObject, type ExitStatus, type Proc } from './procs.js';
import type { Host, Testnet } from './testnet.js';
import { EXIT_POOL_CIDR, RELAY_PORT, TESTNET_CIDR } from './topology.js';

export class TopvpnError extends Error {
  override readonly name = 'TopvpnError';
}

export const RELAY_CLI = 'relay/cli';
export const CLIENT_CLI = 'client/cli';
/** The client's TUN device name in the testnet. */
export const CLIENT_TUN = 'tvc0';

/** True when both CLIs have been compiled. */
export function topvpnBuilt(): boolean {
  return existsSync(distBin(RELAY_CLI)) && existsSync(distBin(CLIENT_CLI));
}

export interface RelayNode {
  host: Host;
  /** "ip:port" the relay listens on. */
  endpoint: string;
  publicKey: string;
  keyFile: string;
  exit: boolean;
  proc: Proc;
  /** Paid relays: the chain address claims are paid to and the price (base units per GiB). */
  address?: string;
  pricePerGiB?: bigint;
}

/** One entry of the client's --relays file. */
export interface RelayEntry {
  endpoint: string;
  publicKey: string;
  address?: string;
  pricePerGiB?: bigint;
}

export interface UpEvent {
  address: string;
  hops: number;
  buildMs: number;
  [k: string]: unknown;
}

const node = process.execPath;

/** Generates a relay key file on `host`; returns the public key (hex). */
export async function keygen(net: Testnet, host: Host, file: string): Promise<string> {
  const r = await net.exec(host, [node, distBin(RELAY_CLI), 'keygen', '--out', file, '--json']);
  const line = r.stdout.trim().split('\n').map(parseJsonObject).find((o) => o && typeof o['publicKey'] === 'string');
  const pk = line?.['publicKey'];
  if (typeof pk !== 'string' || !/^[0-9a-f]{64}$/i.test(pk)) throw new TopvpnError(`keygen on ${host.name}: no publicKey in output: ${r.stdout.slice(0, 200)}`);
  return pk;
}

export interface RelayOptions {
  exit?: boolean;
  /** Extra CLI args appended to `start`. */
  extraArgs?: string[];
  timeoutMs?: number;
  /** Pre-made relay key file (X25519, `toprelay keygen`) and its public key; made here if absent. */
  key?: { file: string; publicKey: string };
  /** Paid relay: its chain address and price (the daemon gets them through extraArgs). */
  address?: string;
  pricePerGiB?: bigint;
}

/** argv of `relay start` for a host (the exit gets NAT to its eth0, pool and policy). */
export function relayStartArgs(host: Host, keyFile: string, exit: boolean): string[] {
  const args = ['start', '--listen', `${host.ip}:${RELAY_PORT}`, '--key', keyFile];
  if (exit) args.push('--exit', '--exit-pool', EXIT_POOL_CIDR, '--exit-allow', TESTNET_CIDR, '--egress', host.iface);
  return args;
}

export async function startRelay(net: Testnet, host: Host, opts: RelayOptions = {}): Promise<RelayNode> {
  const keyFile = opts.key?.file ?? join(net.dir, `${host.name}.key.json`);
  const publicKey = opts.key?.publicKey ?? (await keygen(net, host, keyFile));
  const exit = opts.exit ?? false;
  const proc = net.spawn(host, [node, distBin(RELAY_CLI), ...relayStartArgs(host, keyFile, exit), ...(opts.extraArgs ?? [])], {
    label: `${host.name}:relay`,
  });
  await proc.waitForEvent('listening', opts.timeoutMs ?? 20_000);
  const rn: RelayNode = { host, endpoint: `${host.ip}:${RELAY_PORT}`, publicKey, keyFile, exit, proc };
  if (opts.address !== undefined) rn.address = opts.address;
  if (opts.pricePerGiB !== undefined) rn.pricePerGiB = opts.pricePerGiB;
  return rn;
}

/**
 * Starts a relay on every relay host (in parallel); the last one (host "exit") is the exit.
 * `each(host, i)` adds per-relay options (e.g. the payment flags of paid relays).
 */
export async function startRelays(net: Testnet, opts: { timeoutMs?: number; each?: (host: Host, i: number) => RelayOptions } = {}): Promise<RelayNode[]> {
  const hosts = net.relays;
  return Promise.all(hosts.map((h, i) => startRelay(net, h, { ...(opts.each?.(h, i) ?? {}), exit: i === hosts.length - 1, timeoutMs: opts.timeoutMs })));
}

/** The relays of a `hops`-long circuit, entry first, ending at the exit relay. */
export function circuitPath(relays: readonly RelayNode[], hops: number): RelayNode[] {
  const exit = relays.find((r) => r.exit);
  if (!exit) throw new TopvpnError('no exit relay');
  const others = relays.filter((r) => !r.exit);
  if (!Number.isInteger(hops) || hops < 1 || hops > others.length + 1) throw new TopvpnError(`hops must be 1..${others.length + 1}`);
  return [...others.slice(0, hops - 1), exit];
}

/** Writes a --relays file for `path` (entry first); returns its path. */
export function writeRelayList(net: Testnet, path: readonly RelayEntry[], name = `relays-${path.length}.json`): string {
  const file = join(net.dir, name);
  const entry = (r: RelayEntry): Record<string, string> => ({
    endpoint: r.endpoint,
    publicKey: r.publicKey,
    ...(r.address !== undefined ? { address: r.address } : {}),
    ...(r.pricePerGiB !== undefined ? { pricePerGiB: r.pricePerGiB.toString() } : {}),
  });
  writeFileSync(file, JSON.stringify(path.map(entry), null, 2));
  return file;
}

export interface ClientOptions {
  hops: number;
  tun?: string;
  /**
   * Control socket (default `<net.dir>/client.sock`, the same for every session of a testnet,
   * as a user's default path is: the client keeps its crash-recovery state next to it).
   */
  control?: string;
  /** Extra CLI args appended to `connect`. */
  extraArgs?: string[];
  timeoutMs?: number;
}

export class ClientSession {
  constructor(
    private readonly net: Testnet,
    readonly proc: Proc,
    readonly up: UpEvent,
    readonly control: string,
    readonly tun: string,
  ) {}

  /** `client status --json`, parsed. */
  async status(): Promise<Record<string, unknown>> {
    const r = await this.cli('status');
    const obj = lastJson(r.stdout);
    if (!obj) throw new TopvpnError(`status: no JSON (code ${r.code}): ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 200)}`);
    return obj;
  }

  /** `client disconnect --json`, then waits for the connect process to exit. */
  async disconnect(timeoutMs = 10_000): Promise<{ result: ExecResult; exit: ExitStatus }> {
    const result = await this.cli('disconnect');
    const timer = setTimeout(() => this.proc.signal('SIGKILL'), timeoutMs);
    const exit = await this.proc.exited;
    clearTimeout(timer);
    return { result, exit };
  }

  private cli(cmd: 'status' | 'disconnect'): Promise<ExecResult> {
    return this.net.exec(this.net.client, [node, distBin(CLIENT_CLI), cmd, '--control', this.control, '--json'], { allowFail: true, timeoutMs: 15_000 });
  }
}

let sessionSeq = 0;

/** Runs `client connect` in the client namespace and waits for its "up" event. */
export async function connectClient(net: Testnet, relays: readonly RelayNode[], opts: ClientOptions): Promise<ClientSession> {
  const path = circuitPath(relays, opts.hops);
  const list = writeRelayList(net, path, `relays-${++sessionSeq}.json`);
  return spawnConnect(net, ['--relays', list], opts);
}

/**
 * Runs `client connect` without --relays: the client finds the relays itself (opts.extraArgs
 * must carry --bootstrap, --chain-rpc and the wallet flags) and picks its own path.
 */
export async function connectDiscovered(net: Testnet, opts: ClientOptions): Promise<ClientSession> {
  const extra = opts.extraArgs ?? [];
  if (extra.includes('--relays')) throw new TopvpnError('connectDiscovered: --relays given');
  if (!extra.includes('--bootstrap')) throw new TopvpnError('connectDiscovered: --bootstrap missing');
  return spawnConnect(net, [], opts);
}

async function spawnConnect(net: Testnet, relayArgs: string[], opts: ClientOptions): Promise<ClientSession> {
  const control = opts.control ?? join(net.dir, 'client.sock');
  const tun = opts.tun ?? CLIENT_TUN;
  const proc = net.spawn(
    net.client,
    [node, distBin(CLIENT_CLI), 'connect', ...relayArgs, '--hops', String(opts.hops), '--control', control, '--tun', tun, '--json', ...(opts.extraArgs ?? [])],
    { label: 'client:connect' },
  );
  const ev = await proc.waitForEvent('up', opts.timeoutMs ?? 30_000);
  const up = ev as UpEvent;
  if (typeof up.buildMs !== 'number' || typeof up.address !== 'string') throw new TopvpnError(`client up event lacks buildMs/address: ${JSON.stringify(ev)}`);
  return new ClientSession(net, proc, up, control, tun);
}

/** One hop of a discovered connect's `path` progress event (client/README.md). */
export interface DiscoveredHop {
  role: string;
  address: string;
  operator: string;
  country: string;
  pricePerGiB: string;
  endpoint: string;
}

export interface DiscoveryReport {
  /** Usable relays the client's directory held after syncing with its bootstrap peers. */
  relays: number;
  peers: number;
  path: DiscoveredHop[];
}

/**
 * What a discovered connect printed (its `discovery` "synced" and `path` progress events);
 * undefined when the session was started from a --relays list.
 */
export function discoveryReport(proc: Proc): DiscoveryReport | undefined {
  const events = proc.lines('stdout').map(parseJsonObject);
  const synced = events.find((o) => o?.['event'] === 'progress' && o['step'] === 'discovery' && o['phase'] === 'synced');
  const path = events.find((o) => o?.['event'] === 'progress' && o['step'] === 'path');
  if (!synced || !path || !Array.isArray(path['path'])) return undefined;
  return { relays: Number(synced['relays']), peers: Number(synced['peers']), path: path['path'] as DiscoveredHop[] };
}

function lastJson(out: string): Record<string, unknown> | undefined {
  const lines = out.trim().split('\n').reverse();
  for (const l of lines) {
    const o = parseJsonObject(l);
    if (o) return o;
  }
  return undefined;
}
