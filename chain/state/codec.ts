import { canonicalJson } from './encoding.js';

/** Field names whose values are bigints (decimal strings in JSON). */
export const BIGINT_FIELDS: ReadonlySet<string> = new Set([
  'balance', 'used', 'locked', 'amount', 'deposit', 'claimed', 'cumulativeBytes', 'cumulativeAmount',
  'fee', 'burned', 'reserve', 'issued', 'pricePerGiB', 'slashed', 'feeCharged', 'total',
]);

/** JSON for the wire and storage: the canonical encoding (bigints as decimal strings). */
export function encodeJson(value: unknown): string {
  return canonicalJson(value);
}

/**
 * Parses encodeJson output back: decimal strings under BIGINT_FIELDS become bigints. Works for
 * ChainState, SignedTx, CrossReceipt, BlockBody, ItemResult and PaymentReceipt. The caller
 * asserts the resulting type. Throws only SyntaxError (also for text nested too deeply to parse).
 */
export function decodeJson<T>(text: string): T {
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (typeof value === 'string' && BIGINT_FIELDS.has(key) && /^-?[0-9]+$/.test(value)) return BigInt(value);
      return value;
    }) as T;
  } catch (e) {
    if (e instanceof RangeError) throw new SyntaxError('JSON nested too deeply');
    throw e;
  }
}
