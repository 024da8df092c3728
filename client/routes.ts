/**
 * Client routing: everything through the TUN except the tunnel's own UDP to the entry relay,
 * using only routes that point at the TUN device, so they vanish with it (a client killed
 * with -9 leaves no IPv4 routes behind) and the original default route is never touched:
 * - if the entry is reached by a route more specific than /1 (e.g. on a LAN), 0.0.0.0/1 and
 *   128.0.0.0/1 via the TUN ("def1", as OpenVPN) already leave it alone;
 * - if it is reached by the default route, the 32 prefixes that cover all of IPv4 except
 *   ENTRY/32 go via the TUN (the complement of the entry; no host route via the uplink is
 *   needed). Such prefixes never hide a LAN route (a LAN route more specific than one of them
 *   would contain the entry), and an identical prefix that already exists keeps precedence
 *   (ours are added with a high metric).
 * - when the host has an IPv6 default route, unreachable ::/1 and 8000::/1, so IPv6 cannot
 *   leak around the IPv4-only tunnel (these do outlive the process).
 * Every route added is recorded in `<stateDir>/routes.json` before it is added, so a run
 * killed with -9 is cleaned up by the next run's `recoverStale()`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { intToIpv4, ipv4ToInt } from '../relay/addr.js';
import { type CommandRunner, runCommand, SystemCommandError } from '../relay/system.js';

/** Metric of the complement routes: an identical prefix configured by someone else wins. */
export const COMPLEMENT_METRIC = 9999;

/** The 32 CIDR prefixes that together cover all of IPv4 except `ip`/32, shortest first. */
export function complementOf(ip: string): string[] {
  const a = ipv4ToInt(ip);
  const out: string[] = [];
  for (let len = 1; len <= 32; len++) {
    const flipped = (a ^ (1 << (32 - len))) >>> 0;
    const mask = len === 32 ? 0xffffffff : (0xffffffff << (32 - len)) >>> 0;
    out.push(`${intToIpv4((flipped & mask) >>> 0)}/${len}`);
  }
  return out;
}

export class RouteError extends Error {
  override readonly name = 'RouteError';
}

/** One route exactly as added, so it can be deleted exactly. */
export interface AddedRoute {
  family: 4 | 6;
  /** Arguments after `ip [-6] route add` / `ip [-6] route del`. */
  spec: string[];
}

export interface RouteManagerOptions {
  stateDir: string;
  log: Logger;
  run?: CommandRunner;
  blockIpv6?: boolean;
}

interface RouteGet {
  dst?: string;
  gateway?: string;
  dev?: string;
  type?: string;
}

export class RouteManager {
  private readonly run: CommandRunner;
  private readonly statePath: string;
  private added: AddedRoute[] = [];

  constructor(private readonly opts: RouteManagerOptions) {
    this.run = opts.run ?? runCommand;
    this.statePath = join(opts.stateDir, 'routes.json');
  }

  /** Routes currently added by this manager, in order. */
  get routes(): readonly AddedRoute[] {
    return this.added;
  }

  /** Deletes routes recorded by a previous run that did not exit cleanly. Returns how many were recorded. */
  recoverStale(): number {
    if (!existsSync(this.statePath)) return 0;
    let stale: AddedRoute[] = [];
    try {
      stale = JSON.parse(readFileSync(this.statePath, 'utf8')) as AddedRoute[];
    } catch {
      this.opts.log.error({ path: this.statePath }, 'route state unreadable; removing it');
    }
    if (stale.length > 0) this.opts.log.warn({ routes: stale.length }, 'removing routes left by an earlier run');
    for (const r of [...stale].reverse()) this.del(r);
    unlinkSync(this.statePath);
    return stale.length;
  }

  /** How the kernel reaches `ip` right now (`ip -j route get`). */
  lookup(ip: string): RouteGet {
    let out: string;
    try {
      out = this.run(['ip', '-j', 'route', 'get', ip]);
    } catch (err) {
      if (err instanceof SystemCommandError) throw new RouteError(`no route to relay ${ip}: ${err.stderr.trim()}`);
      throw err;
    }
    const parsed = JSON.parse(out) as RouteGet[];
    const r = parsed[0];
    if (!r?.dev) throw new RouteError(`no route to relay ${ip}`);
    return r;
  }

  /**
   * Fails early (RouteError) if the entry is unreachable or already routed into `tun`
   * (e.g. by a stale route of another tool).
   */
  checkEntry(ip: string, tun: string): void {
    const r = this.lookup(ip);
    if (r.dev === tun) throw new RouteError(`relay ${ip} is already routed into the tunnel device ${tun}`);
  }

