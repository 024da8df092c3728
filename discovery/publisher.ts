/**
 * Relay side of discovery: signs this relay's descriptor with a fresh lifetime, gossips it
 * at start and every refreshIntervalMs (well before it expires), serves it (with every
 * other relay's descriptor the directory holds) to peers that ask, and re-gossips
 * descriptors the directory newly accepts, so a client needs only one bootstrap peer.
 * Re-gossiping bytes that already travelled on the topic is a no-op (transport.ts), so
 * forwarding does not loop.
 */
import type { Logger } from 'pino';
import { SystemClock, type Clock, type TimerHandle } from '../common/clock.js';
import { silentLogger } from '../common/log.js';
import { MAX_DESCRIPTOR_LIFETIME_MS, encodeDescriptor, signDescriptor, type Descriptor, type DescriptorBody } from '../protocol/descriptor.js';
import type { Directory } from './directory.js';
import type { DiscoveryTransport } from './transport.js';

export const DEFAULT_DESCRIPTOR_LIFETIME_MS = 30 * 60_000;
export const DEFAULT_REFRESH_INTERVAL_MS = 10 * 60_000;

/** The descriptor fields a relay chooses; the publisher sets publishedAt and expiresAt. */
export type DescriptorTemplate = Omit<DescriptorBody, 'publishedAt' | 'expiresAt'>;

export class PublisherConfigError extends Error {
  override readonly name = 'PublisherConfigError';
}

export interface PublisherOptions {
  transport: DiscoveryTransport;
  /** Serves this relay's descriptor alongside the ones it holds; must be attached to `transport`. */
  directory: Directory;
  /** Read at every (re)publish, so price or endpoint changes go out with the next refresh. */
  template: () => DescriptorTemplate;
  /** Ed25519 signer for template().nodeAddress. */
  sign: (message: Uint8Array) => Uint8Array;
  clock?: Clock;
  lifetimeMs?: number;
  refreshIntervalMs?: number;
  /** Re-gossip descriptors the directory accepts (default true). */
  forward?: boolean;
  log?: Logger;
}

export class DescriptorPublisher {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly lifetimeMs: number;
  private readonly refreshIntervalMs: number;
  private timer: TimerHandle | undefined;
  private offChange: (() => void) | undefined;
  private currentDescriptor: Descriptor | undefined;
  private running = false;
  /** Number of descriptors this relay signed and gossiped. */
  published = 0;
  /** Number of other relays' descriptors re-gossiped. */
  forwarded = 0;

  constructor(private readonly opts: PublisherOptions) {
    this.clock = opts.clock ?? new SystemClock();
    this.log = opts.log ?? silentLogger();
    this.lifetimeMs = opts.lifetimeMs ?? DEFAULT_DESCRIPTOR_LIFETIME_MS;
    this.refreshIntervalMs = opts.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    if (!(this.lifetimeMs > 0 && this.lifetimeMs <= MAX_DESCRIPTOR_LIFETIME_MS)) {
      throw new PublisherConfigError(`lifetimeMs must be in 1..${MAX_DESCRIPTOR_LIFETIME_MS}`);
    }
    if (!(this.refreshIntervalMs > 0 && this.refreshIntervalMs < this.lifetimeMs)) {
      throw new PublisherConfigError('refreshIntervalMs must be positive and shorter than lifetimeMs');
    }
  }

  /** The descriptor now being served. */
  current(): Descriptor | undefined {
    return this.currentDescriptor;
  }

  /** Signs and gossips the first descriptor, then refreshes on the timer. Resolves with the first descriptor. */
  async start(): Promise<Descriptor> {
    if (this.running) return this.currentDescriptor!;
    this.running = true;
    if (this.opts.forward !== false) {
      const self = this.opts.template().nodeAddress;
      this.offChange = this.opts.directory.onChange((c) => {
        if ((c.kind === 'added' || c.kind === 'updated') && c.nodeAddress !== self) {
          this.forwarded++;
          this.opts.transport.publish(this.opts.directory.topic, c.bytes).catch((err: unknown) => {
            this.log.debug({ err: (err as Error).message }, 'forward failed');
          });
        }
      });
    }
    const d = await this.republish();
    this.schedule();
    return d;
  }

  stop(): void {
    this.running = false;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.offChange?.();
    this.offChange = undefined;
  }

  /** Signs a descriptor valid from now for lifetimeMs, serves it and gossips it. */
  async republish(): Promise<Descriptor> {
    const prev = this.currentDescriptor;
    // publishedAt strictly increases, so peers replace the old one even within one millisecond.
    const publishedAt = Math.max(Math.floor(this.clock.wallMs()), prev ? prev.publishedAt + 1 : 0);
    const d = signDescriptor({ ...this.opts.template(), publishedAt, expiresAt: publishedAt + this.lifetimeMs }, this.opts.sign);
    this.currentDescriptor = d;
    this.opts.directory.setLocal(d);
    if (prev && prev.nodeAddress !== d.nodeAddress) this.opts.directory.removeLocal(prev.nodeAddress);
    try {
      await this.opts.transport.publish(this.opts.directory.topic, encodeDescriptor(d));
      this.published++;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'descriptor publish failed; peers still get it by request');
    }
    return d;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.republish()
        .catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'descriptor refresh failed'))
        .finally(() => this.schedule());
    }, this.refreshIntervalMs);
  }
}
