/**
 * A paid in-memory network: three RelayEngines (each also an exit) with the payment hooks, on
 * the FakeNet of the relay tests, and one FakeChain (the real chain/state applyBlock) holding the
 * payer's channels to the three relays. Each relay has its own ChainPort view of that chain and
 * its own ReceiptBook. The relays are homed on the payer's shard, so claim payouts land in the
 * same block (no cross-shard receipt to carry).
 */
import { ManualClock } from '../../../common/clock.js';
import { silentLogger } from '../../../common/log.js';
import { channelIdFor, txHash, UNIT, type KeyPair, type PaymentReceipt } from '../../../chain/state/index.js';
import { Circuit, type HopInfo } from '../../../client/circuit.js';
import { RelayEngine, type Endpoint } from '../../../relay/engine.js';
import { parseExitPolicy } from '../../../relay/exit-policy.js';
import { buildClaimTx, type ChainPort } from '../../../relay/payments/claims.js';
import { CachedChannelSource, createRelayPaymentHooks, type AppControlSender, type PaymentEvent, type RelayPaymentHooks } from '../../../relay/payments/hooks.js';
import { ReceiptBook } from '../../../relay/payments/meter.js';
import { generateX25519 } from '../../../protocol/x25519.js';
import { FakeChain, PARAMS } from '../payments/fake-chain.js';
import { CHAIN_ID, key, keyNear } from '../payments/helpers.js';
import { FakeNet } from '../relay/fake-net.js';

export const PRICE = UNIT; // 1 TOP per GiB
export const POOL = '198.19.0.0/16';
export const INTERNET = '198.18.200.10';

/** A ChainPort for `relay` over the shared fake chain (claims queued until the test mines). */
export function portFor(chain: FakeChain, relay: KeyPair): ChainPort & { submissions: number } {
  const port = {
    submissions: 0,
    async submitClaim(receipt: PaymentReceipt, signature: string): Promise<string> {
      port.submissions++;
      const ch = chain.findChannel(receipt.channelId);
      const stx = buildClaimTx({ chainId: PARAMS.chainId, shardCount: PARAMS.shardCount, payer: ch?.payer ?? relay.address, relaySeed: relay.seed, relay: relay.address, fee: PARAMS.minFee, best: { receipt, signature } });
      chain.mempool.push(stx);
      return txHash(stx.tx);
    },
    getChannel: (id: string) => chain.getChannel(id),
  };
  return port;
}

/** Opens payer → relay with `deposit`, mines it, returns the channel id. */
export function openTo(chain: FakeChain, payer: KeyPair, relay: string, deposit: bigint): string {
  const nonce = chain.state(chain.home(payer.address)).accounts.get(payer.address)?.nonce ?? 0;
  chain.send(payer, { type: 'channel-open', relay, deposit });
  chain.mine();
  return channelIdFor(PARAMS.chainId, payer.address, nonce);
}

export interface PaidRelay {
  key: KeyPair;
  engine: RelayEngine;
  hooks: RelayPaymentHooks;
  book: ReceiptBook;
  port: ChainPort & { submissions: number };
  endpoint: Endpoint;
  staticPublic: Uint8Array;
  exitWrites: Buffer[];
  events: PaymentEvent[];
}

export interface PaidNet {
  clock: ManualClock;
  net: FakeNet;
  chain: FakeChain;
  payer: KeyPair;
  relays: PaidRelay[];
  path(): HopInfo[];
  newCircuit(): Circuit;
}

export interface PaidNetOptions {
  creditWindowBytes?: bigint;
  /** Wraps a relay's reply path (a dishonest relay in tests). */
  wrapSender?: (i: number, s: AppControlSender) => AppControlSender;
  /** Without hooks: the unpaid baseline for overhead figures. */
  unpaid?: boolean;
  label?: string;
}

export function paidNet(o: PaidNetOptions = {}): PaidNet {
  const label = o.label ?? 'paid';
  const clock = new ManualClock();
  const net = new FakeNet();
  const payer = key(`${label}-payer`);
  const keys = [0, 1, 2].map((i) => keyNear(payer, PARAMS.shardCount, `${label}-relay-${i}`));
  const chain = new FakeChain(keys[0]!, [{ who: payer, amount: 1000n * UNIT }]);
  const policy = parseExitPolicy(['reject 198.18.0.0/24:*', 'accept 198.18.0.0/15:*', 'reject *:*']);
  const relays: PaidRelay[] = keys.map((k, i) => {
    const endpoint = { host: `198.18.0.${i + 1}`, port: 5000 };
    const kp = generateX25519();
    const book = new ReceiptBook();
    const port = portFor(chain, k);
    const events: PaymentEvent[] = [];
    const hooks = createRelayPaymentHooks({
      chainId: CHAIN_ID,
      relay: k.address,
      pricePerGiB: PRICE,
      ...(o.creditWindowBytes !== undefined ? { creditWindowBytes: o.creditWindowBytes } : {}),
      chain: new CachedChannelSource(port, clock),
      book,
      log: silentLogger(),
      onOutcome: (ev) => events.push(ev),
    });
    const exitWrites: Buffer[] = [];
    const engine = new RelayEngine({
      clock,
      log: silentLogger(),
      identity: { staticSecret: kp.secretKey, staticPublic: kp.publicKey },
      send: net.sender(endpoint),
      exit: { write: (ps) => void exitWrites.push(...ps), policy, pool: POOL },
      ...(o.unpaid ? {} : { hooks }),
    });
    hooks.attach(o.wrapSender ? o.wrapSender(i, engine) : engine);
    net.attach(endpoint, (p, from) => engine.onDatagram(p, from));
    return { key: k, engine, hooks, book, port, endpoint, staticPublic: kp.publicKey, exitWrites, events };
  });
  let nextPort = 40000;
  return {
    clock,
    net,
    chain,
    payer,
    relays,
    path: () => relays.map((r) => ({ endpoint: r.endpoint, staticPublic: r.staticPublic })),
    newCircuit() {
      const me = { host: '198.18.1.1', port: nextPort++ };
      const c = new Circuit({ clock, log: silentLogger(), send: net.sender(me) }, this.path());
      net.attach(me, (p, from) => c.onDatagram(p, from));
      return c;
    },
  };
}

export { CHAIN_ID, PARAMS };
