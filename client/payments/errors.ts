/** Errors of the client's payment pieces (signer, channel planning). */

/**
 * A relay reported more bytes served on a channel than it can honestly have served: more than
 * what we would ever pay for (allowance of our own measure) plus its credit window. The hop
 * gets no further receipt.
 */
export class OverclaimError extends Error {
  override readonly name = 'OverclaimError';
  constructor(
    readonly channelId: string,
    /** Bytes the relay claimed for this session (−1 when repeating an earlier verdict). */
    readonly claimedBytes: bigint,
    readonly measuredBytes: bigint,
    /** The most an honest relay could have reported. */
    readonly boundBytes: bigint,
  ) {
    super(
      claimedBytes < 0n
        ? `relay on channel ${channelId.slice(0, 12)} overclaimed earlier; no more receipts`
        : `relay on channel ${channelId.slice(0, 12)} claims ${claimedBytes} bytes, we measured ${measuredBytes} (bound ${boundBytes})`,
    );
  }
}

/** Signer options that cannot work (negative amounts, bad seed, resume above the deposit). */
export class SignerConfigError extends Error {
  override readonly name = 'SignerConfigError';
}

/** The user's budget cannot fund even the minimum useful deposit for a hop. */
export class BudgetTooSmallError extends Error {
  override readonly name = 'BudgetTooSmallError';
}

/** Channel planning inputs that cannot work (no hops, negative prices...). */
export class ChannelPlanError extends Error {
  override readonly name = 'ChannelPlanError';
}
