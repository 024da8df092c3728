import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, decodeMessageValue, encodeMessage, MalformedMessageError, MAX_MESSAGE_BYTES, messageValue } from '../../../chain/consensus/messages.js';
import { packValue, unpackValue } from '../../../chain/node/wire.js';
import { timeoutSigningBytes, voteSigningBytes } from '../../../chain/consensus/certificate.js';
import { consensusVoteSigningBytes, checkVoteEvidence } from '../../../chain/state/vote-evidence.js';
import type { Message } from '../../../chain/consensus/types.js';
import { CHAIN, committee, genesis, makeBlock, proposal, qcFor, voteFor } from './helpers.js';

const { signers } = committee(4);
const g = genesis();
const b1 = makeBlock(g, g.justify, 1, signers[1]!);
const qc1 = qcFor(b1, signers.slice(0, 3));
const samples: Message[] = [
  proposal(b1, signers[1]!),
  { ...proposal(makeBlock(b1, qc1, 3, signers[3]!), signers[3]!), tc: { view: 2, timeouts: [{ signer: signers[0]!.publicKey, signature: 'ab'.repeat(64) }] } },
  { type: 'vote', vote: voteFor(signers[2]!, b1) },
  { type: 'timeout', view: 2, signer: signers[0]!.publicKey, signature: signers[0]!.sign(timeoutSigningBytes(CHAIN, 2)), highQC: qc1 },
  { type: 'sync', highQC: qc1 },
  { type: 'blockRequest', hash: b1.hash },
  { type: 'blockResponse', block: b1 },
];

test('every message type round-trips through the canonical codec', () => {
  for (const m of samples) {
    const bytes = encodeMessage(m);
    const back = decodeMessage(bytes);
    assert.deepEqual(back, m);
    assert.deepEqual(encodeMessage(back), bytes, `${m.type} re-encodes identically`);
  }
});

test('every message type round-trips in its structured form through the p2p envelope, the payload as raw bytes', () => {
  for (const m of samples) {
    const packed = packValue(messageValue(m));
    const back = decodeMessageValue(unpackValue(packed));
    assert.deepEqual(back, m);
    assert.deepEqual(encodeMessage(back), encodeMessage(m), `${m.type}: same canonical encoding`);
  }
  // A proposal with a 64 KiB payload: the envelope carries it once, canonical JSON as hex (twice).
  const big = proposal(makeBlock(g, g.justify, 1, signers[1]!, 'x'.repeat(64 * 1024)), signers[1]!);
  const payloadLen = (big as Extract<Message, { type: 'proposal' }>).block.payload.length;
  const packedLen = packValue(messageValue(big)).length;
  assert.ok(packedLen < payloadLen + 2048, `packed ${packedLen} B for a ${payloadLen} B payload`);
  assert.ok(encodeMessage(big).length > 2 * payloadLen);
});

test('decodeMessageValue rejects malformed structured messages with a reason', () => {
  const good = messageValue(samples[0]!) as { type: string; block: Record<string, unknown>; signature: string };
  const cases: [unknown, RegExp][] = [
    [new Uint8Array([1, 2, 3]), /not an object/],
    [null, /not an object/],
    [{ ...good, block: { ...good.block, payload: 42 } }, /block\.payload: not bytes or hex/],
    [{ ...good, block: { ...good.block, payload: 'XYZ' } }, /block\.payload: not bytes or hex/],
    [{ ...good, block: { ...good.block, payload: new Uint8Array(MAX_MESSAGE_BYTES + 1) } }, /block\.payload: larger than/],
    [{ ...good, block: { ...good.block, height: '1' } }, /block\.height/],
    [{ ...good, extra: true }, /unexpected field extra/],
  ];
  for (const [v, re] of cases) {
    assert.throws(() => decodeMessageValue(v), (e: unknown) => e instanceof MalformedMessageError && re.test(e.message), String(re));
  }
});

test('decodeMessage throws MalformedMessageError with a reason', () => {
  const good = JSON.parse(new TextDecoder().decode(encodeMessage(samples[2]!))) as { vote: { signature: string; vote: Record<string, unknown> } };
  const bad = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
  const cases: [Uint8Array, RegExp][] = [
    [bad('{not json'), /not UTF-8 JSON/],
    [new Uint8Array([0xff, 0xfe, 0x7b]), /not UTF-8 JSON/],
    [bad({ type: 'gossip' }), /unknown message type/],
    [bad({ ...good, extra: 1 }), /unexpected field extra/],
    [bad({ type: 'vote' }), /missing vote/],
    [bad({ ...good, vote: { ...good.vote, signature: 'zz' } }), /signature/],
    [bad({ ...good, vote: { ...good.vote, vote: { ...good.vote.vote, height: -1 } } }), /height/],
    [bad({ ...good, vote: { ...good.vote, vote: { ...good.vote.vote, view: 1.5 } } }), /view/],
    [bad({ type: 'blockRequest', hash: 'AB'.repeat(32) }), /hash/],
    [bad('[]'), /unknown message type|not an object/],
  ];
  for (const [bytes, re] of cases) {
    assert.throws(() => decodeMessage(bytes), (e: unknown) => e instanceof MalformedMessageError && re.test(e.message));
  }
});

test('votes sign exactly chain/state consensusVoteSigningBytes, so equivocations are valid slashing evidence', () => {
  const v = voteFor(signers[0]!, b1);
  assert.deepEqual(voteSigningBytes(v.vote), consensusVoteSigningBytes(v.vote));
  const alt = makeBlock(g, g.justify, 1, signers[1]!, 'other payload');
  const w = voteFor(signers[0]!, alt);
  assert.equal(checkVoteEvidence({ a: v, b: w }, CHAIN.chainId), signers[0]!.publicKey);
});
