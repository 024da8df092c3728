import { homeChain, keyPairFromSeed, sha256, signPaymentReceipt, type KeyPair, type PaymentReceipt } from '../../../chain/state/index.js';
import type { SignedPaymentReceipt } from '../../../protocol/payment.js';

export const CHAIN_ID = 'topvpn-devnet';

/** Deterministic key number i. */
export function key(i: number | string): KeyPair {
  return keyPairFromSeed(sha256(`payments-test-key-${i}`));
}

export const payer = key('payer');
export const relay = key('relay');
export const stranger = key('stranger');
export const CHANNEL = sha256('payments-test-channel').reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');
export const OTHER_CHANNEL = 'ab'.repeat(32);

export function signed(r: Partial<PaymentReceipt> & { seq: number; cumulativeAmount: bigint }, by: KeyPair = payer): SignedPaymentReceipt {
  const receipt: PaymentReceipt = { chainId: CHAIN_ID, channelId: CHANNEL, cumulativeBytes: 0n, ...r };
  return { receipt, signature: signPaymentReceipt(receipt, by.seed) };
}

/** A deterministic key homed on the same shard as `other` (so claim payouts stay on one shard). */
export function keyNear(other: KeyPair, shardCount: number, label: string): KeyPair {
  const home = homeChain(other.address, shardCount);
  for (let i = 0; ; i++) {
    const k = key(`${label}-${i}`);
    if (homeChain(k.address, shardCount) === home) return k;
  }
}
