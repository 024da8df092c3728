/**
 * Patch of @chainsafe/libp2p-yamux 8.0.1: its stream answers EVERY received data frame with a
 * window-update frame (an extra noise-encrypted frame and socket write per message, ≈4 % of a
 * chain node's CPU at saturation, measured with --cpu-prof under bench:chain). Yamux as
 * specified and as hashicorp/yamux and go-yamux implement it sends the update only once half the
 * receive window is used up (or when a flag must go out); this restores that. The receiver's
 * accounting is untouched (capacity is still decremented per frame), so the sender can never
 * stall: it always keeps at least half a window of credit. Import before the first stream opens.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream';

interface WindowFields {
  state: StreamState;
  recvWindow: number;
  recvWindowCapacity: number;
}

const proto = YamuxStream.prototype as unknown as { sendWindowUpdate(this: WindowFields): void; __halfWindow?: true };
if (!proto.__halfWindow) {
  const original = proto.sendWindowUpdate;
  proto.sendWindowUpdate = function sendWindowUpdate(this: WindowFields): void {
    if (this.state === StreamState.Established && this.recvWindowCapacity * 2 > this.recvWindow) return;
    original.call(this);
  };
  proto.__halfWindow = true;
}

export const yamuxHalfWindowUpdates = true;
