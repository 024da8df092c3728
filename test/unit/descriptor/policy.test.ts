import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  NON_PUBLIC_NETS,
  PolicyRuleError,
  maskOfBits,
  parsePolicy,
  parsePolicyRule,
  policyAllows,
  policyAllowsPortSomewherePublic,
  policyIsExit,
  type PolicyRule,
} from '../../../protocol/descriptor-policy.js';
import { parseExitPolicy } from '../../../relay/exit-policy.js';

const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;

test('canonical rules parse; non-canonical ones are refused', () => {
  assert.deepEqual(parsePolicyRule('accept *:*'), { accept: true, base: 0, bits: 0, portLo: 0, portHi: 65535 });
  assert.deepEqual(parsePolicyRule('reject 10.0.0.0/8:*'), { accept: false, base: ip('10.0.0.0'), bits: 8, portLo: 0, portHi: 65535 });
  assert.deepEqual(parsePolicyRule('accept 1.2.3.4:443'), { accept: true, base: ip('1.2.3.4'), bits: 32, portLo: 443, portHi: 443 });
  assert.deepEqual(parsePolicyRule('accept *:80-443'), { accept: true, base: 0, bits: 0, portLo: 80, portHi: 443 });
  for (const bad of [
    'accept *',
    'Accept *:*',
    'accept  *:*',
    'accept *:* ',
    'allow *:*',
    'accept 1.2.3.4/32:*',
    'accept 10.0.0.1/8:*',
    'accept 0.0.0.0/0:*',
    'accept 1.2.3.04:*',
    'accept 1.2.3.256:*',
    'accept *:0-65535',
    'accept *:65536',
    'accept *:443-80',
    'accept *:80-80',
    'accept *:080',
    'accept [::1]:*',
    'x'.repeat(60),
  ]) {
    assert.throws(() => parsePolicyRule(bad), PolicyRuleError, bad);
  }
});

test('first match decides; no match rejects; port-less packets need an all-ports rule', () => {
  const p = parsePolicy(['reject 10.0.0.0/8:*', 'accept *:443', 'reject 8.8.8.8:*', 'accept *:*']);
  assert.equal(policyAllows(p, ip('10.1.2.3'), 443), false);
  assert.equal(policyAllows(p, ip('8.8.8.8'), 443), true);
  assert.equal(policyAllows(p, ip('8.8.8.8'), 53), false);
  assert.equal(policyAllows(p, ip('9.9.9.9'), -1), true);
  assert.equal(policyAllows(parsePolicy(['accept *:443']), ip('9.9.9.9'), -1), false);
  assert.equal(policyAllows([], ip('9.9.9.9'), 443), false);
});

test('agrees with the relay enforcement (relay/exit-policy.ts) on random policies and packets', () => {
  const rule = fc
    .record({
      accept: fc.boolean(),
      any: fc.boolean(),
      addr: fc.integer({ min: 0, max: 0xffffffff }),
      bits: fc.integer({ min: 1, max: 32 }),
      lo: fc.integer({ min: 0, max: 65535 }),
      span: fc.integer({ min: 0, max: 70000 }),
    })
    .map(({ accept, any, addr, bits, lo, span }) => {
      const base = (addr & maskOfBits(bits)) >>> 0;
      const a = any ? '*' : bits === 32 ? fmt(base) : `${fmt(base)}/${bits}`;
      const hi = Math.min(65535, lo + span);
      const port = lo === 0 && hi === 65535 ? '*' : lo === hi ? `${lo}` : `${lo}-${hi}`;
      return `${accept ? 'accept' : 'reject'} ${a}:${port}`;
    });
  fc.assert(
    fc.property(fc.array(rule, { maxLength: 8 }), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: -1, max: 65535 }), (lines, dst, port) => {
      const ours = parsePolicy(lines);
      const relay = parseExitPolicy(lines);
      assert.deepEqual(relay.toLines(), lines, 'our canonical form is what the relay prints');
      // Probe both a random address and the rules' own bases (so matches actually happen).
      for (const a of [dst, ...ours.map((r) => r.base)]) {
        assert.equal(policyAllows(ours, a, port), relay.allows(a, 6, port), `${lines.join('; ')} @ ${fmt(a)}:${port}`);
      }
    }),
    { numRuns: 400 },
  );
});

