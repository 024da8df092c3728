import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { complementOf, RouteError, RouteManager } from '../../../client/routes.js';
import { silentLogger } from '../../../common/log.js';
import { cidrContains, parseCidr } from '../../../relay/addr.js';
import { Netns } from '../relay-io/netns-helper.js';

// A namespace with an uplink (veth "up0": 198.18.50.2/24, default route via 198.18.50.1)
// and a stand-in for the TUN (veth "tvt0"): routes only need a device to point at.
let ns: Netns;
let stateDir: string;

function makeTunStandIn(): void {
  ns.run(['ip', 'link', 'add', 'tvt0', 'type', 'veth', 'peer', 'name', 'tvt0p']);
  ns.run(['ip', 'link', 'set', 'tvt0p', 'up']);
  ns.run(['ip', 'link', 'set', 'tvt0', 'up']);
}

before(() => {
  ns = Netns.create('rt');
  stateDir = mkdtempSync(join(tmpdir(), 'tva-routes-'));
  for (const argv of [
    ['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0p'],
    ['ip', 'link', 'set', 'up0p', 'up'],
    ['ip', 'addr', 'add', '198.18.50.2/24', 'dev', 'up0'],
    ['ip', 'link', 'set', 'up0', 'up'],
    ['ip', 'route', 'add', 'default', 'via', '198.18.50.1'],
  ]) ns.run(argv);
  makeTunStandIn();
});
after(() => {
  ns.destroy();
  rmSync(stateDir, { recursive: true, force: true });
});

const routes = (): string => ns.run(['ip', 'route', 'show']);
const devFor = (ip: string): string => (JSON.parse(ns.run(['ip', '-j', 'route', 'get', ip])) as Array<{ dev: string }>)[0]!.dev;

test('complementOf covers every address but the one excluded, with 32 disjoint prefixes', () => {
  const c = complementOf('198.18.0.11').map((p) => parseCidr(p));
  assert.equal(c.length, 32);
  for (const probe of ['0.0.0.0', '198.18.0.10', '198.18.0.12', '198.18.1.11', '255.255.255.255', '127.0.0.1', '198.18.0.8']) {
    assert.equal(c.filter((p) => cidrContains(p, probe)).length, 1, probe);
  }
  assert.equal(c.filter((p) => cidrContains(p, '198.18.0.11')).length, 0);
});

test('entry reached by the default route: all but the entry goes via the TUN; restore removes exactly that', () => {
  const before = routes();
  const m = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
  m.checkEntry('198.18.77.11', 'tvt0');
  assert.equal(m.routeAllVia('tvt0', '198.18.77.11'), 'exclude-entry');
  assert.match(routes(), /^default via 198\.18\.50\.1 dev up0/m, 'the default route is untouched');
  assert.equal(devFor('198.18.77.11'), 'up0', 'the entry stays direct');
  for (const ip of ['198.18.77.10', '198.18.77.12', '203.0.113.9', '8.8.8.8', '1.1.1.1']) assert.equal(devFor(ip), 'tvt0', ip);
  assert.equal(devFor('198.18.50.1'), 'up0', 'the LAN (and gateway) stay on the LAN');
  assert.ok(existsSync(join(stateDir, 'routes.json')));
  m.restore();
  assert.equal(routes(), before);
  assert.ok(!existsSync(join(stateDir, 'routes.json')));
  m.restore(); // idempotent
  assert.equal(routes(), before);
});

test('entry on the LAN: def1 (0/1 + 128/1) suffices; a local entry too', () => {
  const before = routes();
  const m = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
  assert.equal(m.routeAllVia('tvt0', '198.18.50.9'), 'def1');
  assert.match(routes(), /^0\.0\.0\.0\/1 dev tvt0/m);
  assert.match(routes(), /^128\.0\.0\.0\/1 dev tvt0/m);
  assert.equal(devFor('198.18.50.9'), 'up0');
  assert.equal(devFor('203.0.113.9'), 'tvt0');
  m.restore();
  assert.equal(routes(), before);
  assert.equal(m.routeAllVia('tvt0', '198.18.50.2'), 'def1'); // our own address
  m.restore();
  assert.equal(routes(), before);
});