  /** Longest prefix length among main-table routes covering `ip` (-1 if none). */
  longestMatch(ip: string): number {
    let out: string;
    try {
      out = this.run(['ip', '-j', 'route', 'show', 'match', ip]);
    } catch {
      return -1;
    }
    let best = -1;
    for (const r of JSON.parse(out || '[]') as Array<{ dst?: string }>) {
      const d = r.dst ?? '';
      const len = d === 'default' ? 0 : d.includes('/') ? Number(d.split('/')[1]) : 32;
      if (Number.isInteger(len) && len > best) best = len;
    }
    return best;
  }

  /** Routes everything but the tunnel's UDP to `entryIp` through `tun` (see the file comment). */
  routeAllVia(tun: string, entryIp: string): 'def1' | 'exclude-entry' {
    const r = this.lookup(entryIp);
    if (r.dev === tun) throw new RouteError(`relay ${entryIp} is already routed into the tunnel device ${tun}`);
    const mode = r.type === 'local' || r.dev === 'lo' || this.longestMatch(entryIp) >= 2 ? 'def1' : 'exclude-entry';
    if (mode === 'def1') {
      this.add({ family: 4, spec: ['0.0.0.0/1', 'dev', tun] });
      this.add({ family: 4, spec: ['128.0.0.0/1', 'dev', tun] });
    } else {
      for (const prefix of complementOf(entryIp)) this.add({ family: 4, spec: [prefix, 'dev', tun, 'metric', String(COMPLEMENT_METRIC)] });
    }
    if (this.opts.blockIpv6 !== false && this.hasIpv6Default()) {
      this.add({ family: 6, spec: ['unreachable', '::/1'] });
      this.add({ family: 6, spec: ['unreachable', '8000::/1'] });
    }
    this.opts.log.info({ mode, routes: this.added.length }, 'routes via the tunnel');
    return mode;
  }

  /**
   * Re-installs every recorded route (`ip route replace`, idempotent): after the TUN was
   * re-addressed, since removing a device's last IPv4 address flushes its routes.
   */
  ensure(): void {
    for (const r of this.added) this.run(['ip', ...(r.family === 6 ? ['-6'] : []), 'route', 'replace', ...r.spec]);
  }

  /**
   * Adds an IPv4 route for a while (e.g. a host route to the chain RPC around the tunnel),
   * recorded like the others so a crash leaves nothing behind (`recoverStale`). Returns the
   * function that removes it again (idempotent, never throws). RouteError if `ip` refuses.
   */
  addTemporary(spec: string[]): () => void {
    const r: AddedRoute = { family: 4, spec };
    this.add(r);
    return () => {
      const i = this.added.indexOf(r);
      if (i < 0) return;
      this.added.splice(i, 1);
      this.save();
      this.del(r);
    };
  }

  /** Deletes every route this manager added, newest first (idempotent, never throws). */
  restore(): void {
    if (this.added.length === 0) return;
    for (const r of [...this.added].reverse()) this.del(r);
    this.added = [];
    if (existsSync(this.statePath)) unlinkSync(this.statePath);
  }

  private hasIpv6Default(): boolean {
    try {
      return this.run(['ip', '-6', 'route', 'show', 'default']).trim().length > 0;
    } catch {
      return false;
    }
  }

  private add(r: AddedRoute): void {
    this.added.push(r);
    this.save();
    try {
      this.run(['ip', ...(r.family === 6 ? ['-6'] : []), 'route', 'add', ...r.spec]);
    } catch (err) {
      this.added.pop();
      this.save();
      if (err instanceof SystemCommandError) throw new RouteError(`cannot add route ${r.spec.join(' ')}: ${err.stderr.trim()}`);
      throw err;
    }
    this.opts.log.debug({ route: r.spec.join(' ') }, 'route added');
  }

  private del(r: AddedRoute): void {
    try {
      this.run(['ip', ...(r.family === 6 ? ['-6'] : []), 'route', 'del', ...r.spec]);
    } catch (err) {
      // Gone already (e.g. the TUN closed and took its routes along): that is the goal.
      const msg = err instanceof SystemCommandError ? err.stderr : String(err);
      if (!/No such process|Cannot find device|No such device/i.test(msg)) {
        this.opts.log.warn({ route: r.spec.join(' '), err: msg.trim() }, 'route removal failed');
      }
    }
  }

  private save(): void {
    mkdirSync(this.opts.stateDir, { recursive: true, mode: 0o700 });
    if (this.added.length === 0) {
      if (existsSync(this.statePath)) unlinkSync(this.statePath);
      return;
    }
    const tmp = `${this.statePath}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.added), { mode: 0o600 });
    renameSync(tmp, this.statePath);
  }
}
