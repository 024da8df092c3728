/**
 * Derives the frozen wire vectors (test/vectors/wire.json) from their fixed inputs using
 * the protocol code. wire.test.ts re-derives and compares byte for byte.
 */
import { Kind } from '../../../protocol/constants.js';
import { createInit, finish, respond } from '../../../protocol/handshake.js';
import { encodeControl, setInitSenderIdx } from '../../../protocol/messages.js';
import { Ctrl } from '../../../protocol/constants.js';
import { sealLayers, sealOne } from '../../../protocol/onion.js';
import { HopSession } from '../../../protocol/session.js';
import { x25519Public } from '../../../protocol/x25519.js';

export interface WireInputs {
  relayStaticSecrets: string[];
  clientEphemeralSecrets: string[];
  relayEphemeralSecrets: string[];
  clientIdx: number;
  relayPrevIdx: number[];
  relayNextIdx: number[];
  relayEndpoints: Array<{ host: string; port: number }>;
  forwardCounters: number[];
  backwardCounter: number;
  ipPacket: string;
}

export interface WireOutputs {
  hops: Array<{ staticPublic: string; initFromClient: string; initOnWire: string; resp: string; forwardKey: string; backwardKey: string }>;
  extendToHop1: string;
  data3: string;
  exitBackward: string;
}

const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const x = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function deriveWire(inp: WireInputs): WireOutputs {
  const hops: WireOutputs['hops'] = [];
  const sessions: HopSession[] = [];
  let extendToHop1 = '';
  for (let i = 0; i < 3; i++) {
    const sk = h(inp.relayStaticSecrets[i]!);
    const B = x25519Public(sk);
    const ce = h(inp.clientEphemeralSecrets[i]!);
    const re = h(inp.relayEphemeralSecrets[i]!);
    const senderIdx = i === 0 ? inp.clientIdx : 0;
    const { init, state } = createInit(B, senderIdx, { secretKey: ce, publicKey: x25519Public(ce) });
    const initFromClient = x(init);
    if (i === 1) extendToHop1 = x(encodeControl({ ctype: Ctrl.EXTEND, endpoint: inp.relayEndpoints[1]!, init }));
    const wire = Buffer.from(init);
    if (i > 0) setInitSenderIdx(wire, inp.relayNextIdx[i - 1]!);
    const r = respond({ secretKey: sk, publicKey: B }, wire, inp.relayPrevIdx[i]!, { secretKey: re, publicKey: x25519Public(re) });
    const f = finish(state, r.resp, i === 0 ? inp.clientIdx : inp.relayNextIdx[i - 1]!);
    if (x(f.keys.forward) !== x(r.keys.forward)) throw new Error('key mismatch');
    hops.push({ staticPublic: x(B), initFromClient, initOnWire: x(wire), resp: x(r.resp), forwardKey: x(f.keys.forward), backwardKey: x(f.keys.backward) });
    const s = new HopSession('initiator', f.keys, 0);
    s.current.sendCounter = inp.forwardCounters[i]!;
    sessions.push(s);
  }
  const layers = sessions.map((session, i) => ({ session, receiverIdx: inp.relayPrevIdx[i]! }));
  const data3 = sealLayers(layers, Kind.IP, h(inp.ipPacket), 0)!;
  const exitSession = new HopSession('responder', { forward: h(hops[2]!.forwardKey), backward: h(hops[2]!.backwardKey) }, 0);
  exitSession.current.sendCounter = inp.backwardCounter;
  const exitBackward = sealOne(exitSession, inp.relayNextIdx[1]!, Kind.IP, h(inp.ipPacket), 0)!;
  return { hops, extendToHop1, data3: x(data3), exitBackward: x(exitBackward) };
}
