/**
 * Payment attacks against the chain itself, end to end: a devnet of node processes
 * (chain/devnet, 1 shard, one validator and one auditor process), a payer channel opened over
 * JSON-RPC, and claim txs built by the relay's own RpcChainPort (tx_submit to a node process,
 * which dry-runs claims) carrying hostile receipts:
 *  c) forged (signed by another key), replayed (same seq), stale (lower seq), over-deposit
 *     (capped at the deposit, and a further one then pays nothing), foreign-chain and
 *     wrong-channel receipts: each refused with an error naming the rule (channel-claim) and why;
 *  d) a relay claiming twice: the same receipt again, a newer receipt of the same amount, and
 *     two claims racing in the mempool (only one pays; the other is refused at submit or fails
 *     at execution as channel-claim); after the payer's close, the window and finalize, any
 *     claim is refused (finalized).
 * After every step the balances of payer and relay, the channel, the shard's burned total and
 * the supply invariant (on every node) are read from the nodes: exactly the accepted claims
 * moved tokens (delta − ceil(10 %) − fee to the relay, burn + fee burned), nothing else did.
 * Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall, RpcCallError } from '../../chain/node/rpc-client.js';
import { signTx } from '../../chain/state/tx.js';
import type { PaymentReceipt } from '../../chain/state/payment-receipt.js';
import { claimSplit, UNIT } from '../../chain/state/index.js';
import type { KeyPair } from '../../chain/node/keys.js';
import { ClientChain, seedSigner } from '../../client/payments/chain.js';
import { receiptSigner } from '../../protocol/payment-keys.js';
import { RpcChainPort } from '../../relay/payments/chain-port.js';
import { ChainRpcError, TxFailedError } from '../../relay/payments/chain-rpc.js';
import { waitFor } from '../helpers/wait.js';
import { balanceOf, chainOf, type ChainStatusView } from '../helpers/chain-rpc.js';

const FEE = UNIT / 100n;
const BURN = 10n;
const SHARD = 'shard-0';

interface Snapshot {
  payer: bigint;
  relay: bigint;
  burned: bigint;
  claimed: bigint;
  seq: number;
}

describe('payment attacks on the chain (devnet processes, claims over JSON-RPC)', { timeout: 240_000 }, () => {
  let dir: string;
  let d: Devnet;
  let url: string;
  let payerK: KeyPair;
  let relayK: KeyPair;
  let strangerK: KeyPair;
  let client: ClientChain;
  let port: RpcChainPort;
  let channelId: string;
  const deposit = 10n * UNIT;
  let sign: (r: PaymentReceipt) => string;

  const receipt = (seq: number, amount: bigint, o: Partial<PaymentReceipt> = {}): PaymentReceipt => ({ chainId: d.chainId, channelId, cumulativeBytes: BigInt(seq) * 1_000_000n, cumulativeAmount: amount, seq, ...o });
  const balance = (addr: string): Promise<bigint> => balanceOf(url, addr);
  const burned = async (): Promise<bigint> => BigInt((await rpcCall<{ perChain: Array<{ chain: string; burned: string }> }>(url, 'supply_get')).perChain.find((c) => c.chain === SHARD)!.burned);
  const snapshot = async (): Promise<Snapshot> => {
    const ch = (await port.getChannel(channelId))!;
    return { payer: await balance(payerK.address), relay: await balance(relayK.address), burned: await burned(), claimed: ch.claimed, seq: ch.seq };
  };
  const supplyHolds = async (): Promise<void> => {
    for (const u of d.rpcUrls()) await waitFor(`supply holds on ${u}`, async () => (await rpcCall<{ ok: boolean }>(u, 'supply_get')).ok, 30_000);
  };
  /** A refused claim: the node's error names the rule and matches `why`; nothing moved. */
  const refused = async (r: PaymentReceipt, signature: string, why: RegExp): Promise<void> => {
    const s0 = await snapshot();
    await assert.rejects(port.submitClaim(r, signature), (e: unknown) => {
      assert.ok(e instanceof ChainRpcError, String(e));
      assert.match(e.message, /channel-claim/);
      assert.match(e.message, why);
      return true;
    });
    assert.deepEqual(await snapshot(), s0, 'a refused claim moves nothing');
  };
  /** An accepted claim: waits until final, checks exactly delta − burn − fee reached the relay. */
  const accepted = async (r: PaymentReceipt, signature: string, delta: bigint): Promise<void> => {
    const s0 = await snapshot();
    const h = await port.submitClaim(r, signature);
    await port.waitTx(h, { timeoutMs: 60_000 });
    const s1 = await snapshot();
    const { burn } = claimSplit(delta, BURN);
    assert.equal(s1.claimed - s0.claimed, delta, 'the chain paid exactly the delta');
    assert.equal(s1.relay - s0.relay, delta - burn - FEE, 'relay: + delta − burn − fee');
    assert.equal(s1.burned - s0.burned, burn + FEE, 'burned: + ceil(10 %) + fee');
    assert.equal(s1.payer, s0.payer, 'the payer pays nothing beyond its deposit');
    assert.equal(s1.seq, r.seq);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tn4-paychain-'));
    d = await Devnet.create({ dir, shards: 1, group: 1, auditors: 1, accounts: 3, logLevel: 'warn' });
    await d.start();
    url = d.rpcUrls()[0]!;
    await waitFor('final blocks', async () => {
      const s = await rpcCall<ChainStatusView>(url, 'chain_status');
      return s.chains.every((c) => c.finalHeight >= 2);
    });
    [payerK, relayK, strangerK] = d.accounts as [KeyPair, KeyPair, KeyPair];
    const payerSeed = Buffer.from(payerK.seedHex, 'hex');
    sign = receiptSigner(payerSeed);
    client = await ClientChain.connect({ url, signer: seedSigner(payerSeed), fee: FEE });
    const opened = await client.openChannel(relayK.address, deposit);
    await client.waitFinal(opened.txHash, { timeoutMs: 60_000 });
    channelId = opened.channelId;
    port = await RpcChainPort.connect({ url: d.rpcUrls()[1] ?? url, relaySeed: Buffer.from(relayK.seedHex, 'hex'), relay: relayK.address, fee: FEE });
    await waitFor('channel visible to the relay', async () => (await port.getChannel(channelId)) !== null);
  });

  after(async () => {
    await d?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('c) forged: a receipt not signed by the payer is refused', async () => {
    const r = receipt(1, 1n * UNIT);
    await refused(r, receiptSigner(Buffer.from(strangerK.seedHex, 'hex'))(r), /forged/);
    await refused(r, receiptSigner(Buffer.from(relayK.seedHex, 'hex'))(r), /forged/);
    // a genuine signature over other figures (the relay bumped the amount)
    await refused({ ...r, cumulativeAmount: 5n * UNIT }, sign(r), /forged/);
  });

  test('c) foreign chain and wrong channel receipts are refused', async () => {
    const foreign = receipt(1, 1n * UNIT, { chainId: 'topvpn-mainnet' });
    await refused(foreign, sign(foreign), /foreign chain topvpn-mainnet/);
    // a receipt of another channel of the same payer, claimed on ours (a raw claim tx: the
    // relay's port always claims a receipt on its own channel)
    const other = receipt(1, 1n * UNIT, { channelId: 'ab'.repeat(32) });
    const s0 = await snapshot();
    const stx = signTx({ chainId: d.chainId, chain: SHARD, from: relayK.address, nonce: 0, fee: FEE, op: { type: 'channel-claim', channelId, receipt: other, receiptSignature: sign(other) } }, Buffer.from(relayK.seedHex, 'hex'));
    await assert.rejects(rpcCall(url, 'tx_submit', [stx]), (e: unknown) => e instanceof RpcCallError && /channel-claim/.test(e.message) && /wrong channel/.test(e.message));
    assert.deepEqual(await snapshot(), s0);
  });

  test('c) replayed (same seq) and stale (lower seq) receipts are refused after a valid claim', async () => {
    const r1 = receipt(1, 1n * UNIT);
    await accepted(r1, sign(r1), 1n * UNIT);
    await refused(r1, sign(r1), /seq 1 ≤ claimed seq 1 \(stale\)/);
    const r3 = receipt(3, 2n * UNIT);
    await accepted(r3, sign(r3), 1n * UNIT);
    const r2 = receipt(2, 3n * UNIT); // lower seq, even with a higher amount
    await refused(r2, sign(r2), /seq 2 ≤ claimed seq 3 \(stale\)/);
    await supplyHolds();
  });

  test('d) claiming twice: same receipt, same amount under a new seq, and a mempool race pay once', async () => {
    const r3 = receipt(3, 2n * UNIT);
    await refused(r3, sign(r3), /stale/);
    const r4 = receipt(4, 2n * UNIT);
    await refused(r4, sign(r4), /adds nothing over claimed/);
    // two claims submitted back to back: both may pass the node's dry run, only one can pay
    const s0 = await snapshot();
    const a = receipt(5, 4n * UNIT);
    const b = receipt(6, 4n * UNIT);
    const outcomes: string[] = [];
    const hashes: string[] = [];
    for (const r of [a, b]) {
      try {
        hashes.push(await port.submitClaim(r, sign(r)));
      } catch (e) {
        assert.ok(e instanceof ChainRpcError);
        assert.match(e.message, /channel-claim.*(adds nothing|stale)/);
        outcomes.push('refused at submit');
      }
    }
    for (const h of hashes) {
      try {
        await port.waitTx(h, { timeoutMs: 60_000 });
        outcomes.push('ok');
      } catch (e) {
        assert.ok(e instanceof TxFailedError, String(e));
        assert.equal(e.rule, 'channel-claim');
        outcomes.push('failed at execution');
      }
    }
    console.log(`# d) two racing claims: ${outcomes.join(', ')}`);
    assert.equal(outcomes.filter((o) => o === 'ok').length, 1, `exactly one of the two claims paid: ${outcomes.join(', ')}`);
    const s1 = await snapshot();
    const { burn } = claimSplit(2n * UNIT, BURN);
    assert.equal(s1.claimed - s0.claimed, 2n * UNIT);
    assert.equal(s1.relay - s0.relay, 2n * UNIT - burn - FEE, 'the relay got one claim, one fee');
    assert.equal(s1.burned - s0.burned, burn + FEE);
    assert.equal(s1.payer, s0.payer);
    await supplyHolds();
  });

  test('c) over-deposit: a receipt above the deposit pays at most the deposit; a bigger one then pays nothing', async () => {
    const s0 = await snapshot();
    const big = receipt(7, deposit + 50n * UNIT);
    await accepted(big, sign(big), deposit - s0.claimed);
    assert.equal((await snapshot()).claimed, deposit, 'claimed is capped at the deposit');
    const bigger = receipt(8, deposit + 500n * UNIT);
    await refused(bigger, sign(bigger), /adds nothing over claimed/);
    await supplyHolds();
  });

  test('d) after close, challenge window and finalize, any claim is refused; the payer got deposit − claimed back', async () => {
    const close = await client.closeChannel(channelId);
    await client.waitFinal(close, { timeoutMs: 60_000 });
    const ch = (await port.getChannel(channelId))!;
    assert.equal(ch.status, 'closing');
    await waitFor('challenge window over', async () => (await chainOf(url, SHARD)).finalHeight >= ch.closesAt!, 120_000);
    const payer0 = await balance(payerK.address);
    const fin = await client.finalizeChannel(channelId);
    await client.waitFinal(fin, { timeoutMs: 60_000 });
    assert.equal((await port.getChannel(channelId))!.status, 'finalized');
    assert.equal(await balance(payerK.address), payer0 + (deposit - ch.claimed) - FEE, 'refund = deposit − claimed, minus the finalize fee');
    const late = receipt(9, deposit);
    await refused(late, sign(late), /finalized/);
    // and the payer cannot finalize twice (no second refund)
    const payer1 = await balance(payerK.address);
    await assert.rejects(async () => {
      const h = await client.finalizeChannel(channelId);
      await client.waitFinal(h, { timeoutMs: 60_000 });
    }, /not closing \(finalized\)/);
    assert.equal(await balance(payerK.address), payer1, 'a refused finalize refunds nothing');
    await supplyHolds();
  });
});
