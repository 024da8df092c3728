/**
 * Noise for chain nodes: @chainsafe/libp2p-noise 17.0.0 with two per-message costs removed. Both
 * were found with --cpu-prof on devnet nodes (bench:chain, and an idle devnet where per-message
 * costs are all there is); the bytes on the wire are unchanged, so patched and unpatched peers
 * interoperate.
 *
 * 1. One buffer per write. Its encrypted stream passes every noise message down as two buffers
 *    (the 2-byte length prefix and the ciphertext), and @libp2p/tcp calls socket.write once per
 *    buffer: with TCP_NODELAY (its default) two syscalls and two TCP segments per message, and a
 *    reader woken for a 2-byte segment. Patched, the stream class's `sendData` hands the
 *    transport the length-prefixed ciphertexts of one write concatenated.
 * 2. No stack trace per read. Its length decoder signals "need more bytes" by throwing a new
 *    RangeError, which the framing loop catches: a stack capture every time the read buffer runs
 *    dry, i.e. once per received message. Patched, each connection's decoder throws one
 *    preallocated RangeError instead (the loop only tests `instanceof RangeError`).
 *
 * The patches rely on noise internals (`encrypt`, `stream`, `decoder.lengthDecoder`); where a
 * release renames them the patch is skipped and noise runs unchanged (`noisePatchesApplied()`).
 */
import { noise } from '@chainsafe/libp2p-noise';

type NoiseFactory = ReturnType<typeof noise>;
type NoiseInit = Parameters<typeof noise>[0];

/** What the patches use of a Uint8ArrayList (uint8arraylist, the type of noise's buffers). */
interface ByteList {
  readonly length: number;
  readonly byteLength: number;
  subarray(): Uint8Array;
  getUint16(offset: number): number;
}

/** The parts of noise's (unexported) EncryptedMessageStream that the patches use. */
interface EncryptedStreamInternals {
  encrypt(chunk: ByteList): ByteList;
  stream: { send(data: Uint8Array): boolean };
  sendData(data: ByteList): { sentBytes: number; canSendMore: boolean };
  decoder?: { lengthDecoder?: (data: ByteList | Uint8Array) => number };
}

interface PatchMark {
  __oneWrite?: boolean;
}

/** Thrown, never constructed again, when fewer than 2 bytes are buffered. */
const NEED_MORE = new RangeError('Could not decode int16BE');

/** noise's uint16BEDecode, signalling a short buffer with the preallocated NEED_MORE. */
export function uint16LengthOrNeedMore(data: ByteList | Uint8Array): number {
  if (data.length < 2) throw NEED_MORE;
  return data instanceof Uint8Array ? (data[0]! << 8) | data[1]! : data.getUint16(0);
}

const applied = { oneWrite: undefined as boolean | undefined, lengthDecoder: undefined as boolean | undefined };

/** Per patch: true once applied to a secured connection, false if noise's internals did not match, undefined before any connection. */
export function noisePatchesApplied(): Readonly<typeof applied> {
  return applied;
}

function patch(connection: object): void {
  const c = connection as Partial<EncryptedStreamInternals>;
  const decoder = c.decoder;
  const decoderOk = typeof decoder === 'object' && decoder !== null && typeof decoder.lengthDecoder === 'function';
  if (decoderOk) decoder.lengthDecoder = uint16LengthOrNeedMore;
  applied.lengthDecoder = decoderOk;

  const proto = Object.getPrototypeOf(connection) as Partial<EncryptedStreamInternals> & PatchMark;
  if (proto.__oneWrite !== undefined) return;
  const usable = typeof proto.encrypt === 'function' && typeof proto.sendData === 'function' && 'stream' in connection;
  proto.__oneWrite = usable;
  applied.oneWrite = usable;
  if (!usable) return;
  proto.sendData = function sendData(this: EncryptedStreamInternals, data: ByteList) {
    // subarray() of a one-buffer list returns that buffer; of several, one copy of them all.
    return { sentBytes: data.byteLength, canSendMore: this.stream.send(this.encrypt(data).subarray()) };
  };
}

/** Drop-in for `noise(init)` in `connectionEncrypters`. */
export function patchedNoise(init?: NoiseInit): NoiseFactory {
  const make = noise(init);
  return (components) => {
    const enc = make(components);
    const secureInbound = enc.secureInbound.bind(enc);
    const secureOutbound = enc.secureOutbound.bind(enc);
    // The generic signatures of secureInbound/secureOutbound are kept by forwarding the arguments untouched.
    enc.secureInbound = (async (...args: Parameters<typeof secureInbound>) => {
      const r = await secureInbound(...args);
      patch(r.connection);
      return r;
    }) as typeof enc.secureInbound;
    enc.secureOutbound = (async (...args: Parameters<typeof secureOutbound>) => {
      const r = await secureOutbound(...args);
      patch(r.connection);
      return r;
    }) as typeof enc.secureOutbound;
    return enc;
  };
}
