/** Per-process resource samples from /proc (Linux): resident memory and CPU time. */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export class ProcStatError extends Error {
  override readonly name = 'ProcStatError';
}

let clkTck: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`, usually 100). */
export function clockTicks(): number {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clkTck;
}

/** VmRSS of a process in MiB. */
export function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new ProcStatError(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** utime + stime of a process in seconds. */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * utime + stime of a process's main thread in seconds: for Node, the JS thread (with the syscalls
 * it makes); the rest of cpuSeconds is other threads (V8's compiler and GC helpers, libuv's pool,
 * LevelDB's compaction).
 */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
}

function statCpuSeconds(path: string): number {
  const s = readFileSync(path, 'utf8');
  // Fields after the ")" that ends the command name: state is field 3; utime 14, stime 15.
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new ProcStatError(`bad ${path}`);
  return (utime + stime) / clockTicks();
}

/** Samples RSS and CPU of a process every `intervalMs` until stop() returns the summary. */
export class ProcSampler {
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = performance.now();
  private readonly cpu0: number;
  private maxRss = 0;
  private rssSum = 0;
  private n = 0;
  private maxCpuPct = 0;
  private lastCpu: number;
  private lastT: number;

  constructor(readonly pid: number, intervalMs = 1000) {
    this.cpu0 = cpuSeconds(pid);
    this.lastCpu = this.cpu0;
    this.lastT = this.t0;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      const r = rssMb(this.pid);
      this.maxRss = Math.max(this.maxRss, r);
      this.rssSum += r;
      this.n++;
      const now = performance.now();
      const cpu = cpuSeconds(this.pid);
      if (now - this.lastT > 100) this.maxCpuPct = Math.max(this.maxCpuPct, ((cpu - this.lastCpu) / ((now - this.lastT) / 1000)) * 100);
      this.lastCpu = cpu;
      this.lastT = now;
    } catch {
      // the process is gone; stop() reports what was seen
    }
  }

  stop(): { rssMaxMb: number; rssAvgMb: number; cpuAvgPct: number; cpuMaxPct: number } {
    clearInterval(this.timer);
    this.sample();
    const wall = (performance.now() - this.t0) / 1000;
    return { rssMaxMb: this.maxRss, rssAvgMb: this.n > 0 ? this.rssSum / this.n : 0, cpuAvgPct: wall > 0 ? ((this.lastCpu - this.cpu0) / wall) * 100 : 0, cpuMaxPct: this.maxCpuPct };
  }
}
