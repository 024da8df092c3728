/**
 * Thin, IO-only wrappers around `ip netns` and command execution. Every namespace name this
 * module touches must start with a caller-given prefix (validated by `assertPrefix`); the
 * root namespace is never modified beyond `ip netns add/del` of such names.
 */
import { execFile, spawnSync } from 'node:child_process';
import { rmSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`command failed (${code ?? 'signal'}): ${argv.join(' ')}: ${stderr.trim().slice(0, 500)}`);
  }
}

export class PrefixError extends Error {
  override readonly name = 'PrefixError';
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Resolve with a non-zero code instead of throwing CommandError. */
  allowFail?: boolean;
  /** Written to the command's stdin. */
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** Prefixes are short lowercase tags (2–8 chars), so `<prefix>-<host>` stays a valid name. */
export function assertPrefix(prefix: string): void {
  if (!/^[a-z][a-z0-9]{1,7}$/.test(prefix)) throw new PrefixError(`bad netns prefix "${prefix}" (want [a-z][a-z0-9]{1,7})`);
}

/** Runs argv (no shell) and collects its output. Throws CommandError on failure unless allowFail. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError('run: empty argv');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const out = String(stdout);
        const errOut = String(stderr);
        let code = 0;
        if (err) {
          const c = (err as { code?: unknown }).code;
          code = typeof c === 'number' ? c : -1;
        }
        if (code !== 0 && !opts.allowFail) reject(new CommandError(argv, code, out, errOut));
        else resolve({ code, stdout: out, stderr: errOut });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** argv prefixed so it runs inside namespace `ns`. */
export function nsArgv(ns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** Runs argv inside namespace `ns`. */
export function nsRun(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  return run(nsArgv(ns, argv), opts);
}

/** Names of all network namespaces (`ip netns list`). */
export async function listNetns(): Promise<string[]> {
  const r = await run(['ip', 'netns', 'list'], { allowFail: true });
  return parseNetnsList(r.stdout);
}

/** Parses `ip netns list` output ("name (id: 3)" or "name" per line). */
export function parseNetnsList(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/** PIDs of processes living in namespace `ns` (empty if it does not exist). */
export async function netnsPids(ns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', ns], { allowFail: true });
  return parsePids(r.stdout);
}

export function parsePids(out: string): number[] {
  return out
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** Directory whose files `ip netns exec` bind-mounts over /etc (resolv.conf). */
export function etcNetnsDir(ns: string): string {
  return join('/etc/netns', ns);
}

/** Creates /etc/netns/<ns>/resolv.conf so a resolver change inside `ns` stays inside it. */
export function writeNsResolvConf(ns: string, content: string): string {
  const dir = etcNetnsDir(ns);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, content);
  return file;
}

export function removeEtcNetns(ns: string): void {
  rmSync(etcNetnsDir(ns), { recursive: true, force: true });
}

function killPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM the pids, wait up to graceMs for them to go, then SIGKILL the rest. */
export async function terminatePids(pids: readonly number[], graceMs = 3000): Promise<void> {
  const live = pids.filter((p) => p > 1 && p !== process.pid && killPid(p, 'SIGTERM'));
  const until = Date.now() + graceMs;
  while (live.some(alive) && Date.now() < until) await sleep(50);
  for (const p of live) if (alive(p)) killPid(p, 'SIGKILL');
}

/** Kills everything still running inside `ns`, then deletes it. Missing namespaces are fine. */
export async function deleteNetns(ns: string, graceMs = 2000): Promise<void> {
  await terminatePids(await netnsPids(ns), graceMs);
  await run(['ip', 'netns', 'del', ns], { allowFail: true });
  removeEtcNetns(ns);
}

/** Synchronous last-resort cleanup (process 'exit' handlers): SIGKILL everything in `ns`, delete it. */
export function deleteNetnsSync(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const p of parsePids(r.stdout ?? '')) if (p !== process.pid) killPid(p, 'SIGKILL');
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  removeEtcNetns(ns);
}

/** Namespaces named `<prefix>-…`. */
export function ownedBy(prefix: string, names: readonly string[]): string[] {
  return names.filter((n) => n.startsWith(`${prefix}-`));
}

/**
 * Removes the leftovers of a crashed run with this prefix: processes inside its namespaces,
 * the namespaces (their veth pairs and bridge go with them), /etc/netns/<prefix>-* and
 * work dirs <tmpdir>/topvpn-<prefix>-*. Returns the namespaces removed.
 */
export async function cleanupStale(prefix: string): Promise<string[]> {
  assertPrefix(prefix);
  const stale = ownedBy(prefix, await listNetns());
  await Promise.all(stale.map((ns) => deleteNetns(ns, 1000)));
  try {
    for (const d of readdirSync('/etc/netns')) if (d.startsWith(`${prefix}-`)) removeEtcNetns(d);
  } catch {
    // /etc/netns absent: nothing to remove
  }
  for (const d of readdirSync(tmpdir())) {
    if (d.startsWith(`topvpn-${prefix}-`)) rmSync(join(tmpdir(), d), { recursive: true, force: true, maxRetries: 3 });
  }
  return stale;
}