function fmt(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

test('policyAllowsPortSomewherePublic: hand-picked cases', () => {
  const yes = (lines: string[], port = 443): boolean => policyAllowsPortSomewherePublic(parsePolicy(lines), port);
  assert.equal(yes([]), false);
  assert.equal(yes(['accept *:*']), true);
  assert.equal(yes(['reject *:443', 'accept *:*']), false);
  assert.equal(yes(['reject *:443', 'accept *:*'], 80), true);
  assert.equal(yes(['accept 10.0.0.0/8:*']), false, 'private only');
  assert.equal(yes(['accept 8.8.8.8:443']), true);
  assert.equal(yes(['reject 0.0.0.0/1:*', 'reject 128.0.0.0/1:*', 'accept *:*']), false);
  assert.equal(yes(['reject 0.0.0.0/1:*', 'reject 128.0.0.0/2:*', 'accept *:*']), true);
  assert.equal(yes(['accept 192.168.1.0/24:443', 'accept 127.0.0.1:*']), false);
  assert.equal(yes(['accept 240.0.0.0/4:*', 'accept 224.0.0.0/4:*', 'accept 100.64.0.0/10:*']), false, 'reserved, multicast, CGNAT');
  assert.equal(yes(['accept 100.128.0.0/9:*']), true, 'just past CGNAT is public');
  // Single addresses right at the edges of removed ranges.
  assert.equal(yes(['reject 0.0.0.0/1:*', 'accept 128.0.0.0:443']), true);
  assert.equal(yes(['reject 64.0.0.0/2:*', 'accept 63.255.255.255:443']), true);
  assert.equal(yes(['reject 64.0.0.0/2:*', 'accept 64.0.0.0:443', 'accept 127.255.255.255:443']), false);
  assert.equal(yes(['reject 1.0.0.0:*', 'accept 1.0.0.0:443']), false);
  assert.equal(yes(['reject 9.255.255.255:*', 'accept 9.255.255.255:443']), false);
  assert.equal(policyIsExit(parsePolicy([])), false);
  assert.equal(policyIsExit(parsePolicy(['reject *:*'])), false);
  assert.equal(policyIsExit(parsePolicy(['reject *:1-99', 'reject *:101-65535', 'accept *:*'])), true, 'port 100 is open');
  assert.equal(policyIsExit(parsePolicy(['reject *:1-99', 'reject *:100-65535', 'reject *:0', 'accept *:*'])), false);
});

test('policyAllowsPortSomewherePublic equals brute force over all /16 blocks (rules with prefixes ≤ /16)', () => {
  const nonPublic = (a: number): boolean => NON_PUBLIC_NETS.some(([b, bits]) => ((a & maskOfBits(bits)) >>> 0) === b);
  const rule = fc.record({
    accept: fc.boolean(),
    top: fc.integer({ min: 0, max: 0xffff }),
    bits: fc.integer({ min: 0, max: 16 }),
    lo: fc.integer({ min: 440, max: 446 }),
    hi: fc.integer({ min: 440, max: 446 }),
  });
  fc.assert(
    fc.property(fc.array(rule, { maxLength: 6 }), (raw) => {
      const rules: PolicyRule[] = raw.map((r) => ({
        accept: r.accept,
        bits: r.bits,
        base: ((r.top << 16) & maskOfBits(r.bits)) >>> 0,
        portLo: Math.min(r.lo, r.hi),
        portHi: Math.max(r.lo, r.hi),
      }));
      let brute = false;
      for (let blk = 0; blk <= 0xffff && !brute; blk++) {
        const a = (blk << 16) >>> 0;
        if (!nonPublic(a) && policyAllows(rules, a, 443)) brute = true;
      }
      assert.equal(policyAllowsPortSomewherePublic(rules, 443), brute);
    }),
    { numRuns: 60 },
  );
});
