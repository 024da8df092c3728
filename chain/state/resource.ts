import type { ResourceParams } from './params.js';
import type { ResourceLock } from './types.js';

/**
 * TGAS-like quota. Capacity C = floor(locked / lockPerTx) txs per window. Usage is kept in
 * tx·block units: a covered tx adds W = windowBlocks, and usage drains by C per block, so a
 * fully used quota refills linearly in W blocks. Exact integer math.
 */
export function quotaCapacity(lock: ResourceLock, p: ResourceParams): bigint {
  return lock.locked / p.lockPerTx;
}

/** Usage after draining up to `height`. */
export function usageAt(lock: ResourceLock, p: ResourceParams, height: number): bigint {
  const drained = quotaCapacity(lock, p) * BigInt(Math.max(0, height - lock.lastHeight));
  return lock.used > drained ? lock.used - drained : 0n;
}

/** Fee-free transactions still available at `height`. */
export function quotaAvailable(lock: ResourceLock, p: ResourceParams, height: number): bigint {
  const room = quotaCapacity(lock, p) * BigInt(p.windowBlocks) - usageAt(lock, p, height);
  return room <= 0n ? 0n : room / BigInt(p.windowBlocks);
}

/** Whether one tx at `height` is covered by the quota. */
export function quotaCovers(lock: ResourceLock, p: ResourceParams, height: number): boolean {
  return quotaAvailable(lock, p, height) >= 1n;
}

/** Consumes one tx of quota (mutates; caller checked quotaCovers). */
export function consumeQuota(lock: ResourceLock, p: ResourceParams, height: number): void {
  lock.used = usageAt(lock, p, height) + BigInt(p.windowBlocks);
  lock.lastHeight = height;
}

/** Re-bases usage to `height` before the locked amount changes (mutates). */
export function settleUsage(lock: ResourceLock, p: ResourceParams, height: number): void {
  lock.used = usageAt(lock, p, height);
  lock.lastHeight = height;
}
