/**
 * Benchmark (prints figures, asserts nothing about speed): throughput of a 3-hop in-memory
 * circuit with and without payments (hooks on every relay + PaymentSession on the client),
 * same traffic (MIB MiB up, echoed back), runs interleaved after a warm-up.
 *   node dist/test/unit/payments-integration/overhead.bench.js [MiB] [rounds]
 */
import { silentLogger } from '../../../common/log.js';
import { amountForBytes, GiB, MiB } from '../../../protocol/payment-price.js';
import { LAYER_OVERHEAD } from '../../../protocol/constants.js';
import { receiptLen } from '../../../protocol/payment.js';
import { PaymentSession } from '../../../client/payments/session.js';
import { flush } from '../relay/fake-net.js';
import { CHAIN_ID, openTo, paidNet, PRICE } from './paid-net.js';
import { drive, type TrafficResult } from './traffic.js';

const mib = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 3);

async function run(paid: boolean, label: string): Promise<TrafficResult & { receipts: number[] }> {
  const pn = paidNet({ unpaid: !paid, label });
  const deposit = amountForBytes(10n * GiB, PRICE);
  const channels = pn.relays.map((r) => openTo(pn.chain, pn.payer, r.key.address, deposit));
  const c = pn.newCircuit();
  const b = c.build();
  await flush();
  const info = await b;
  let send = (ps: Buffer[]): void => c.sendIp(ps);
  let session: PaymentSession | undefined;
  if (paid) {
    const s = new PaymentSession({ circuit: c, clock: pn.clock, log: silentLogger(), chainId: CHAIN_ID, payer: pn.payer.address, payerSeed: pn.payer.seed, hops: channels.map((channelId) => ({ channelId, deposit, pricePerGiB: PRICE })) });
    s.onIp(() => undefined);
    const bp = s.bind();
    await flush();
    await bp;
    send = (ps) => s.sendIp(ps);
    session = s;
  } else c.onIp(() => undefined);
  const r = await drive({ send, src: info.ipv4, exit: pn.relays[2]!, bytes: mib * Number(MiB), echo: true });
  if (r.exitPackets !== r.sentPackets) throw new Error(`lost ${r.sentPackets - r.exitPackets} packets`);
  return { ...r, receipts: session?.stats().hops.map((h) => h.signed) ?? [] };
}

const rate = (r: TrafficResult): number => (2 * r.sentBytes) / Number(MiB) / (r.ms / 1000);
await run(false, 'warm-a');
await run(true, 'warm-b');
const paid: number[] = [];
const unpaid: number[] = [];
let last: Awaited<ReturnType<typeof run>> | undefined;
for (let i = 0; i < rounds; i++) {
  unpaid.push(rate(await run(false, `u${i}`)));
  last = await run(true, `p${i}`);
  paid.push(rate(last));
}
const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ctrl = last!.receipts.reduce((s, n, i) => s + n * (receiptLen(CHAIN_ID.length) + LAYER_OVERHEAD * (i + 1)), 0);
console.log(
  JSON.stringify({
    trafficMiB: 2 * mib,
    rounds,
    unpaidMiBps: unpaid.map((x) => +x.toFixed(1)),
    paidMiBps: paid.map((x) => +x.toFixed(1)),
    overheadPct: +((1 - med(paid) / med(unpaid)) * 100).toFixed(1),
    receiptsPerHop: last!.receipts,
    receiptBytesPctOfIp: +((ctrl / (2 * last!.sentBytes)) * 100).toFixed(3),
  }),
);
