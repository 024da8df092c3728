/**
 * Receipt signing/verification with the Ed25519 key objects built once per signer and verifier
 * (a private key import costs about ten signatures; public keys come from common/ed25519.ts).
 * Signatures are identical to chain/state's signPaymentReceipt (Ed25519 is deterministic) and
 * verification accepts exactly what verifyPaymentReceipt accepts (tests cross-check both).
 */
import { createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { ed25519PublicKey, ed25519VerifyWithKey } from '../common/ed25519.js';
import { paymentReceiptSigningBytes, type PaymentReceipt } from '../chain/state/payment-receipt.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const HEX32 = /^[0-9a-f]{64}$/;

export class ReceiptKeyError extends Error {
  override readonly name = 'ReceiptKeyError';
}

export type ReceiptSignFn = (r: PaymentReceipt) => string;
export type ReceiptVerifyFn = (r: PaymentReceipt, signature: string) => boolean;

/** A signer for one payer seed (32 bytes): returns the hex signature over paymentReceiptSigningBytes. */
export function receiptSigner(payerSeed: Uint8Array): ReceiptSignFn {
  if (payerSeed.length !== 32) throw new ReceiptKeyError('payer seed must be 32 bytes');
  const key: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, payerSeed]), format: 'der', type: 'pkcs8' });
  return (r) => nodeSign(null, paymentReceiptSigningBytes(r), key).toString('hex');
}

/** A verifier for one payer address (hex Ed25519 public key). A malformed address verifies nothing. */
export function receiptVerifier(payer: string): ReceiptVerifyFn {
  let key: KeyObject | null = null;
  if (typeof payer === 'string' && HEX32.test(payer)) {
    try {
      key = ed25519PublicKey(payer);
    } catch {
      key = null;
    }
  }
  return (r, signature) => {
    if (key === null) return false;
    let bytes: Uint8Array;
    try {
      bytes = paymentReceiptSigningBytes(r);
    } catch {
      return false; // not encodable (e.g. a non-integer seq): not a valid receipt
    }
    return ed25519VerifyWithKey(key, bytes, signature);
  };
}
