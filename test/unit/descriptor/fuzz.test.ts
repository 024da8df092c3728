import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MalformedDescriptorError, decodeDescriptor, encodeDescriptor, signDescriptor, verifyDescriptor } from '../../../protocol/descriptor.js';
import { T0, body, newKey } from './fixtures.js';

const key = newKey();
const valid = encodeDescriptor(signDescriptor(body(key.address, { family: ['11'.repeat(32)] }), key.sign));
const validObj = JSON.parse(new TextDecoder().decode(valid)) as Record<string, unknown>;

/** Decodes; any throw other than MalformedDescriptorError fails the property. A success must be canonical. */
function decodeOnlyMalformed(input: Uint8Array | string): void {
  try {
    const d = decodeDescriptor(input);
    const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
    assert.deepEqual(encodeDescriptor(d), new Uint8Array(bytes));
    verifyDescriptor(d, T0); // must not throw either
  } catch (err) {
    if (!(err instanceof MalformedDescriptorError)) throw err;
  }
}

test('fuzz: random bytes never throw anything but MalformedDescriptorError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 10_000 }), decodeOnlyMalformed), { numRuns: 500 });
});

test('fuzz: random JSON values never throw anything but MalformedDescriptorError', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => decodeOnlyMalformed(JSON.stringify(v) ?? 'null')), { numRuns: 500 });
});

test('fuzz: byte-level mutations of a valid descriptor', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 8 }), (muts) => {
      const b = Array.from(valid);
      for (const m of muts) {
        const at = m.at % (b.length + 1);
        if (m.kind === 'set') b[at % b.length] = m.byte;
        else if (m.kind === 'insert') b.splice(at, 0, m.byte);
        else b.splice(at % b.length, 1);
      }
      const bytes = new Uint8Array(b);
      try {
        const d = decodeDescriptor(bytes);
        assert.deepEqual(encodeDescriptor(d), bytes);
        // A mutant that still decodes changed signed content (or is the original): it must not verify unless unchanged.
        if (Buffer.compare(Buffer.from(bytes), Buffer.from(valid)) !== 0) assert.equal(verifyDescriptor(d, T0).ok, false);
      } catch (err) {
        if (!(err instanceof MalformedDescriptorError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});

test('fuzz: field-level substitutions with arbitrary JSON values', () => {
  const keys = [...Object.keys(validObj), 'extra', 'endpoints.udp', 'endpoints.ws'];
  fc.assert(
    fc.property(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), (k, v) => {
      const w = structuredClone(validObj);
      if (k.startsWith('endpoints.')) (w.endpoints as Record<string, unknown>)[k.slice(10)] = v;
      else w[k] = v;
      decodeOnlyMalformed(JSON.stringify(w));
      decodeOnlyMalformed(canonicalize(w));
    }),
    { numRuns: 1500 },
  );
});

function canonicalize(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalize).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalize(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
