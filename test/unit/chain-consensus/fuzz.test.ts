import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, MalformedMessageError } from '../../../chain/consensus/messages.js';
import { createConsensus, step } from '../../../chain/consensus/core.js';
import { timeoutSigningBytes } from '../../../chain/consensus/certificate.js';
import type { Message } from '../../../chain/consensus/types.js';
import { CHAIN, GENESIS_ID, committee, genesis, makeBlock, proposal, qcFor, voteFor } from './helpers.js';

const { signers, members } = committee(4);
const g = genesis();
const b1 = makeBlock(g, g.justify, 1, signers[1]!);
const q1 = qcFor(b1, signers.slice(0, 3));
const b2 = makeBlock(b1, q1, 2, signers[2]!);
const samples: Message[] = [
  proposal(b1, signers[1]!),
  proposal(b2, signers[2]!),
  { type: 'vote', vote: voteFor(signers[3]!, b1) },
  { type: 'timeout', view: 1, signer: signers[2]!.publicKey, signature: signers[2]!.sign(timeoutSigningBytes(CHAIN, 1)), highQC: g.justify },
  { type: 'sync', highQC: q1 },
  { type: 'blockRequest', hash: b1.hash },
  { type: 'blockResponse', block: b2 },
];

/** Replace the value at a random path of a JSON tree. */
function mutate(v: unknown, path: number[], repl: unknown): unknown {
  if (path.length === 0 || v === null || typeof v !== 'object') return repl;
  const keys = Object.keys(v as object);
  if (keys.length === 0) return repl;
  const k = keys[(path[0] as number) % keys.length] as string;
  const copy: Record<string, unknown> = Array.isArray(v) ? ([...v] as unknown as Record<string, unknown>) : { ...(v as Record<string, unknown>) };
  copy[k] = mutate((v as Record<string, unknown>)[k], path.slice(1), repl);
  return copy;
}

test('fuzz: decodeMessage only ever throws MalformedMessageError; step never throws on what decodes', () => {
  const replacement = fc.oneof(fc.jsonValue(), fc.constantFrom('00'.repeat(32), 'ff'.repeat(64), -1, 2 ** 53, 1e308, '', 'shard-0', 'topvpn-test'));
  fc.assert(
    fc.property(fc.nat(samples.length - 1), fc.array(fc.nat(20), { maxLength: 6 }), replacement, fc.boolean(), (i, path, repl, raw) => {
      const base = JSON.parse(new TextDecoder().decode(encodeMessage(samples[i]!))) as unknown;
      const bytes = raw ? new TextEncoder().encode(JSON.stringify(repl)) : new TextEncoder().encode(JSON.stringify(mutate(base, path, repl)));
      let msg: Message;
      try {
        msg = decodeMessage(bytes);
      } catch (e) {
        assert.ok(e instanceof MalformedMessageError, String(e));
        return;
      }
      let st = createConsensus({ ...CHAIN, members, signer: signers[0]!, genesisId: GENESIS_ID });
      st = step(st, { type: 'start', now: 0 }).state;
      const r = step(st, { type: 'message', now: 1, from: signers[1]!.publicKey, msg });
      for (const a of r.actions) assert.notEqual(a.type, 'commit');
    }),
    { numRuns: 1500 },
  );
});
