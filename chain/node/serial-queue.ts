/**
 * The serial queue of a chain runtime: items run one at a time in order, so a consensus
 * core's actions (persist before send) and commits keep their order. An item that throws is
 * logged and counted as an 'internal' incident; the queue goes on. Nothing runs once stopped.
 */
import type { RuntimeHost } from './runtime-types.js';

export class SerialQueue {
  private readonly items: Array<() => Promise<void> | void> = [];
  private busy = false;

  constructor(
    private readonly chain: string,
    private readonly host: RuntimeHost,
    private readonly stopped: () => boolean,
  ) {}

  /** True while an item runs. */
  get running(): boolean {
    return this.busy;
  }

  push(fn: () => Promise<void> | void): void {
    this.items.push(fn);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.items.length > 0 && !this.stopped()) {
        const fn = this.items.shift()!;
        try {
          await fn();
        } catch (e) {
          this.host.log.error({ chain: this.chain, err: (e as Error).message, stack: (e as Error).stack }, 'chain runtime error');
          this.host.onIncident?.('internal', this.chain);
        }
      }
    } finally {
      this.busy = false;
    }
  }
}
