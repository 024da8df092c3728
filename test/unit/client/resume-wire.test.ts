/** Frozen resumption vectors (test/vectors/wire.json, "resumption"): re-derived, and the MAC re-computed with @noble. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../common/paths.js';
import { Ctrl } from '../../../protocol/constants.js';
import { decodeControl, encodeControl } from '../../../protocol/messages.js';
import { openResumeToken, RESUME_MAC_LABEL, sealResumeToken } from '../../../protocol/resume.js';

interface ResumeVectors {
  inputs: { key: string; ipv4: string; expiresS: number; nonce: string; ttlS: number };
  outputs: { token: string; exitResume: string; resumeToken: string };
}
const v = (JSON.parse(readFileSync(join(repoRoot(), 'test', 'vectors', 'wire.json'), 'utf8')) as { resumption: ResumeVectors }).resumption;
const hx = (s: string): Buffer => Buffer.from(s, 'hex');

test('resumption vectors re-derive byte for byte', () => {
  const i = v.inputs;
  const token = sealResumeToken(hx(i.key), { ipv4: i.ipv4, expiresS: i.expiresS, nonce: hx(i.nonce) });
  assert.equal(token.toString('hex'), v.outputs.token);
  assert.equal(encodeControl({ ctype: Ctrl.EXIT_RESUME, token }).toString('hex'), v.outputs.exitResume);
  assert.equal(encodeControl({ ctype: Ctrl.RESUME_TOKEN, ttlS: i.ttlS, token }).toString('hex'), v.outputs.resumeToken);
  assert.deepEqual(decodeControl(hx(v.outputs.resumeToken)), { ctype: Ctrl.RESUME_TOKEN, ttlS: i.ttlS, token });
  assert.deepEqual(openResumeToken(hx(i.key), token, i.expiresS), { ipv4: i.ipv4, expiresS: i.expiresS, nonce: new Uint8Array(hx(i.nonce)) });
});

test('the token layout and MAC match an independent computation (@noble)', async () => {
  const { hmac } = await import('@noble/hashes/hmac.js');
  const { sha256 } = await import('@noble/hashes/sha2.js');
  const t = hx(v.outputs.token);
  assert.equal(t[0], 1, 'version');
  assert.equal([...t.subarray(1, 5)].join('.'), v.inputs.ipv4, 'ipv4 in network order');
  assert.equal(t.readUInt32LE(5), v.inputs.expiresS, 'expiry, little-endian');
  assert.equal(t.subarray(9, 17).toString('hex'), v.inputs.nonce);
  const mac = hmac(sha256, hx(v.inputs.key), Buffer.concat([Buffer.from(RESUME_MAC_LABEL), t.subarray(0, 17)]));
  assert.equal(Buffer.from(mac.subarray(0, 16)).toString('hex'), t.subarray(17).toString('hex'));
});
