import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../../common/clock.js';
import { MapChainView } from '../../../discovery/chain-view.js';
import { Directory } from '../../../discovery/directory.js';
import { CHAIN, T0, TOP, testRelay } from './fixtures.js';

const relay = testRelay(1);
const valid = relay.bytes(T0, 3600_000);

function freshDirectory(): { dir: Directory; chain: MapChainView } {
  const chain = new MapChainView();
  chain.setRelay(relay.address, TOP);
  return { dir: new Directory({ chainId: CHAIN, chain, clock: new ManualClock(0, T0) }), chain };
}

async function assertRejectedNoCandidate(dir: Directory, bytes: Uint8Array): Promise<void> {
  const out = await dir.ingest(bytes);
  assert.equal(out.kind, 'rejected');
  assert.equal(dir.candidates().length, 0);
  assert.equal(dir.size, 0);
}

test('fuzz: garbage bytes are rejected, counted, and never throw', async () => {
  const { dir } = freshDirectory();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 12_000 }), async (bytes) => {
      n++;
      await assertRejectedNoCandidate(dir, bytes);
    }),
    { numRuns: 300 },
  );
  const s = dir.stats();
  assert.equal(s.rejected.malformed, n, 'every garbage payload counts as malformed');
});

test('fuzz: random JSON values are rejected as malformed', async () => {
  const { dir } = freshDirectory();
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (v) => {
      await assertRejectedNoCandidate(dir, new TextEncoder().encode(JSON.stringify(v) ?? 'null'));
    }),
    { numRuns: 300 },
  );
});

test('fuzz: mutations of a valid descriptor never get in', async () => {
  const mutation = fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('set', 'insert', 'delete') });
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 6 }), async (muts) => {
      const b = Array.from(valid);
      for (const m of muts) {
        const at = m.at % (b.length + 1);
        if (m.kind === 'set' && at < b.length) b[at] = m.byte;
        else if (m.kind === 'insert') b.splice(at, 0, m.byte);
        else if (m.kind === 'delete' && at < b.length) b.splice(at, 1);
      }
      const bytes = Uint8Array.from(b);
      if (Buffer.from(bytes).equals(Buffer.from(valid))) return;
      const { dir } = freshDirectory();
      const out = await dir.ingest(bytes);
      assert.equal(out.kind, 'rejected');
      assert.equal(dir.candidates().length, 0);
    }),
    { numRuns: 300 },
  );
  // The unmutated original does get in: the property is not vacuous.
  const { dir } = freshDirectory();
  assert.equal((await dir.ingest(valid)).kind, 'added');
});
