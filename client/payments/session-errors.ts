/** Errors of the client's payment session (binding a circuit to its channels). */
import type { BindRefusal } from '../../protocol/payment.js';

/** A hop refused to bill the circuit to our channel. */
export class ChannelRefusedError extends Error {
  override readonly name = 'ChannelRefusedError';
  constructor(
    readonly hop: number,
    readonly channelId: string,
    readonly reason: BindRefusal,
  ) {
    super(`hop ${hop} refused channel ${channelId.slice(0, 12)}: ${reason}`);
  }
}

/** A hop never answered CHANNEL_BIND within the bind timeout. */
export class BindTimeoutError extends Error {
  override readonly name = 'BindTimeoutError';
  constructor(
    readonly hop: number,
    readonly channelId: string,
    readonly waitedMs: number,
  ) {
    super(`hop ${hop} did not answer CHANNEL_BIND for channel ${channelId.slice(0, 12)} within ${waitedMs} ms`);
  }
}

/** A hop stated a higher price in CHANNEL_BOUND than the one we agreed to pay. */
export class PriceMismatchError extends Error {
  override readonly name = 'PriceMismatchError';
  constructor(
    readonly hop: number,
    readonly stated: bigint,
    readonly agreed: bigint,
  ) {
    super(`hop ${hop} states price ${stated}/GiB, we agreed to ${agreed}/GiB`);
  }
}

/** The session cannot start or was used wrongly (hop count mismatch, circuit not up, ended). */
export class PaymentSessionError extends Error {
  override readonly name = 'PaymentSessionError';
}
