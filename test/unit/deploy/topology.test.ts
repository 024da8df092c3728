import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_IP, INET_IP, pathFor, planTopology, relayNames, TopologyError } from '../../../deploy/topology.js';

test('relay hosts are named by position, exit always last', () => {
  assert.deepEqual(relayNames(1), ['exit']);
  assert.deepEqual(relayNames(2), ['entry', 'exit']);
  assert.deepEqual(relayNames(3), ['entry', 'middle', 'exit']);
  assert.deepEqual(relayNames(5), ['entry', 'middle1', 'middle2', 'middle3', 'exit']);
  assert.throws(() => relayNames(0), TopologyError);
  assert.throws(() => relayNames(2.5), TopologyError);
  assert.throws(() => relayNames(81), TopologyError);
});

test('the address plan: client .10, relays from .11, inet .100, all distinct in 198.18.0.0/24', () => {
  for (const n of [1, 3, 7, 80]) {
    const plan = planTopology(n);
    assert.equal(plan.length, n + 2);
    assert.equal(plan[0]?.ip, CLIENT_IP);
    assert.equal(plan[0]?.role, 'client');
    assert.equal(plan.at(-1)?.ip, INET_IP);
    assert.equal(plan[1]?.ip, '198.18.0.11');
    const ips = plan.map((h) => h.ip);
    assert.equal(new Set(ips).size, ips.length, 'addresses unique');
    assert.equal(new Set(plan.map((h) => h.name)).size, plan.length, 'names unique');
    for (const ip of ips) assert.match(ip, /^198\.18\.0\.(\d+)$/);
    for (const h of plan) assert.ok(`v-${h.name}`.length <= 15, 'switch-side veth name fits IFNAMSIZ');
  }
});

test('pathFor takes the first hops-1 relays and ends at the exit', () => {
  const relays = planTopology(3).filter((h) => h.role === 'relay');
  assert.deepEqual(pathFor(relays, 3).map((h) => h.name), ['entry', 'middle', 'exit']);
  assert.deepEqual(pathFor(relays, 2).map((h) => h.name), ['entry', 'exit']);
  assert.deepEqual(pathFor(relays, 1).map((h) => h.name), ['exit']);
  assert.throws(() => pathFor(relays, 4), TopologyError);
  assert.throws(() => pathFor(relays, 0), TopologyError);
});
