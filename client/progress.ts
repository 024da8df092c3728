/**
 * `topvpn connect` progress for people, on stderr: on a TTY one line per step with a spinner
 * that turns into a check mark when the next step starts; otherwise one plain line per step
 * (logs, pipes, tests). `--json` does not use this (its progress objects go to stdout).
 */

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_MS = 80;

export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): boolean;
}

export class ProgressReporter {
  private current: string | undefined;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(private readonly out: ProgressSink = process.stderr) {
    this.tty = out.isTTY === true;
  }

  /** A new step: the previous one is marked done. */
  step(text: string): void {
    if (!this.tty) {
      this.out.write(`${text}\n`);
      return;
    }
    this.finish('✓');
    this.current = text;
    this.render();
    this.timer = setInterval(() => this.render(), FRAME_MS);
    this.timer.unref();
  }

  /** Ends the current step: ✓ when it succeeded, ✗ when it failed. */
  done(ok = true): void {
    if (this.tty) this.finish(ok ? '✓' : '✗');
  }

  private render(): void {
    if (this.current === undefined) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    this.out.write(`\r\x1b[2K${FRAMES[this.frame]} ${this.current}`);
  }

  private finish(mark: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.current !== undefined) this.out.write(`\r\x1b[2K${mark} ${this.current}\n`);
    this.current = undefined;
  }
}
