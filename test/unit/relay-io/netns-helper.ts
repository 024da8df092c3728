/**
 * Test helper: throwaway network namespaces named `tva-<tag>-<pid>` (this suite's prefix),
 * a CommandRunner that runs inside one, and guaranteed clean-up (also on process exit).
 * Run suites that use it under `flock /tmp/topvpn-heavy.lock`.
 */
import { execFileSync } from 'node:child_process';
import { type CommandRunner, runCommand } from '../../../relay/system.js';

const live = new Set<string>();
process.on('exit', () => {
  for (const ns of live) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
});

export class Netns {
  readonly run: CommandRunner;
  constructor(readonly name: string) {
    if (!name.startsWith('tva-')) throw new Error(`netns ${name}: this suite may only use tva-* namespaces`);
    runCommand(['ip', 'netns', 'add', name]);
    live.add(name);
    this.run = (argv, input) => runCommand(['ip', 'netns', 'exec', name, ...argv], input);
    this.run(['ip', 'link', 'set', 'lo', 'up']);
  }

  static create(tag: string): Netns {
    return new Netns(`tva-${tag}-${process.pid}`);
  }

  destroy(): void {
    if (!live.has(this.name)) return;
    live.delete(this.name);
    try {
      runCommand(['ip', 'netns', 'del', this.name]);
    } catch {
      /* already gone */
    }
  }
}
