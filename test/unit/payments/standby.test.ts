/**
 * Standby channels for paid reconnects (client/payments/standby.ts): which spares get a channel
 * at connect, and how a dead middle is replaced only by a spare that has one (with the real
 * repairPath of client/circuit-repath.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relayKey, repairPath } from '../../../client/circuit-repath.js';
import type { RelaySpec } from '../../../client/relay-list.js';
import { standbyQuotes, StandbyChannels } from '../../../client/payments/standby.js';
import type { HopChannel } from '../../../client/payments/session.js';

const addr = (n: number): string => n.toString(16).padStart(2, '0').repeat(32);
const r = (n: number, paid = true): RelaySpec => ({
  endpoint: { host: `198.18.140.${n}`, port: 51820 },
  publicKey: new Uint8Array(32).fill(n),
  ...(paid ? { address: addr(n), pricePerGiB: BigInt(n) * 1000n } : {}),
});
const hop = (n: number): HopChannel => ({ channelId: `c${n}`.padEnd(64, '0'), deposit: 100n, pricePerGiB: BigInt(n) * 1000n, relay: addr(n) });

test('standbyQuotes: the first payable spares, in list order, at most max, no duplicates', () => {
  assert.deepEqual(standbyQuotes([r(5, false), r(6), r(7)]), [{ relay: addr(6), pricePerGiB: 6000n }]);
  assert.deepEqual(standbyQuotes([r(6), r(6), r(7)], 2), [{ relay: addr(6), pricePerGiB: 6000n }, { relay: addr(7), pricePerGiB: 7000n }]);
  assert.deepEqual(standbyQuotes([r(5, false)]), []);
  assert.deepEqual(standbyQuotes([]), []);
});

test('StandbyChannels: a dead middle is replaced only by a spare with a standby channel, which is then taken', () => {
  const path = [r(1), r(2), r(3)];
  const spares = [r(4), r(5)]; // only 5 has a standby channel
  const standby = new StandbyChannels([hop(5)]);
  assert.deepEqual(standby.usable(spares).map(relayKey), [relayKey(r(5))]);
  const rep = repairPath(path, standby.usable(spares), 1, new Set([relayKey(r(2))]));
  assert.equal(rep.replaced?.to.address, addr(5), 'the funded spare, not the first one in the list');
  const h = standby.take(rep.replaced!.to.address!);
  assert.equal(h?.relay, addr(5));
  assert.equal(standby.size, 0);
  assert.equal(standby.take(addr(5)), undefined, 'a standby channel is used once');
  // nothing funded left: no replacement (the same path is retried)
  assert.equal(repairPath(rep.path, standby.usable(spares), 1, new Set([relayKey(r(2)), relayKey(r(5))])).replaced, undefined);
});
