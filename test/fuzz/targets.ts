/**
 * The fuzz target registry: every parser that takes bytes from the network or a user.
 * Each target is `{ name, parser, arbitrary, run, allowedErrors }` (see harness.ts for the
 * contract). `makeTargets()` builds them all (some need a relay engine, a built circuit, temp
 * files); call `closeTargets` when done.
 *
 * Targets (with the error class each may throw):
 *   protocol.messages               MalformedPacketError
 *   protocol.handshake.respond      HandshakeError
 *   protocol.handshake.finish       HandshakeError
 *   protocol.payment.decode         MalformedPaymentError
 *   relay.meter.onReceipt           MalformedPaymentError (the meter itself never throws)
 *   protocol.descriptor.decode      MalformedDescriptorError
 *   protocol.ipv4                   AddressError
 *   relay.exit-policy.parse         ExitPolicyError
 *   relay.engine.onDatagram         none (findings: drops.internal, a dead canary circuit)
 *   client.circuit.onDatagram       none (findings: drops.internal, a circuit that stops carrying)
 *   chain.consensus.decodeMessage   MalformedMessageError
 *   chain.state.decodeJson          SyntaxError (JSON.parse is its documented failure)
 *   chain.node.parseSignedTx        TxRejected (txHash failures wrapped as ChainNode.admit does)
 *   chain.node.decodePayload        PayloadError
 *   chain.node.decodeTxList         TxCodecError
 *   chain.node.wire                 WireDecodeError
 *   chain.node.FrameDecoder         Error('frame too large') only
 *   chain.rpc.handleText            none (every body gets a JSON-RPC answer, never -32603)
 *   chain.config.readGenesis        ConfigError (chain/node/config.ts)
 *   chain.config.readNodeConfig     ConfigError (chain/node/config.ts)
 *   relay.config.flags              ConfigError (relay/config.ts)
 *   client.config.flags             ConfigError, RelayListError
 *   client.relay-list               RelayListError
 *   relay.keys.readKeyFile          KeyFileError
 *   deploy.loadConfig               DeployConfigError
 *   client.wallet.readWalletFile    WalletError (CorruptWalletError, ...)
 *   client.control.request          none (every request line gets a JSON answer)
 */
import type { FuzzTarget } from './harness.js';
import { protocolTargets } from './targets-protocol.js';
import { clientCircuitTarget, relayEngineTarget } from './targets-engine.js';
import { chainTargets } from './targets-chain.js';
import { configTargets, controlTarget } from './targets-config.js';

export type { FuzzTarget } from './harness.js';

/** Temp dirs and the like made by the target factories, freed by closeTargets. */
const cleanup: Array<() => void> = [];

export async function makeTargets(only?: (name: string) => boolean): Promise<FuzzTarget[]> {
  const want = only ?? (() => true);
  const out: FuzzTarget[] = [];
  for (const t of protocolTargets()) if (want(t.name)) out.push(t);
  if (want('relay.engine.onDatagram')) out.push(await relayEngineTarget());
  if (want('client.circuit.onDatagram')) out.push(await clientCircuitTarget());
  for (const t of chainTargets(cleanup)) if (want(t.name)) out.push(t);
  for (const t of await configTargets(cleanup)) if (want(t.name)) out.push(t);
  if (want('client.control.request')) out.push(await controlTarget(cleanup));
  return out;
}

export async function closeTargets(ts: readonly FuzzTarget[]): Promise<void> {
  for (const t of ts) await t.close?.();
  for (const f of cleanup.splice(0)) f();
}
