/** Errors of the relay's payment pieces (meter, bind check, claims). */

/** Meter terms or channel binding that cannot be metered (bad price/window, a channel not ours). */
export class MeterConfigError extends Error {
  override readonly name = 'MeterConfigError';
}

/** Claim policy/worker configuration that cannot work (e.g. negative thresholds). */
export class ClaimConfigError extends Error {
  override readonly name = 'ClaimConfigError';
}

/** The earnings figures do not reconcile (a bug or a corrupted store): carries what failed. */
export class LedgerInconsistencyError extends Error {
  override readonly name = 'LedgerInconsistencyError';
}
