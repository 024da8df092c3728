/**
 * One network namespace per chain node, for real partitions of the devnet:
 *
 *   <prefix>-n0 … <prefix>-n(N-1)   eth0 = <subnet>.(10+i)/24, one node process each
 *        │ eth0 (veth)
 *   <prefix>-br                      bridge br0 joining ports p0 … p(N-1), no address
 *
 * Nothing is created in the root namespace except the named namespaces (veth pairs are made
 * inside <prefix>-br and their peer moved straight into the node namespace). `cut(i)` sets
 * node i's bridge port down: its namespace keeps its address and loopback, so the node's own
 * RPC stays reachable through its Unix-socket proxy while it can reach no other node; `heal(i)`
 * sets the port up again. The orchestrator (root namespace) reaches every node's RPC through a
 * deploy/unix-proxy.ts process inside that node's namespace (`call`, an RpcCallFn on the
 * nodes' ordinary URLs). `destroy()` stops the proxies by PID and deletes every namespace
 * (which also kills anything left inside); a process 'exit' handler does the same synchronously.
 */
import { join } from 'node:path';
import { distBin } from '../common/paths.js';
import { unixRpcCall } from '../deploy/chain-net.js';
import { assertPrefix, cleanupStale, deleteNetns, deleteNetnsSync, nsArgv, nsRun, run } from '../deploy/netns.js';
import { ProcessGroup } from '../deploy/procs.js';
import type { RpcCallFn } from '../relay/payments/chain-rpc.js';

export class NodeNetError extends Error {
  override name = 'NodeNetError';
}

export interface NodeNetOptions {
  /** Namespace name prefix (2–8 chars, see deploy/netns.ts assertPrefix). */
  readonly prefix: string;
  /** First three octets of the /24 the nodes live in, e.g. '198.18.180'. */
  readonly subnet: string;
  readonly count: number;
  /** Directory for the RPC Unix sockets. */
  readonly dir: string;
}

const BRIDGE = 'br0';
const IFACE = 'eth0';
const FIRST_HOST = 10;

export class NodeNet {
  private readonly procs = new ProcessGroup();
  private readonly sockets = new Map<string, string>();
  private destroyed = false;
  private readonly onExit = (): void => this.destroySync();
  readonly cutNodes = new Set<number>();

  private constructor(readonly o: NodeNetOptions) {}

  get bridgeNs(): string {
    return `${this.o.prefix}-br`;
  }

  ns(i: number): string {
    return `${this.o.prefix}-n${i}`;
  }

  ip(i: number): string {
    return `${this.o.subnet}.${FIRST_HOST + i}`;
  }

  get ips(): string[] {
    return Array.from({ length: this.o.count }, (_, i) => this.ip(i));
  }

  /** Command prefix that runs (execs) a program inside node i's namespace. */
  wrap(i: number): string[] {
    return nsArgv(this.ns(i), []);
  }

  /** Builds the namespaces, bridge and links (removing leftovers of a crashed run with this prefix first). */
  static async create(o: NodeNetOptions): Promise<NodeNet> {
    assertPrefix(o.prefix);
    if (!/^198\.1[89]\.\d{1,3}$/.test(o.subnet)) throw new NodeNetError(`subnet ${o.subnet} is not inside 198.18.0.0/15`);
    if (o.count < 1 || FIRST_HOST + o.count > 254) throw new NodeNetError(`bad node count ${o.count}`);
    await cleanupStale(o.prefix);
    const net = new NodeNet(o);
    process.once('exit', net.onExit);
    try {
      await net.build();
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  private async build(): Promise<void> {
    const ip = (...args: string[]): Promise<unknown> => run(['ip', ...args]);
    const br = this.bridgeNs;
    await ip('netns', 'add', br);
    await ip('-n', br, 'link', 'set', 'lo', 'up');
    await ip('-n', br, 'link', 'add', BRIDGE, 'type', 'bridge');
    await ip('-n', br, 'link', 'set', BRIDGE, 'up');
    for (let i = 0; i < this.o.count; i++) {
      const ns = this.ns(i);
      await ip('netns', 'add', ns);
      await nsRun(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', br, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', IFACE, 'netns', ns);
      await ip('-n', br, 'link', 'set', `p${i}`, 'master', BRIDGE);
      await ip('-n', br, 'link', 'set', `p${i}`, 'up');
      await ip('-n', ns, 'addr', 'add', `${this.ip(i)}/24`, 'dev', IFACE);
      await ip('-n', ns, 'link', 'set', IFACE, 'up');
    }
    // every node reaches node 0 (also teaches the bridge every MAC)
    await Promise.all(Array.from({ length: this.o.count - 1 }, (_, k) => nsRun(this.ns(k + 1), ['ping', '-c', '1', '-W', '3', this.ip(0)])));
  }

  /**
   * Starts one Unix-socket RPC proxy in each node's namespace, for the RPC URLs `urls`
   * (urls[i] is node i's, an address of its namespace).
   */
  async startRpcProxies(urls: readonly string[]): Promise<void> {
    const procs = urls.map((url, i) => {
      const u = new URL(url);
      const sock = join(this.o.dir, `rpc-${i}.sock`);
      this.sockets.set(url.replace(/\/$/, ''), sock);
      return this.procs.spawn(`rpc-proxy-${i}`, [...this.wrap(i), process.execPath, distBin('deploy/unix-proxy'), '--map', `${sock}=${u.hostname}:${u.port}`]);
    });
    await Promise.all(procs.map((p) => p.waitForEvent('listening', 20_000)));
  }

  /** RpcCallFn for the orchestrator: node URL → that node's Unix socket. */
  readonly call: RpcCallFn = async <T = unknown>(url: string, method: string, params?: unknown[] | Record<string, unknown>, timeoutMs?: number): Promise<T> => {
    const sock = this.sockets.get(url.replace(/\/$/, ''));
    if (!sock) throw new NodeNetError(`no RPC proxy for ${url}`);
    return (await unixRpcCall(sock, method, params ?? [], timeoutMs)) as T;
  };

  /** Cuts nodes off the bridge (their port down): they reach nobody and nobody reaches them. */
  async cut(nodes: readonly number[]): Promise<void> {
    for (const i of nodes) {
      await run(['ip', '-n', this.bridgeNs, 'link', 'set', `p${i}`, 'down']);
      this.cutNodes.add(i);
    }
  }

  async heal(nodes: readonly number[]): Promise<void> {
    for (const i of nodes) {
      await run(['ip', '-n', this.bridgeNs, 'link', 'set', `p${i}`, 'up']);
      this.cutNodes.delete(i);
    }
  }

  /** True iff node `from` can ping node `to` (one probe, 1 s). */
  async reachable(from: number, to: number): Promise<boolean> {
    const r = await nsRun(this.ns(from), ['ping', '-c', '1', '-W', '1', this.ip(to)], { allowFail: true });
    return r.code === 0;
  }

  /** Stops the proxies and deletes every namespace (and whatever still runs inside). Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    await this.procs.stopAll(2000);
    for (let i = 0; i < this.o.count; i++) await deleteNetns(this.ns(i), 1000);
    await deleteNetns(this.bridgeNs, 1000);
  }

  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.procs.killAllSync();
    for (let i = 0; i < this.o.count; i++) deleteNetnsSync(this.ns(i));
    deleteNetnsSync(this.bridgeNs);
  }
}
