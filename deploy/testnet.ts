/**
 * The local multi-host testnet: one network namespace per host, all joined through one
 * bridge that lives in its own switch namespace. Nothing is created in the root namespace
 * except the named namespaces themselves (`ip netns add/del`); veth pairs are created
 * inside the switch namespace with their other end moved straight into the host's.
 *
 *                              <prefix>-sw   (bridge br0, no address)
 *        ┌─────────────┬─────────────┼─────────────┬─────────────┐
 *     v-client      v-entry       v-middle       v-exit        v-inet      veth ends in -sw
 *        │             │             │             │             │
 *      eth0          eth0          eth0          eth0          eth0        veth ends in hosts
 *   <p>-client    <p>-entry     <p>-middle    <p>-exit      <p>-inet
 *   .10/32        .11/24        .12/24        .13/24        .100/24      198.18.0.x
 *   default dev   relay         relay         relay +exit   HTTP :80
 *   eth0          :51820/udp    :51820/udp    NAT → eth0    iperf3 -s :5201
 *
 * Relays: n = 1 → exit; 2 → entry, exit; 3 → entry, middle, exit; more → middle1..k
 * (addresses .11 upwards, the exit always last). The client holds a /32 with an on-link
 * default route, as behind a home router: without a connected /24 nothing but the VPN's
 * own routes decides where traffic to inet goes, so a VPN that forgets to route something
 * leaks it visibly (and the client must keep its path to the entry relay itself).
 * IPv6 is disabled in every host so captures hold only the traffic under test.
 * /etc/netns/<prefix>-client/resolv.conf is created (bind-mounted over /etc/resolv.conf by
 * `ip netns exec`), so a DNS change inside the client never reaches the host's resolver.
 *
 * Processes run via `ip netns exec`, tracked by PID and stopped at teardown (SIGTERM, then
 * SIGKILL); anything else still inside our namespaces is killed before they are deleted.
 * Teardown is idempotent and also runs on SIGINT/SIGTERM (then the process exits) and,
 * synchronously, on process exit (uncaught errors included).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distBin } from '../common/paths.js';
import {
  assertPrefix,
  cleanupStale,
  deleteNetns,
  deleteNetnsSync,
  nsArgv,
  nsRun,
  run,
  writeNsResolvConf,
  type ExecResult,
  type RunOptions,
} from './netns.js';
import { ProcessGroup, type Proc, type SpawnOptions } from './procs.js';
import { HTTP_PORT, INET_IP, IPERF_PORT, planTopology, UNDERLAY_PREFIX, type HostPlan } from './topology.js';

export { cleanupStale } from './netns.js';

export class TestnetError extends Error {
  override readonly name = 'TestnetError';
}

export interface Host extends HostPlan {
  /** Network namespace name: `<prefix>-<name>`. */
  ns: string;
  /** The host's underlay interface. */
  iface: string;
}

export interface TestnetOptions {
  /** Namespace name prefix (2–8 chars [a-z0-9]). */
  prefix: string;
  /** Number of relay hosts (default 3). */
  relays?: number;
  /** Start the HTTP server and iperf3 -s on inet (default true). */
  inetServices?: boolean;
  /**
   * Tear down on SIGINT/SIGTERM, then exit (default true). Set false when the caller handles
   * those signals itself. A synchronous teardown on process exit is always installed.
   */
  handleSignals?: boolean;
  /** Progress messages (default: none). */
  onProgress?: (msg: string) => void;
  /** Add the chain host `<prefix>-chain` (198.18.0.200/24) for devnet nodes (deploy/chain-net.ts). */
  chain?: boolean;
}

export interface CaptureResult<T> {
  /** Path of the pcap file (inside the testnet's work dir; deleted at teardown). */
  pcap: string;
  /** What the `until` function returned (undefined for a timed capture). */
  result: T | undefined;
}

const SWITCH = 'sw';
const BRIDGE = 'br0';
const IFACE = 'eth0';

export class Testnet {
  readonly hosts: ReadonlyMap<string, Host>;
  /** Scratch directory for keys, configs and pcaps; removed at teardown. */
  readonly dir: string;
  readonly procs = new ProcessGroup();
  private torndown: Promise<void> | undefined;
  private readonly namespaces: string[];
  private readonly signalHandlers: Array<[NodeJS.Signals | 'exit', () => void]> = [];
  private captureSeq = 0;

