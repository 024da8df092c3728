/**
 * Receipt signing/verification with the Ed25519 key objects built once per signer and verifier
 * (a private key import costs about ten signatures; public keys come from common/ed25519-key.ts).
 * Signatures are identical to chain/state's signPaymentReceipt (Ed25519 is deterministic) and
 * verification accepts exactly what verifyPaymentReceipt accepts (tests cross-check both).
 */
import { createPrivateKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ed25519PublicKey } from '../common/ed25519-key.js';
import { paymentReceiptSigningBytes, type PaymentReceipt } from '../chain/state/payment-receipt.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const HEX32 = /^[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{128}$/;

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
    if (key === null || typeof signature !== 'string' || !HEX64.test(signature)) return false;
    try {
      return nodeVerify(null, paymentReceiptSigningBytes(r), key, Buffer.from(signature, 'hex'));
    } catch {
      return false; // not encodable (e.g. a non-integer seq): not a valid receipt
    }
  };
}
