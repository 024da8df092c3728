/**
 * Prints the cost of signing/verifying a payment receipt against the cost of the data it pays
 * for (not a test: no assertions; run `node dist/test/unit/payments/sign-cost.bench.js`).
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { keyPairFromSeed, sha256, signPaymentReceipt, verifyPaymentReceipt, type PaymentReceipt } from '../../../chain/state/index.js';

const kp = keyPairFromSeed(sha256('bench'));
const r: PaymentReceipt = { chainId: 'topvpn-mainnet', channelId: 'ab'.repeat(32), cumulativeBytes: 123456789n, cumulativeAmount: 987654n, seq: 1 };

function perOp(n: number, f: (i: number) => void): number {
  for (let i = 0; i < Math.min(200, n); i++) f(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f(i);
  return Number(process.hrtime.bigint() - t0) / n / 1000; // µs
}

const N = 5000;
const sigs: string[] = [];
const signUs = perOp(N, (i) => sigs.push(signPaymentReceipt({ ...r, seq: i + 1 }, kp.seed)));
const verifyUs = perOp(N, (i) => void verifyPaymentReceipt({ ...r, seq: (i % sigs.length) + 1 }, sigs[i % sigs.length]!, kp.address));

// One AEAD layer over 1 MiB in 1400-byte packets (node:crypto ChaCha20-Poly1305, as the hot path)
const key = randomBytes(32);
const pkt = randomBytes(1400);
const nonce = Buffer.alloc(12);
const perMiB = Math.ceil((1 << 20) / 1400);
const aeadMiBUs = perOp(200, (i) => {
  for (let j = 0; j < perMiB; j++) {
    nonce.writeUInt32LE(i * perMiB + j, 4);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    c.update(pkt);
    c.final();
    c.getAuthTag();
  }
});

console.log(`receipt sign   ${signUs.toFixed(1)} µs/op (canonical JSON + Ed25519, node:crypto)`);
console.log(`receipt verify ${verifyUs.toFixed(1)} µs/op`);
console.log(`one AEAD layer over 1 MiB (749 × 1400 B): ${(aeadMiBUs / 1000).toFixed(2)} ms`);
for (const cadence of [256, 1024, 4096]) {
  const mib = cadence / 1024;
  console.log(`cadence ${cadence} KiB: client sign = ${((signUs / (aeadMiBUs * mib)) * 100).toFixed(2)} % of one layer's AEAD for the same bytes; relay verify = ${((verifyUs / (aeadMiBUs * mib)) * 100).toFixed(2)} %`);
}

// The cached-key paths the signer and meter use (protocol/payment-keys.ts)
import { receiptSigner, receiptVerifier } from '../../../protocol/payment-keys.js';
const fastSign = receiptSigner(kp.seed);
const fastVerify = receiptVerifier(kp.address);
const fastSignUs = perOp(N, (i) => void fastSign({ ...r, seq: i + 1 }));
const fastVerifyUs = perOp(N, (i) => void fastVerify({ ...r, seq: (i % sigs.length) + 1 }, sigs[i % sigs.length]!));
console.log(`cached-key sign ${fastSignUs.toFixed(1)} µs/op, verify ${fastVerifyUs.toFixed(1)} µs/op`);
for (const cadence of [256, 1024, 4096]) {
  const mib = cadence / 1024;
  console.log(`cadence ${cadence} KiB (cached keys): client sign = ${((fastSignUs / (aeadMiBUs * mib)) * 100).toFixed(2)} % of one layer's AEAD for the same bytes; relay verify = ${((fastVerifyUs / (aeadMiBUs * mib)) * 100).toFixed(2)} %`);
}
