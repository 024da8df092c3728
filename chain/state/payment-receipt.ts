import { canonicalBytes, isHex, toHex } from './encoding.js';
import { ed25519Sign, ed25519VerifyHex } from './crypto.js';

export const PAYMENT_RECEIPT_TAG = 'topvpn/payment-receipt/v1';

/**
 * A payer's cumulative promise for a channel: everything carried so far costs
 * `cumulativeAmount`; `seq` strictly increases with each receipt the payer signs.
 */
export interface PaymentReceipt {
  chainId: string;
  channelId: string;
  cumulativeBytes: bigint;
  cumulativeAmount: bigint;
  seq: number;
}

/** The exact bytes a payer signs: canonical JSON of the receipt plus the type tag. */
export function paymentReceiptSigningBytes(r: PaymentReceipt): Uint8Array {
  return canonicalBytes({
    type: PAYMENT_RECEIPT_TAG,
    chainId: r.chainId,
    channelId: r.channelId,
    cumulativeBytes: r.cumulativeBytes,
    cumulativeAmount: r.cumulativeAmount,
    seq: r.seq,
  });
}

export function signPaymentReceipt(r: PaymentReceipt, payerSeed: Uint8Array): string {
  return toHex(ed25519Sign(payerSeed, paymentReceiptSigningBytes(r)));
}

export function verifyPaymentReceipt(r: PaymentReceipt, signature: string, payer: string): boolean {
  if (!isHex(signature, 64)) return false;
  return ed25519VerifyHex(payer, paymentReceiptSigningBytes(r), signature);
}
