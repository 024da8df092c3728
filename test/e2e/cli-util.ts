/**
 * Helpers for the CLI end-to-end tests: run the built binaries (dist/relay/cli.js,
 * dist/client/cli.js), read their JSON stdout lines, wait for events, and kill what was
 * started (by PID) when a test ends, also on failure.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { distBin } from '../../common/paths.js';

export const RELAY_CLI = distBin('relay/cli');
export const CLIENT_CLI = distBin('client/cli');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout lines that parse as JSON. */
  json: Array<Record<string, unknown>>;
}

export function parseJsonLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      out.push(JSON.parse(t) as Record<string, unknown>);
    } catch {
      /* not JSON */
    }
  }
  return out;
}

/** Runs a CLI to completion. `netns`: run it inside that namespace. */
export function runCli(bin: string, args: string[], opts: { netns?: string; timeoutMs?: number } = {}): RunResult {
  const argv = opts.netns ? ['ip', ['netns', 'exec', opts.netns, process.execPath, bin, ...args]] as const : [process.execPath, [bin, ...args]] as const;
  const r = spawnSync(argv[0], [...argv[1]], { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, env: { ...process.env, TOPVPN_LOG_LEVEL: 'warn' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: parseJsonLines(r.stdout) };
}

/** A started long-running CLI (daemon) whose stdout JSON events can be awaited. */
export class Daemon {
  readonly child: ChildProcess;
  readonly events: Array<Record<string, unknown>> = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(bin: string, args: string[], opts: { netns?: string; env?: Record<string, string> } = {}) {
    const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, process.execPath, bin, ...args]] : [process.execPath, [bin, ...args]];
    this.child = spawn(cmd as string, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TOPVPN_LOG_LEVEL: 'info', ...opts.env } });
    live.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    let buf = '';
    this.child.stdout!.on('data', (d: string) => {
      this.stdout += d;
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.events.push(...parseJsonLines(line));
        this.wake();
      }
    });
    this.child.stderr!.on('data', (d: string) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this);
        this.wake();
        resolve(code ?? (signal ? 128 : null));
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first event named `name`; rejects if the process exits first or on timeout. */
  waitEvent(name: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timeout waiting for "${name}"; stdout=${this.stdout} stderr=${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      const check = (): boolean => {
        const e = this.events.find((x) => x.event === name);
        if (e) {
          done();
          resolve(e);
          return true;
        }
        if (!this.running) {
          done();
          reject(new Error(`process exited (${this.child.exitCode}) before "${name}"; stdout=${this.stdout} stderr=${this.stderr.slice(-2000)}`));
          return true;
        }
        return false;
      };
      const waiter = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      if (!check()) this.waiters.push(waiter);
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

const live = new Set<Daemon>();

/** Kills every daemon still running (SIGKILL, by PID). */
export function killAll(): void {
  for (const d of live) d.signal('SIGKILL');
}
process.on('exit', killAll);
