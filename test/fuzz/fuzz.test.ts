/**
 * Short fuzz run of every target (test/fuzz/targets.ts) in `npm test`: FUZZ_INPUTS inputs per
 * target (default 4000), fast-check seed FUZZ_SEED (default fixed, so a run is reproducible).
 * Each target must produce 0 crashes (errors outside its documented classes, broken
 * invariants) and 0 hangs (an input over HANG_MS). A failure prints the shrunk input as hex:
 * add it to regressions.test.ts with the fix. bench/fuzz.ts runs the same targets for millions
 * of inputs.
 */
import { after, test } from 'node:test';
import fc from 'fast-check';
import { closeTargets, makeTargets } from './targets.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, FuzzFinding, HANG_MS, hex, runInputConfirmed, spinCpu, threadCpuMs, type FuzzTarget } from './harness.js';

const INPUTS = Number(process.env.FUZZ_INPUTS ?? 4000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);

const targets = await makeTargets();
after(() => closeTargets(targets));

test('the registry covers every parser the issue lists', () => {
  const names = new Set(targets.map((t) => t.name));
  for (const n of [
    'protocol.messages',
    'protocol.handshake.respond',
    'protocol.handshake.finish',
    'protocol.payment.decode',
    'relay.meter.onReceipt',
    'protocol.descriptor.decode',
    'protocol.ipv4',
    'relay.exit-policy.parse',
    'relay.engine.onDatagram',
    'client.circuit.onDatagram',
    'chain.consensus.decodeMessage',
    'chain.state.decodeJson',
    'chain.node.parseSignedTx',
    'chain.node.decodePayload',
    'chain.node.decodeTxList',
    'chain.node.wire',
    'chain.node.FrameDecoder',
    'chain.rpc.handleText',
    'chain.config.readGenesis',
    'chain.config.readNodeConfig',
    'relay.config.flags',
    'client.config.flags',
    'client.relay-list',
    'relay.keys.readKeyFile',
    'deploy.loadConfig',
    'client.wallet.readWalletFile',
    'client.control.request',
  ]) {
    if (!names.has(n)) throw new Error(`missing fuzz target ${n}`);
  }
});

class Documented extends Error {}

/** A synthetic target: input byte 0 picks what run() does. */
const probe: FuzzTarget = {
  name: 'probe',
  parser: 'the harness itself',
  arbitrary: fc.constant(new Uint8Array(1)),
  allowedErrors: [Documented],
  allowed: (e) => e instanceof Error && e.message === 'documented plain error',
  run(b) {
    switch (b[0]) {
      case 1:
        throw new Documented('rejected input');
      case 2:
        throw new Error('documented plain error');
      case 3:
        throw new TypeError('undocumented');
      case 4:
        throw new FuzzFinding('broken invariant');
      case 5:
        return spinCpu(HANG_MS + 100);
      case 7:
        return sleep(HANG_MS + 100);
      case 6:
        return Promise.reject(new TypeError('undocumented, async'));
      default:
        return undefined;
    }
  },
};

test('harness: documented errors pass, others are crashes, a run over HANG_MS of CPU is a hang', async () => {
  const kind = async (tag: number): Promise<string> => (await runInputConfirmed(probe, Uint8Array.of(tag))).kind;
  // a synchronous target gets its outcome without a promise
  const sync = runInputConfirmed(probe, Uint8Array.of(0));
  if (sync instanceof Promise || sync.kind !== 'ok') throw new Error('a sync ok run should give a sync ok outcome');
  const got = [await kind(1), await kind(2), await kind(3), await kind(4), await kind(6), await kind(5), await kind(7)];
  // A run slow in wall time only (waiting, or not scheduled) is no hang where CPU time can be read.
  const want = ['ok', 'ok', 'crash', 'crash', 'crash', 'hang', threadCpuMs() === undefined ? 'hang' : 'ok'];
  if (got.join() !== want.join()) throw new Error(`outcomes ${got.join()} ≠ ${want.join()}`);
});

for (const t of targets) {
  test(`fuzz ${t.name}: ${INPUTS} inputs, no crash, no hang`, async () => {
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(t.arbitrary, async (input) => {
        ran++;
        const o = await runInputConfirmed(t, input);
        if (o.kind === 'hang') throw new Error(`hang (${o.ms.toFixed(0)} ms)${o.error === undefined ? '' : `, then ${describeError(o.error)}`}\ninput: ${hex(input)}`);
        if (o.kind === 'crash') throw new Error(`crash: ${describeError(o.error)}\ninput: ${hex(input)}`);
      }),
      { numRuns: INPUTS, seed: SEED, endOnFailure: true },
    );
    if (ran < INPUTS) throw new Error(`only ${ran} of ${INPUTS} inputs ran`);
  });
}
