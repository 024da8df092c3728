/**
 * Short fuzz run of every target (test/fuzz/targets.ts) in `npm test`: FUZZ_INPUTS inputs per
 * target (default 2000), fast-check seed FUZZ_SEED (default fixed, so a run is reproducible).
 * Each target must produce 0 crashes (errors outside its documented classes, broken
 * invariants) and 0 hangs (an input over HANG_MS). A failure prints the shrunk input as hex:
 * add it to regressions.test.ts with the fix. bench/fuzz.ts runs the same targets for millions
 * of inputs.
 */
import { after, test } from 'node:test';
import fc from 'fast-check';
import { closeTargets, makeTargets } from './targets.js';
import { describeError, hex, runInputConfirmed } from './harness.js';

const INPUTS = Number(process.env.FUZZ_INPUTS ?? 2000);
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
