/**
 * Standby channels for paid reconnects (pure). When a middle relay of a paid circuit dies, the
 * client swaps in a spare relay (client/circuit-repath.ts) — but paying it needs a channel, and
 * opening one needs the chain, which the client reaches through its tunnel: while the tunnel is
 * down the chain is out of reach. So with --reconnect the client opens channels with up to
 * `max` spares at connect time, in the same prepare() as the path (one budget), and a dead
 * middle is replaced only by a spare that has one.
 *
 *   const spareQuotes = standbyQuotes(spares);                 // spares with address + price
 *   const all = await pay.prepare([...pathQuotes, ...spareQuotes]);
 *   const standby = new StandbyChannels(all.slice(pathQuotes.length));
 *   ...on a dead middle:
 *   const r = repairPath(path, standby.usable(spares), deadHop, dead);
 *   if (r.replaced) payHops[deadHop] = standby.take(r.replaced.to.address!)!;
 * Channels taken or left over are closed by ClientPayments.cleanup() at disconnect like any other.
 * Any other dead hop (or a middle without a standby channel) gets a replacement from the
 * daemon's RelaySource and a channel opened on the spot through the chain RPC, which the kill
 * switch admits (client/daemon.ts `replacePaid`); that takes a chain round trip, this does not.
 */
import type { RelaySpec } from '../relay-list.js';
import type { HopQuote } from './channels.js';
import type { HopChannel } from './session.js';

/** Spares prepared per connect by default: one dead middle can be replaced without the chain. */
export const DEFAULT_STANDBY_SPARES = 1;

/** Quotes of the first `max` spares that can be paid (address and price known), in list order. */
export function standbyQuotes(spares: readonly RelaySpec[], max = DEFAULT_STANDBY_SPARES): HopQuote[] {
  const out: HopQuote[] = [];
  const seen = new Set<string>();
  for (const s of spares) {
    if (out.length >= max) break;
    if (s.address === undefined || s.pricePerGiB === undefined || seen.has(s.address)) continue;
    seen.add(s.address);
    out.push({ relay: s.address, pricePerGiB: s.pricePerGiB });
  }
  return out;
}

export class StandbyChannels {
  private readonly hops: HopChannel[];

  constructor(hops: readonly HopChannel[]) {
    this.hops = [...hops];
  }

  get size(): number {
    return this.hops.length;
  }

  /** The spares a dead middle may be replaced with: those with a standby channel. */
  usable(spares: readonly RelaySpec[]): RelaySpec[] {
    return spares.filter((s) => s.address !== undefined && this.hops.some((h) => h.relay === s.address));
  }

  /** The relays (chain addresses) holding a standby channel: kept open when replaced hops' channels are closed. */
  relays(): Set<string> {
    return new Set(this.hops.map((h) => h.relay).filter((r): r is string => r !== undefined));
  }

  /** Removes and returns the standby channel of `relay` (undefined if none). */
  take(relay: string): HopChannel | undefined {
    const i = this.hops.findIndex((h) => h.relay === relay);
    return i < 0 ? undefined : this.hops.splice(i, 1)[0];
  }
}
