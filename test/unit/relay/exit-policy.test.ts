import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultExitPolicy, ExitPolicyError, parseExitPolicy } from '../../../relay/exit-policy.js';

test('first matching rule decides; no match rejects', () => {
  const p = parseExitPolicy(`
    # comment line
    reject 198.18.0.0/24:*
    accept 198.18.0.0/15:80-443   # web only
    accept 198.18.5.5:22
    reject *:*
  `);
  assert.equal(p.rules.length, 4);
  assert.equal(p.allows('198.18.0.9', 6, 80), false);
  assert.equal(p.allows('198.18.9.9', 6, 80), true);
  assert.equal(p.allows('198.18.9.9', 6, 443), true);
  assert.equal(p.allows('198.18.9.9', 6, 444), false);
  assert.equal(p.allows('198.18.5.5', 6, 22), true);
  assert.equal(p.allows('198.18.5.6', 6, 22), false);
  assert.equal(parseExitPolicy('accept 1.2.3.4:*').allows('1.2.3.5', 6, 1), false, 'no match = reject');
});

test('packets without ports match only rules covering every port', () => {
  const p = parseExitPolicy(['accept *:53', 'accept 9.9.9.9:*', 'reject *:*']);
  assert.equal(p.allows('9.9.9.9', 1, -1), true);
  assert.equal(p.allows('8.8.8.8', 1, -1), false);
  assert.equal(p.allows('8.8.8.8', 17, 53), true);
});

test('parse errors name the line', () => {
  const bad: Array<[string, number]> = [
    ['accept 1.2.3.4:*\nallow 1.2.3.4', 2],
    ['\n\naccept 1.2.3.400:*', 3],
    ['reject 1.2.3.4/33:*', 1],
    ['reject 1.2.3.4:70000', 1],
    ['reject 1.2.3.4:90-80', 1],
    ['accept [::1]:80', 1],
    ['accept', 1],
  ];
  for (const [text, line] of bad) {
    assert.throws(() => parseExitPolicy(text), (e: unknown) => e instanceof ExitPolicyError && e.line === line, text);
  }
});

test('toLines round-trips', () => {
  const p = parseExitPolicy(['reject 10.1.2.3/8:*', 'accept 1.2.3.4:80', 'accept *:1000-2000']);
  assert.deepEqual(p.toLines(), ['reject 10.0.0.0/8:*', 'accept 1.2.3.4:80', 'accept *:1000-2000']);
  assert.deepEqual(parseExitPolicy(p.toLines()).toLines(), p.toLines());
});

test('default policy: private/special nets and own addresses rejected, test internet and public accepted', () => {
  const p = defaultExitPolicy({ ownAddresses: ['198.18.0.3'], allow: ['10.9.0.0/16'] });
  for (const a of ['0.1.2.3', '127.0.0.1', '10.1.1.1', '172.16.5.5', '172.31.255.255', '192.168.1.1', '169.254.1.1', '100.64.0.1', '224.0.0.251', '239.255.255.250', '198.18.0.3']) {
    assert.equal(p.allows(a, 6, 80), false, a);
  }
  for (const a of ['198.18.0.4', '198.19.200.1', '8.8.8.8', '172.32.0.1', '10.9.3.3']) {
    assert.equal(p.allows(a, 6, 80), true, a);
  }
  assert.equal(defaultExitPolicy().allows('198.18.0.1', 17, 53), true, '198.18.0.0/15 is not rejected by default');
});
