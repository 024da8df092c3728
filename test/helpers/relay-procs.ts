/**
 * Helpers for fault/load suites that run real relays: the fields of a relay's
 * {"event":"listening"} line (metrics URL, pid).
 */
import type { RelayNode } from '../../deploy/topvpn.js';

export class ListeningEventError extends Error {
  override readonly name = 'ListeningEventError';
}

/** The relay's metrics scrape URL, from its listening event (needs `--metrics`). */
export async function relayMetricsUrl(r: RelayNode): Promise<string> {
  const ev = await r.proc.waitForEvent('listening', 1000);
  const url = ev['metrics'];
  if (typeof url !== 'string') throw new ListeningEventError(`${r.host.name}: listening event has no metrics URL: ${JSON.stringify(ev)}`);
  return url;
}
