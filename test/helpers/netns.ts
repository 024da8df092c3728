/**
 * Test helpers for network-namespace suites: root check, and snapshots of a host's routing
 * state to compare before/after a VPN session.
 */
import { existsSync } from 'node:fs';
import type { Testnet, Host } from '../../deploy/testnet.js';

export { Testnet, cleanupStale, inetUrl } from '../../deploy/testnet.js';
export { parseJsonObject, type Proc } from '../../deploy/procs.js';

/** Why a namespace suite cannot run here, or undefined if it can (root + ip + /dev/net/tun). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return undefined;
}

/**
 * Routing state of a host: every IPv4/IPv6 route in every table and (unless `rules` is
 * false) the IPv4 policy rules, as one comparable string.
 */
export async function routeSnapshot(net: Testnet, host: Host | string, opts: { rules?: boolean } = {}): Promise<string> {
  const parts = await Promise.all([
    net.exec(host, ['ip', '-4', 'route', 'show', 'table', 'all']),
    net.exec(host, ['ip', '-6', 'route', 'show', 'table', 'all'], { allowFail: true }),
    ...(opts.rules === false ? [] : [net.exec(host, ['ip', '-4', 'rule', 'show'])]),
  ]);
  return parts.map((p) => p.stdout.trim()).join('\n--\n');
}

/** Names of the host's network interfaces. */
export async function linkNames(net: Testnet, host: Host | string): Promise<string[]> {
  const r = await net.exec(host, ['ip', '-o', 'link', 'show']);
  return r.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
}

/** HTTP GET from a host with curl; returns the body (throws on failure). */
export async function httpGet(net: Testnet, host: Host | string, url: string, timeoutS = 10): Promise<string> {
  const r = await net.exec(host, ['curl', '-sS', '--fail', '--max-time', String(timeoutS), url], { timeoutMs: (timeoutS + 5) * 1000 });
  return r.stdout;
}
