/**
 * A transaction (or incoming receipt) the state transition refuses. `rule` names the rule
 * file that refused it ("transfer", "channel-claim", "nonce", ...); the message says why.
 */
export class TxRejectedError extends Error {
  override name = 'TxRejectedError';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

/** The block itself is malformed (wrong chain or height); applyBlock throws it. */
export class BlockRejectedError extends Error {
  override name = 'BlockRejectedError';
}

export function reject(rule: string, message: string): never {
  throw new TxRejectedError(rule, message);
}
