/**
 * Points the system resolver (resolv.conf) at the tunnel's DNS server and puts it back.
 *
 * Contracts:
 * - The file is rewritten in place (truncate + write, never rename): /etc/resolv.conf may be a
 *   bind mount (`ip netns exec` binds /etc/netns/NS/resolv.conf over it; containers do too).
 * - Before the first write the original content is saved to `<stateDir>/resolv.conf.backup`
 *   (JSON: path, original, written). `restore()` puts the original back only if the file still
 *   holds what we wrote (someone else changed it otherwise: we leave theirs and warn), then
 *   deletes the backup. `recoverStale()` does the same for a backup left by a crashed run.
 * - Safety: in a non-initial network namespace where /etc/resolv.conf is NOT a private bind
 *   mount, /etc/resolv.conf is the host's file; `checkSafeTarget` refuses it unless the path
 *   was given explicitly with --resolv-conf.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { currentNetnsName, inNonInitialNetns } from '../relay/system.js';

export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

export class DnsError extends Error {
  override readonly name: string = 'DnsError';
}

/** Writing the resolver would change the host's (a configuration problem: exit code 2). */
export class DnsSafetyError extends DnsError {
  override readonly name = 'DnsSafetyError';
}

interface Backup {
  path: string;
  original: string;
  written: string;
}

export interface DnsManagerOptions {
  resolvConf: string;
  stateDir: string;
  log: Logger;
}

/**
 * True if `path` here is a different file from `path` as PID 1 (the host's init, or the
 * container's) sees it: i.e. this mount namespace has a private copy (the bind mount that
 * `ip netns exec` makes from /etc/netns/NS/). Undecidable (no access to /proc/1/root): false.
 */
export function isPrivateCopy(path: string): boolean {
  try {
    const mine = statSync(path);
    const init = statSync(`/proc/1/root${path}`);
    return mine.dev !== init.dev || mine.ino !== init.ino;
  } catch (err) {
    // Ours missing but init's present (or the reverse) also means they differ.
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' && existsSync(`/proc/1/root${path}`) !== existsSync(path);
  }
}

/**
 * Throws DnsSafetyError if writing `path` would change the host's resolver from inside a
 * network namespace (see the file comment). `explicit`: the user named the path with --resolv-conf.
 */
export function checkSafeTarget(path: string, explicit: boolean): void {
  if (explicit || path !== DEFAULT_RESOLV_CONF) return;
  const refuse = (why: string): never => {
    throw new DnsSafetyError(
      `refusing to rewrite /etc/resolv.conf: ${why} ` +
        '(create /etc/netns/<ns>/resolv.conf before `ip netns exec`, pass --resolv-conf PATH, or use --no-dns)',
    );
  };
  const ns = currentNetnsName();
  if (ns !== undefined) {
    // `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf, if it existed then.
    const own = `/etc/netns/${ns}/resolv.conf`;
    let same = false;
    try {
      const a = statSync(DEFAULT_RESOLV_CONF);
      const b = statSync(own);
      same = a.dev === b.dev && a.ino === b.ino;
    } catch {
      same = false;
    }
    if (!same) refuse(`this process runs in network namespace ${ns} but /etc/resolv.conf is not its private ${own}, so it is the host's`);
    return;
  }
  if (inNonInitialNetns() && !isPrivateCopy(DEFAULT_RESOLV_CONF)) refuse("this process runs in a network namespace whose /etc/resolv.conf is the host's");
}

export function renderResolvConf(servers: string[]): string {
  return `# written by topvpn; the original is restored on disconnect\n${servers.map((s) => `nameserver ${s}`).join('\n')}\n`;
}

export class DnsManager {
  private readonly backupPath: string;
  private active = false;

  constructor(private readonly opts: DnsManagerOptions) {
    this.backupPath = join(opts.stateDir, 'resolv.conf.backup');
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Restores a backup left by a previous run that did not exit cleanly. Returns true if one was found. */
  recoverStale(): boolean {
    if (!existsSync(this.backupPath)) return false;
    this.opts.log.warn({ backup: this.backupPath }, 'restoring resolver left changed by an earlier run');
    this.restoreFromBackup();
    return true;
  }

  /** Saves the current resolver and writes one naming `servers`. */
  apply(servers: string[]): void {
    if (servers.length === 0) throw new DnsError('no DNS servers to apply');
    if (this.active || existsSync(this.backupPath)) throw new DnsError(`a resolver backup already exists at ${this.backupPath}; restore it first`);
    const path = this.opts.resolvConf;
    let original: string;
    try {
      original = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DnsError(`cannot read ${path}: ${(err as Error).message}`);
      original = '';
    }
    const written = renderResolvConf(servers);
    mkdirSync(this.opts.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.backupPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ path, original, written } satisfies Backup), { mode: 0o600 });
    renameSync(tmp, this.backupPath);
    this.active = true;
    writeFileSync(path, written); // in place: truncate + write
    this.opts.log.info({ path, servers }, 'resolver pointed at the tunnel');
  }

  /**
   * Points an applied resolver at new `servers` (a reconnect landed on an exit announcing
   * another resolver). The backup keeps the original; the file is rewritten only if it still
   * holds what this manager wrote — returns false and leaves it alone otherwise. Throws
   * DnsError if nothing is applied.
   */
  update(servers: string[]): boolean {
    if (!this.active) throw new DnsError('no resolver applied to update');
    if (servers.length === 0) throw new DnsError('no DNS servers to apply');
    const b = JSON.parse(readFileSync(this.backupPath, 'utf8')) as Backup;
    const written = renderResolvConf(servers);
    if (written === b.written) return true;
    let current: string | undefined;
    try {
      current = readFileSync(b.path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== b.written) {
      this.opts.log.warn({ path: b.path }, 'resolver was changed by someone else since we wrote it; not updating it');
      return false;
    }
    const tmp = `${this.backupPath}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...b, written } satisfies Backup), { mode: 0o600 });
    renameSync(tmp, this.backupPath);
    writeFileSync(b.path, written);
    this.opts.log.info({ path: b.path, servers }, 'resolver pointed at the new exit');
    return true;
  }

  /** Puts the original resolver back if this manager changed it (idempotent). */
  restore(): void {
    if (!this.active) return;
    this.restoreFromBackup();
    this.active = false;
  }

  private restoreFromBackup(): void {
    let b: Backup;
    try {
      b = JSON.parse(readFileSync(this.backupPath, 'utf8')) as Backup;
      if (typeof b.path !== 'string' || typeof b.original !== 'string' || typeof b.written !== 'string') throw new Error('bad fields');
    } catch (err) {
      this.opts.log.error({ backup: this.backupPath, err: (err as Error).message }, 'resolver backup unreadable; removing it');
      unlinkSync(this.backupPath);
      return;
    }
    let current: string | undefined;
    try {
      current = readFileSync(b.path, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === b.written || current === undefined) {
      writeFileSync(b.path, b.original);
      this.opts.log.info({ path: b.path }, 'resolver restored');
    } else {
      this.opts.log.warn({ path: b.path }, 'resolver was changed by someone else since we wrote it; leaving it as is');
    }
    unlinkSync(this.backupPath);
  }
}
