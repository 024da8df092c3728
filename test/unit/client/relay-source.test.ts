/** RelaySource (client/circuit-repath.ts) as implemented by the --relays list, repath() and the dead-relay cool-down. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadRelays, hopRole, relayKey, repath, type HopRole, type RelaySource } from '../../../client/circuit-repath.js';
import { ListRelaySource, parseRelayJson, type RelaySpec } from '../../../client/relay-list.js';

const r = (n: number, exit?: boolean): RelaySpec => ({ endpoint: { host: `198.18.0.${n}`, port: 51820 }, publicKey: new Uint8Array(32).fill(n), ...(exit !== undefined ? { exit } : {}) });
const hosts = (p: readonly RelaySpec[]): string[] => p.map((x) => x.endpoint.host);

test('hop roles', () => {
  assert.deepEqual([0, 1, 2].map((h) => hopRole(h, 3)), ['entry', 'middle', 'exit']);
  assert.deepEqual([0, 1].map((h) => hopRole(h, 2)), ['entry', 'exit']);
  assert.equal(hopRole(0, 1), 'exit');
});

test('the list source: list order, exclusions, exits marked first, "exit": false never an exit, the last relay counts as an exit', () => {
  const src = new ListRelaySource([r(11), r(12, false), r(13), r(14, true), r(15)]);
  assert.deepEqual(hosts(src.candidates('middle', new Set([relayKey(r(13))]))), ['198.18.0.11', '198.18.0.12', '198.18.0.14', '198.18.0.15']);
  assert.deepEqual(hosts(src.candidates('exit', new Set())), ['198.18.0.14', '198.18.0.15', '198.18.0.11', '198.18.0.13']);
  assert.deepEqual(hosts(src.candidates('entry', new Set([relayKey(r(11)), relayKey(r(12))]))), ['198.18.0.13', '198.18.0.14', '198.18.0.15']);
});

test('the JSON relay list carries an optional boolean "exit"', () => {
  const pk = 'ab'.repeat(32);
  const [a, b] = parseRelayJson(JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: pk, exit: true }, { endpoint: '198.18.0.12:51820', publicKey: pk }]), 'x.json');
  assert.equal(a!.exit, true);
  assert.equal(b!.exit, undefined);
  assert.throws(() => parseRelayJson(JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: pk, exit: 'yes' }]), 'x.json'), /exit must be true or false/);
});

test('repath asks the source for the dead hop\'s role, excluding the path and the dead relays (async sources too)', async () => {
  const asked: Array<{ role: HopRole; exclude: string[] }> = [];
  const pool = [r(11), r(12), r(13), r(14), r(15)];
  const src: RelaySource = {
    candidates: async (role, exclude) => {
      asked.push({ role, exclude: [...exclude].sort() });
      return pool.filter((x) => !exclude.has(relayKey(x)));
    },
  };
  const path = [r(11), r(12), r(15)];
  const dead = new Set([relayKey(r(11)), relayKey(r(13))]);
  const a = await repath(path, src, 0, dead);
  assert.deepEqual(hosts(a.path), ['198.18.0.14', '198.18.0.12', '198.18.0.15']);
  assert.equal(asked[0]!.role, 'entry');
  assert.deepEqual(asked[0]!.exclude, [r(11), r(12), r(13), r(15)].map(relayKey).sort());
  const none = await repath(path, { candidates: () => [] }, 2, new Set());
  assert.equal(none.replaced, undefined);
  assert.deepEqual(hosts(none.path), hosts(path));
});

test('a dead relay is avoided until its cool-down ends; marking again extends it', () => {
  const d = new DeadRelays(1_000);
  d.mark('a', 0);
  d.mark('b', 500);
  assert.deepEqual([...d.active(999)].sort(), ['a', 'b']);
  assert.deepEqual([...d.active(1_000)], ['b']);
  d.mark('b', 1_200);
  assert.deepEqual([...d.active(2_100)], ['b']);
  assert.deepEqual([...d.active(2_200)], []);
});
