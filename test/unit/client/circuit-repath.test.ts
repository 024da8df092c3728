import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relayKey, repairPath } from '../../../client/circuit-repath.js';
import type { RelaySpec } from '../../../client/relay-list.js';

const r = (n: number): RelaySpec => ({ endpoint: { host: `198.18.0.${n}`, port: 51820 }, publicKey: new Uint8Array(32).fill(n) });
const [entry, m1, m2, m3, exit] = [r(11), r(12), r(13), r(14), r(15)];
const hosts = (p: RelaySpec[]): string[] => p.map((x) => x.endpoint.host);

test('a dead middle is replaced by the first spare that is neither in the path nor dead', () => {
  const path = [entry!, m1!, exit!];
  const dead = new Set([relayKey(m1!)]);
  const a = repairPath(path, [m1!, m2!, m3!], 1, dead);
  assert.deepEqual(hosts(a.path), ['198.18.0.11', '198.18.0.13', '198.18.0.15']);
  assert.equal(a.replaced?.from, m1);
  assert.equal(a.replaced?.to, m2);
  assert.deepEqual(hosts(path), ['198.18.0.11', '198.18.0.12', '198.18.0.15'], 'the input path is not modified');
  dead.add(relayKey(m2!));
  assert.equal(repairPath(a.path, [m1!, m2!, m3!], 1, dead).replaced?.to, m3);
});

test('a dead entry or exit is replaced too; unknown hop or no candidate left: the same path is retried', () => {
  const path = [entry!, m1!, exit!];
  const e = repairPath(path, [m2!, m3!], 0, new Set());
  assert.deepEqual(hosts(e.path), ['198.18.0.13', '198.18.0.12', '198.18.0.15']);
  assert.equal(e.replaced?.role, 'entry');
  const x = repairPath(path, [m2!, m3!], 2, new Set([relayKey(m2!)]));
  assert.deepEqual(hosts(x.path), ['198.18.0.11', '198.18.0.12', '198.18.0.14']);
  assert.equal(x.replaced?.role, 'exit');
  const dead = new Set([relayKey(m1!), relayKey(m2!)]);
  for (const hop of [undefined, -1, 3]) {
    const y = repairPath(path, [m2!, m3!], hop, new Set());
    assert.deepEqual(hosts(y.path), hosts(path), `hop ${hop}`);
    assert.equal(y.replaced, undefined);
  }
  assert.equal(repairPath(path, [m1!, m2!], 1, dead).replaced, undefined);
  assert.equal(repairPath(path, [entry!, exit!], 1, new Set()).replaced, undefined, 'relays already in the path are no spares');
});
