/**
 * Per-byte pricing shared by relay (meter, claims) and client (signer, channel planning).
 * Prices are quoted per GiB (2^30 bytes) in base units (bigint), as in the relay's on-chain
 * registration (`pricePerGiB`). Rounding is always in the relay's favour for what is due and in
 * the payer's favour for what an amount covers, so the two functions form a Galois pair:
 *   amountForBytes(bytesCoveredBy(a, p), p) ≤ a  and  bytesCoveredBy(amountForBytes(b, p), p) ≥ b.
 */

export const KiB = 1024n;
export const MiB = 1024n * KiB;
export const GiB = 1024n * MiB;

export class PriceError extends Error {
  override readonly name = 'PriceError';
}

function checkNonNegative(v: bigint, what: string): void {
  if (typeof v !== 'bigint' || v < 0n) throw new PriceError(`${what} must be a non-negative bigint`);
}

/** Amount due for `bytes` at `pricePerGiB`: ceil(bytes × pricePerGiB / 2^30). */
export function amountForBytes(bytes: bigint, pricePerGiB: bigint): bigint {
  checkNonNegative(bytes, 'bytes');
  checkNonNegative(pricePerGiB, 'pricePerGiB');
  return (bytes * pricePerGiB + GiB - 1n) / GiB;
}

/**
 * Bytes fully paid by `amount` at `pricePerGiB`: the largest b with amountForBytes(b) ≤ amount,
 * i.e. floor(amount × 2^30 / pricePerGiB). A free relay (price 0) covers unlimited bytes: null.
 */
export function bytesCoveredBy(amount: bigint, pricePerGiB: bigint): bigint | null {
  checkNonNegative(amount, 'amount');
  checkNonNegative(pricePerGiB, 'pricePerGiB');
  if (pricePerGiB === 0n) return null;
  return (amount * GiB) / pricePerGiB;
}
