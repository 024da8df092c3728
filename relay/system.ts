/**
 * Synchronous system-command runner for the daemons' set-up and tear-down (ip, nft, sysctl).
 * Synchronous on purpose: tear-down must also work from `process.on('exit')` and from
 * uncaught-exception handlers, where no further event-loop turn is guaranteed.
 * Commands are run without a shell (argument vectors), so no quoting issues.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export class SystemCommandError extends Error {
  override readonly name = 'SystemCommandError';
  constructor(
    readonly command: string[],
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`\`${command.join(' ')}\` failed (exit ${status ?? 'signal'}): ${stderr.trim() || 'no output'}`);
  }
}

/** Runs a command; returns its stdout, throws SystemCommandError on non-zero exit. */
export type CommandRunner = (argv: string[], input?: string) => string;

export const runCommand: CommandRunner = (argv, input) => {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error('runCommand: empty argv');
  try {
    return execFileSync(cmd, args, {
      input: input ?? '',
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 10_000,
    });
  } catch (err) {
    const e = err as { status?: number | null; stderr?: string | Buffer; message?: string };
    const stderr = e.stderr ? e.stderr.toString() : (e.message ?? '');
    throw new SystemCommandError(argv, e.status ?? null, stderr);
  }
};

/** Reads a sysctl through /proc/sys (undefined if absent). */
export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** True when this process runs in a network namespace other than PID 1's (e.g. under `ip netns exec`). */
export function inNonInitialNetns(): boolean {
  try {
    return readlinkSync('/proc/self/ns/net') !== readlinkSync('/proc/1/ns/net');
  } catch {
    return false;
  }
}

/**
 * Name of the named network namespace (`ip netns`, /run/netns/NAME) this process runs in,
 * found by comparing namespace inodes; undefined in an unnamed or the initial namespace.
 */
export function currentNetnsName(): string | undefined {
  try {
    const self = statSync('/proc/self/ns/net');
    for (const name of readdirSync('/run/netns')) {
      try {
        const st = statSync(`/run/netns/${name}`);
        if (st.dev === self.dev && st.ino === self.ino) return name;
      } catch {
        /* vanished meanwhile */
      }
    }
  } catch {
    /* no /run/netns */
  }
  return undefined;
}