test('the TUN routes vanish with the device (kill -9 leaves no IPv4 route); recovery tolerates that', () => {
  const before = routes();
  const crashed = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
  crashed.routeAllVia('tvt0', '198.18.77.12');
  assert.notEqual(routes(), before);
  ns.run(['ip', 'link', 'del', 'tvt0']); // what the kernel does when the TUN's owner dies
  try {
    assert.equal(routes(), before);
    const next = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
    assert.equal(next.recoverStale(), 32);
    assert.equal(routes(), before);
    assert.equal(next.recoverStale(), 0);
  } finally {
    makeTunStandIn();
  }
});

test('an entry already routed into the tunnel, or unreachable, is refused', () => {
  const m = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
  m.routeAllVia('tvt0', '198.18.50.9');
  try {
    const other = new RouteManager({ stateDir: `${stateDir}/b`, log: silentLogger(), run: ns.run });
    assert.throws(() => other.checkEntry('203.0.113.5', 'tvt0'), (e: unknown) => e instanceof RouteError && /already routed into the tunnel/.test(e.message));
  } finally {
    m.restore();
  }
  ns.run(['ip', 'route', 'del', 'default']);
  try {
    assert.throws(() => m.checkEntry('203.0.113.5', 'tvt0'), (e: unknown) => e instanceof RouteError && /no route to relay 203\.0\.113\.5/.test(e.message));
  } finally {
    ns.run(['ip', 'route', 'add', 'default', 'via', '198.18.50.1']);
  }
});

test('with an IPv6 default route, IPv6 is made unreachable while up (no leak around the tunnel) and restored after', () => {
  ns.run(['ip', '-6', 'addr', 'add', 'fd00:198:18::2/64', 'dev', 'up0', 'nodad']);
  ns.run(['ip', '-6', 'route', 'add', 'default', 'via', 'fd00:198:18::1']);
  try {
    const v6 = (): string => ns.run(['ip', '-6', 'route', 'show']);
    const before6 = v6();
    const m = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
    m.routeAllVia('tvt0', '198.18.50.9');
    assert.match(v6(), /^unreachable ::\/1/m);
    assert.match(v6(), /^unreachable 8000::\/1/m);
    assert.throws(() => ns.run(['ip', '-6', 'route', 'get', '2001:db8::1']), /No route to host/);
    m.restore();
    assert.equal(v6(), before6);
    const off = new RouteManager({ stateDir, log: silentLogger(), run: ns.run, blockIpv6: false });
    off.routeAllVia('tvt0', '198.18.50.9');
    assert.doesNotMatch(ns.run(['ip', '-6', 'route', 'show']), /unreachable/);
    off.restore();
  } finally {
    ns.run(['ip', '-6', 'route', 'del', 'default']);
  }
});

test('a temporary host route around the tunnel is recorded: removed on demand, or by the next run after a crash', () => {
  const before = routes();
  const m = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
  m.routeAllVia('tvt0', '198.18.77.11');
  assert.equal(devFor('198.18.77.200'), 'tvt0');
  const remove = m.addTemporary(['198.18.77.200/32', 'via', '198.18.50.1', 'dev', 'up0']);
  assert.equal(devFor('198.18.77.200'), 'up0', 'the host is reached directly while the route exists');
  remove();
  remove(); // idempotent
  assert.equal(devFor('198.18.77.200'), 'tvt0');
  // A crash while the temporary route exists: the uplink route would outlive the TUN.
  m.addTemporary(['198.18.77.201/32', 'via', '198.18.50.1', 'dev', 'up0']);
  const next = new RouteManager({ stateDir, log: silentLogger(), run: ns.run });
  assert.equal(next.recoverStale(), 33);
  assert.equal(routes(), before);
});
