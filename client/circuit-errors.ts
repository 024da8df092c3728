/** Client circuit errors and drop reasons. */

export type BuildFailure = 'timeout' | 'auth' | 'refused' | 'closed';

/** A circuit build failed at `hop` (0 = entry). */
export class CircuitBuildError extends Error {
  override readonly name = 'CircuitBuildError';
  constructor(
    readonly hop: number,
    readonly reason: BuildFailure,
    detail?: string,
  ) {
    super(`circuit build failed at hop ${hop}: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

/** Bad path or use of a Circuit in the wrong state. */
export class CircuitUsageError extends Error {
  override readonly name = 'CircuitUsageError';
}

export const CLIENT_DROP_REASONS = [
  'malformed',
  'unknown_type',
  'unknown_index',
  'unknown_epoch',
  'replay',
  'auth',
  'misrouted',
  'handshake',
  'unexpected',
  'not_ready',
  'expired',
  'internal',
] as const;

export type ClientDropReason = (typeof CLIENT_DROP_REASONS)[number];

export function emptyClientDrops(): Record<ClientDropReason, number> {
  const d = {} as Record<ClientDropReason, number>;
  for (const r of CLIENT_DROP_REASONS) d[r] = 0;
  return d;
}
