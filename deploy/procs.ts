/**
 * Long-running child processes tracked by PID. Each is spawned in its own process group so
 * a terminal's Ctrl-C reaches only the orchestrator, which then stops them in order
 * (SIGTERM, grace period, SIGKILL). Output is split into lines; the last lines of each
 * stream are kept for diagnostics and can be awaited (`waitForLine`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export class ProcessExitedError extends Error {
  override readonly name = 'ProcessExitedError';
}

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Stream = 'stdout' | 'stderr';
type LineListener = (line: string, stream: Stream) => void;

const KEEP_LINES = 200;

export class Proc {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;
  private readonly tail: Record<Stream, string[]> = { stdout: [], stderr: [] };
  private readonly listeners = new Set<LineListener>();

  constructor(
    readonly label: string,
    readonly argv: readonly string[],
    readonly child: ChildProcess,
  ) {
    if (child.pid === undefined) throw new ProcessExitedError(`${label}: spawn failed (${argv[0]})`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      });
      child.once('error', () => {
        this.status ??= { code: -1, signal: null };
        resolve(this.status);
      });
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      const s = child[stream];
      if (!s) continue;
      createInterface({ input: s }).on('line', (line) => {
        const t = this.tail[stream];
        t.push(line);
        if (t.length > KEEP_LINES) t.shift();
        for (const l of this.listeners) l(line, stream);
      });
    }
  }

  /** Exit status, or undefined while running. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  get running(): boolean {
    return this.status === undefined;
  }

  /** The last lines (up to 200) seen on a stream. */
  lines(stream: Stream): readonly string[] {
    return this.tail[stream];
  }

  onLine(l: LineListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /**
   * Resolves with the first line (already seen or future) on `stream` for which `match`
   * returns a value other than undefined. Rejects if the process exits first or on timeout.
   */
  waitForLine<T>(match: (line: string) => T | undefined, opts: { stream?: Stream; timeoutMs?: number } = {}): Promise<T> {
    const stream = opts.stream ?? 'stdout';
    const timeoutMs = opts.timeoutMs ?? 15_000;
    for (const line of this.tail[stream]) {
      const v = match(line);
      if (v !== undefined) return Promise.resolve(v);
    }
    return new Promise<T>((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        off();
        fn();
      };
      const off = this.onLine((line, s) => {
        if (s !== stream) return;
        const v = match(line);
        if (v !== undefined) done(() => resolve(v));
      });
      const timer = setTimeout(
        () => done(() => reject(new WaitTimeoutError(`${this.label}: no matching ${stream} line within ${timeoutMs} ms; stderr tail:\n${this.tail.stderr.slice(-15).join('\n')}`))),
        timeoutMs,
      );
      void this.exited.then((st) =>
        done(() => reject(new ProcessExitedError(`${this.label} exited (code ${st.code}, signal ${st.signal}) before a matching ${stream} line; stderr tail:\n${this.tail.stderr.slice(-15).join('\n')}`))),
      );
    });
  }

  /** First stdout line that parses as a JSON object with `event === name`. */
  waitForEvent(name: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return this.waitForLine((line) => {
      const obj = parseJsonObject(line);
      return obj && obj['event'] === name ? obj : undefined;
    }, { timeoutMs });
  }

  /** Sends a signal to the process group (falls back to the pid). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, wait up to graceMs, then SIGKILL. Resolves with the exit status. */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    if (!this.running) return this.status as ExitStatus;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const st = await this.exited;
    clearTimeout(timer);
    return st;
  }
}

/** Parses a line as a JSON object; undefined if it is not one. */
export function parseJsonObject(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A set of processes stopped together. */
export class ProcessGroup {
  private readonly procs = new Set<Proc>();

  spawn(label: string, argv: readonly string[], opts: SpawnOptions = {}): Proc {
    const [file, ...args] = argv;
    if (file === undefined) throw new TypeError('spawn: empty argv');
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const p = new Proc(label, argv, child);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  get live(): Proc[] {
    return [...this.procs].filter((p) => p.running);
  }

  /** Stops every live process (in parallel). */
  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all(this.live.map((p) => p.stop(graceMs)));
  }

  /** SIGKILL every live process now (synchronous; for process 'exit' handlers). */
  killAllSync(): void {
    for (const p of this.live) p.signal('SIGKILL');
  }
}
