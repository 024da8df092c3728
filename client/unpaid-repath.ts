/**
 * Unpaid re-path of the client daemon: a dead hop is replaced by a candidate of the relay
 * source. RepathDeps is what a re-path needs from the daemon (the paid one needs more:
 * client/paid-repath.ts); the daemon's path stays the daemon's, read and replaced through it.
 */
import type { Logger } from 'pino';
import type { Clock } from '../common/clock.js';
import { formatEndpoint } from '../relay/addr.js';
import { type DeadRelays, relayKey, repath, type RelaySource } from './circuit-repath.js';
import type { Replaced } from './daemon-types.js';
import type { RelaySpec } from './relay-list.js';

export interface RepathDeps {
  log: Logger;
  clock: Clock;
  /** The entry is reached over WebSocket: it cannot be replaced. */
  ws: boolean;
  /** Relays that stopped answering, avoided for a cool-down. */
  avoid: DeadRelays;
  source: RelaySource;
  path(): RelaySpec[];
  setPath(p: RelaySpec[]): void;
  /** disconnect() has begun. */
  isClosing(): boolean;
  /** Points the kill switch and, if needed, the routes at a new entry relay. */
  moveEntry(to: RelaySpec): void;
}

/**
 * Marks the relay at `deadHop` dead (cool-down) and puts a candidate of the relay source in
 * its place. A new entry gets the kill switch (and routes, if they did not leave it outside
 * the tunnel) moved to it before the build. Over WebSocket the entry is the URL's host and
 * stays. Without a candidate the path is unchanged (the same relay is retried).
 */
export async function replaceDead(d: RepathDeps, deadHop: number): Promise<Replaced> {
  const path = d.path();
  const dead = path[deadHop];
  if (dead === undefined || (deadHop === 0 && d.ws)) return undefined;
  const now = d.clock.now();
  d.avoid.mark(relayKey(dead), now);
  let r;
  try {
    r = await repath(path, d.source, deadHop, d.avoid.active(now));
  } catch (err) {
    d.log.warn({ err: (err as Error).message }, 'relay source failed; retrying the same path');
    return undefined;
  }
  if (!r.replaced || d.isClosing()) return undefined;
  const { from, to, role } = r.replaced;
  d.log.warn({ hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint) }, 'replacing a dead relay');
  if (deadHop === 0) d.moveEntry(to);
  d.setPath(r.path);
  return { hop: deadHop, role, from: formatEndpoint(from.endpoint), to: formatEndpoint(to.endpoint) };
}
