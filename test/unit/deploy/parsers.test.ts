import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, MeasureError, parseIperfJson, parsePingRtts } from '../../../bench/baselines/measure.js';
import { assertPrefix, ownedBy, parseNetnsList, parsePids, PrefixError } from '../../../deploy/netns.js';
import { parseJsonObject } from '../../../deploy/procs.js';
import { parseCurlWriteOut, parseIperfLine, TrafficError } from '../../../deploy/traffic.js';

test('parseIperfLine reads interval and summary lines', () => {
  const iv = parseIperfLine('[  5]   0.00-1.00   sec   112 MBytes   941 Mbits/sec    0   1.20 MBytes       ');
  assert.deepEqual(iv, { start: 0, end: 1, bytes: 112 * 1024 * 1024, mbps: 941 });
  const rx = parseIperfLine('[  5]   0.00-10.04  sec  1.09 GBytes   933 Mbits/sec                  receiver');
  assert.equal(rx?.role, 'receiver');
  assert.equal(rx?.mbps, 933);
  assert.equal(rx?.end, 10.04);
  const tx = parseIperfLine('[  5]   0.00-10.00  sec  1.10 GBytes  0.94 Gbits/sec  12             sender');
  assert.equal(tx?.role, 'sender');
  assert.ok(Math.abs((tx?.mbps ?? 0) - 940) < 1e-6);
  assert.equal(parseIperfLine('Connecting to host 198.18.0.100, port 5201'), undefined);
  assert.equal(parseIperfLine('- - - - - - - - - - - - - - - - - - - - - - - - -'), undefined);
});

test('parseIperfJson takes the receiver side and reports iperf errors', () => {
  const out = JSON.stringify({ end: { sum_received: { bits_per_second: 3.5e8, bytes: 437_500_000 }, sum_sent: { retransmits: 7 } } });
  assert.deepEqual(parseIperfJson(out), { mbps: 350, bytes: 437_500_000, retransmits: 7 });
  assert.throws(() => parseIperfJson(JSON.stringify({ error: 'unable to connect to server' })), /unable to connect/);
  assert.throws(() => parseIperfJson('iperf3: error'), MeasureError);
  assert.throws(() => parseIperfJson('{}'), MeasureError);
});

test('parsePingRtts and median', () => {
  const out = `PING 198.18.0.100 (198.18.0.100) 56(84) bytes of data.
64 bytes from 198.18.0.100: icmp_seq=1 ttl=64 time=0.085 ms
64 bytes from 198.18.0.100: icmp_seq=2 ttl=64 time=1.20 ms
64 bytes from 198.18.0.100: icmp_seq=3 ttl=64 time=0.061 ms

--- 198.18.0.100 ping statistics ---
rtt min/avg/max/mdev = 0.061/0.448/1.200/0.530 ms`;
  assert.deepEqual(parsePingRtts(out), [0.085, 1.2, 0.061]);
  assert.equal(median([0.085, 1.2, 0.061]), 0.085);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), MeasureError);
});

test('parseCurlWriteOut', () => {
  assert.deepEqual(parseCurlWriteOut('200 33554432 0.512345'), { status: 200, bytes: 33554432, seconds: 0.512345 });
  assert.throws(() => parseCurlWriteOut('curl: (7) Failed to connect'), TrafficError);
});

test('netns name handling: prefixes, listing, ownership, pids', () => {
  assertPrefix('tvb');
  assertPrefix('tvs2');
  for (const bad of ['', 't', 'TVB', 'tv-b', 'toolongprefix', '1ab']) assert.throws(() => assertPrefix(bad), PrefixError, bad);
  const names = parseNetnsList('tvb-client (id: 3)\ntvb-sw (id: 0)\nother\ntvbx-entry\n\n');
  assert.deepEqual(names, ['tvb-client', 'tvb-sw', 'other', 'tvbx-entry']);
  assert.deepEqual(ownedBy('tvb', names), ['tvb-client', 'tvb-sw']);
  assert.deepEqual(parsePids('123\n4567\n\n'), [123, 4567]);
});

test('parseJsonObject accepts objects only', () => {
  assert.deepEqual(parseJsonObject(' {"event":"up","hops":3} '), { event: 'up', hops: 3 });
  assert.equal(parseJsonObject('[1,2]'), undefined);
  assert.equal(parseJsonObject('{"event":'), undefined);
  assert.equal(parseJsonObject('listening'), undefined);
});
