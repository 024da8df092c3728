/**
 * Onion layer helpers used by client and relays. A layer is one DATA packet:
 * header(16, the AEAD's associated data) | seal(kind(1) | body) | tag(16).
 *
 * Contract: `sealLayers` builds all layers of a packet in one output buffer (innermost
 * first, each layer encrypted in place); `openLayer` checks the replay window before
 * decrypting and marks it only after the tag verified. Neither throws on bad input.
 */
import { DATA_HEADER_LEN, Kind, LAYER_OVERHEAD, TAG_LEN } from './constants.js';
import { openTo, sealInto } from './aead.js';
import { dataCounter, dataEpoch, writeDataHeader } from './messages.js';
import type { EpochKeys, HopSession } from './session.js';

/** One layer of an outgoing packet: the hop's session and the receiver index on its link. */
export interface LayerSpec {
  session: HopSession;
  receiverIdx: number;
}

export type LayerFailure = 'unknown_epoch' | 'replay' | 'auth';

const HDR_PLUS_KIND = DATA_HEADER_LEN + 1;

/**
 * Seals `kind | body` for layers[n-1] (innermost) and wraps it in FORWARD layers for
 * layers[n-2] .. layers[0] (outermost). Returns null if some layer's keys can no longer
 * send (expired or counter exhausted); counters of layers already sealed are then spent.
 */
export function sealLayers(layers: readonly LayerSpec[], kind: number, body: Uint8Array, now: number): Buffer | null {
  const n = layers.length;
  const out = Buffer.allocUnsafe(n * LAYER_OVERHEAD + body.length);
  const bodyOff = n * HDR_PLUS_KIND;
  out.set(body, bodyOff);
  let end = bodyOff + body.length;
  for (let i = n - 1; i >= 0; i--) {
    const l = layers[i]!;
    const s = l.session;
    const ctr = s.nextSendCounter(now);
    if (ctr < 0) return null;
    const h = i * HDR_PLUS_KIND;
    const k = s.current;
    writeDataHeader(out, h, k.epoch, l.receiverIdx, ctr);
    out[h + DATA_HEADER_LEN] = i === n - 1 ? kind : Kind.FORWARD;
    end = h + DATA_HEADER_LEN + sealInto(k.sendKey, ctr, out.subarray(h, h + DATA_HEADER_LEN), out.subarray(h + DATA_HEADER_LEN, end), out, h + DATA_HEADER_LEN);
  }
  return out;
}

/** Seals one layer `kind | body` (a relay wrapping backward traffic, a control message). */
export function sealOne(session: HopSession, receiverIdx: number, kind: number, body: Uint8Array, now: number): Buffer | null {
  const ctr = session.nextSendCounter(now);
  if (ctr < 0) return null;
  const k = session.current;
  const out = Buffer.allocUnsafe(HDR_PLUS_KIND + body.length + TAG_LEN);
  writeDataHeader(out, 0, k.epoch, receiverIdx, ctr);
  out[DATA_HEADER_LEN] = kind;
  out.set(body, HDR_PLUS_KIND);
  sealInto(k.sendKey, ctr, out.subarray(0, DATA_HEADER_LEN), out.subarray(DATA_HEADER_LEN, HDR_PLUS_KIND + body.length), out, DATA_HEADER_LEN);
  return out;
}

/**
 * Opens one DATA layer addressed to `session` (framing already checked by the caller).
 * Returns the plaintext `kind | body`, or the reason it was dropped. On success the replay
 * window is marked and a responder's pending epoch is confirmed.
 */
export function openLayer(session: HopSession, packet: Buffer, now: number): Buffer | LayerFailure {
  const k: EpochKeys | undefined = session.recvKeys(dataEpoch(packet), now);
  if (k === undefined) return 'unknown_epoch';
  const ctr = dataCounter(packet);
  if (!k.replay.check(ctr)) return 'replay';
  const pt = openTo(k.recvKey, ctr, packet.subarray(0, DATA_HEADER_LEN), packet.subarray(DATA_HEADER_LEN));
  if (pt === null) return 'auth';
  if (!k.replay.mark(ctr)) return 'replay';
  session.confirm(k);
  return pt;
}
