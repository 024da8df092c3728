/**
 * The exit policy a relay daemon enforces, from its configuration: a policy file if given
 * (--exit-policy FILE, Tor-like rules, see relay/exit-policy.ts), else the default policy
 * (reject the relay's own addresses and private/local ranges, accept the rest) with the
 * --exit-allow networks accepted ahead of the default rejects.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { formatCidr } from './addr.js';
import { ConfigError, type ExitConfig } from './config.js';
import { defaultExitPolicy, type ExitPolicy, ExitPolicyError, parseExitPolicy } from './exit-policy.js';

/** IPv4 addresses configured on this namespace's interfaces (loopback included). */
export function localIpv4Addresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4') out.push(a.address);
  }
  return out;
}

/** `extraOwn`: addresses to reject besides the interfaces' (e.g. the exit TUN's, not up yet). */
export function buildExitPolicy(cfg: ExitConfig, extraOwn: string[] = []): ExitPolicy {
  if (cfg.policyFile) {
    let text: string;
    try {
      text = readFileSync(cfg.policyFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--exit-policy: cannot read ${cfg.policyFile}: ${(err as Error).message}`);
    }
    try {
      return parseExitPolicy(text);
    } catch (err) {
      if (err instanceof ExitPolicyError) throw new ConfigError(`--exit-policy ${cfg.policyFile}: ${err.message}`);
      throw err;
    }
  }
  const own = [...new Set([...localIpv4Addresses(), ...extraOwn])];
  return defaultExitPolicy({ ownAddresses: own, allow: cfg.allow.map(formatCidr) });
}