  private constructor(
    readonly prefix: string,
    plan: HostPlan[],
    private readonly progress: (msg: string) => void,
  ) {
    this.hosts = new Map(plan.map((h) => [h.name, { ...h, ns: `${prefix}-${h.name}`, iface: IFACE }]));
    this.namespaces = [...[...this.hosts.values()].map((h) => h.ns), this.switchNs];
    this.dir = mkdtempSync(join(tmpdir(), `topvpn-${prefix}-`));
  }

  /** Builds the testnet (removing stale leftovers of the same prefix first). */
  static async create(opts: TestnetOptions): Promise<Testnet> {
    assertPrefix(opts.prefix);
    const stale = await cleanupStale(opts.prefix);
    const progress = opts.onProgress ?? (() => {});
    if (stale.length > 0) progress(`removed stale namespaces: ${stale.join(' ')}`);
    const net = new Testnet(opts.prefix, planTopology(opts.relays ?? 3, { chain: opts.chain === true }), progress);
    net.installHandlers(opts.handleSignals ?? true);
    try {
      await net.build();
      if (opts.inetServices ?? true) await net.startInetServices();
    } catch (err) {
      await net.teardown();
      throw err;
    }
    return net;
  }

  get switchNs(): string {
    return `${this.prefix}-${SWITCH}`;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new TestnetError(`no host "${name}" (have ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  get client(): Host {
    return this.host('client');
  }

  get inet(): Host {
    return this.host('inet');
  }

  /** Relay hosts, entry first, exit last. */
  get relays(): Host[] {
    return [...this.hosts.values()].filter((h) => h.role === 'relay');
  }

  /** Host name → underlay address. */
  addresses(): Record<string, string> {
    return Object.fromEntries([...this.hosts.values()].map((h) => [h.name, h.ip]));
  }

  /** Runs argv inside a host's namespace and waits for it. */
  exec(host: Host | string, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
    return nsRun(this.resolve(host).ns, argv, opts);
  }

  /** Starts a long-running process inside a host's namespace, tracked until teardown. */
  spawn(host: Host | string, argv: readonly string[], opts: SpawnOptions & { label?: string } = {}): Proc {
    const h = this.resolve(host);
    if (this.torndown) throw new TestnetError('testnet is torn down');
    return this.procs.spawn(opts.label ?? `${h.name}:${argv[0] ?? '?'}`, nsArgv(h.ns, argv), opts);
  }

  /**
   * Captures packets on a host's interface with tcpdump into a pcap file. `what` is either
   * a number of seconds or a function run once tcpdump is listening; the capture stops
   * when it settles (its result is returned alongside the pcap path).
   */
  async capture<T>(host: Host | string, iface: string, what: number | (() => Promise<T>), filter: readonly string[] = []): Promise<CaptureResult<T>> {
    const h = this.resolve(host);
    const pcap = join(this.dir, `${h.name}-${iface}-${++this.captureSeq}.pcap`);
    const p = this.spawn(h, ['tcpdump', '-i', iface, '-n', '-U', '--immediate-mode', '-s', '0', '-Z', 'root', '-w', pcap, ...filter], { label: `${h.name}:tcpdump` });
    await p.waitForLine((l) => (l.includes('listening on') ? true : undefined), { stream: 'stderr', timeoutMs: 10_000 });
    let result: T | undefined;
    try {
      if (typeof what === 'number') await sleep(what * 1000);
      else result = await what();
      await sleep(200); // let the last packets of the work reach the capture
    } finally {
      p.signal('SIGINT');
      const timer = setTimeout(() => p.signal('SIGKILL'), 5000);
      await p.exited;
      clearTimeout(timer);
    }
    return { pcap, result };
  }

  /** Stops all processes, deletes the namespaces and the work dir. Idempotent. */
  teardown(): Promise<void> {
    this.torndown ??= this.doTeardown();
    return this.torndown;
  }

  private async doTeardown(): Promise<void> {
    this.removeHandlers();
    await this.procs.stopAll(3000);
    await Promise.all(this.namespaces.map((ns) => deleteNetns(ns)));
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch (err) {
      this.progress(`could not remove ${this.dir}: ${(err as Error).message}`);
    }
    this.progress('testnet torn down');
  }

  private teardownSync(): void {
    if (this.torndown) return;
    this.torndown = Promise.resolve();
    this.procs.killAllSync();
    for (const ns of this.namespaces) deleteNetnsSync(ns);
    try {
      rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort on the way out; cleanupStale() removes it next time
    }
  }

  private installHandlers(signals: boolean): void {
    for (const sig of signals ? (['SIGINT', 'SIGTERM'] as const) : []) {
      const h = (): void => {
        this.progress(`${sig}: tearing down`);
        void this.teardown().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
      };
      process.once(sig, h);
      this.signalHandlers.push([sig, h]);
    }
    const onExit = (): void => this.teardownSync();
    process.once('exit', onExit);
    this.signalHandlers.push(['exit', onExit]);
  }

  private removeHandlers(): void {
    for (const [ev, h] of this.signalHandlers) process.removeListener(ev, h);
    this.signalHandlers.length = 0;
  }

  private resolve(host: Host | string): Host {
    return typeof host === 'string' ? this.host(host) : host;
  }

  private async build(): Promise<void> {
    const sw = this.switchNs;
    const ip = (...args: string[]) => run(['ip', ...args]);
    await ip('netns', 'add', sw);
    await ip('-n', sw, 'link', 'set', 'lo', 'up');
    await ip('-n', sw, 'link', 'add', BRIDGE, 'type', 'bridge');
    await ip('-n', sw, 'link', 'set', BRIDGE, 'up');
    for (const h of this.hosts.values()) {
      const port = `v-${h.name}`;
      await ip('netns', 'add', h.ns);
      await nsRun(h.ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      await ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      await ip('-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', IFACE, 'netns', h.ns);
      await ip('-n', sw, 'link', 'set', port, 'master', BRIDGE);
      await ip('-n', sw, 'link', 'set', port, 'up');
      if (h.role === 'client') {
        await ip('-n', h.ns, 'addr', 'add', `${h.ip}/32`, 'dev', IFACE);
        await ip('-n', h.ns, 'link', 'set', IFACE, 'up');
        await ip('-n', h.ns, 'route', 'add', 'default', 'dev', IFACE, 'scope', 'link');
        writeNsResolvConf(h.ns, `# topvpn testnet (${this.prefix}): the client's own resolver file\nnameserver ${INET_IP}\n`);
      } else {
        await ip('-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', IFACE);
        await ip('-n', h.ns, 'link', 'set', IFACE, 'up');
      }
    }
    // Every host speaks once so the bridge has learned all MACs before any capture:
    // unicast frames then reach only their own port (no flooding into other hosts' links).
    await Promise.all(
      [...this.hosts.values()]
        .filter((h) => h.name !== 'inet')
        .map((h) => this.exec(h, ['ping', '-c', '1', '-W', '3', INET_IP])),
    );
    await Promise.all(this.relays.map((r) => this.exec(this.client, ['ping', '-c', '1', '-W', '3', r.ip])));
    this.progress(`testnet up: ${[...this.hosts.values()].map((h) => `${h.name}=${h.ip}`).join(' ')}`);
  }

  private async startInetServices(): Promise<void> {
    const http = this.spawn(this.inet, [process.execPath, distBin('deploy/inet-server'), '--port', String(HTTP_PORT)], { label: 'inet:http' });
    const iperf = this.spawn(this.inet, ['iperf3', '-s', '--forceflush', '-p', String(IPERF_PORT)], { label: 'inet:iperf3' });
    await http.waitForEvent('listening', 10_000);
    await iperf.waitForLine((l) => (l.includes('Server listening') ? true : undefined), { timeoutMs: 10_000 });
    this.progress(`inet services up: http://${INET_IP}:${HTTP_PORT} iperf3 ${INET_IP}:${IPERF_PORT}`);
  }
}

/** `http://<inet>:<port>` */
export function inetUrl(path = '/'): string {
  return `http://${INET_IP}:${HTTP_PORT}${path}`;
}

export { UNDERLAY_PREFIX };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
