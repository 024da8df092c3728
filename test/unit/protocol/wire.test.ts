import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { vectorPath } from './vectors.js';
import { deriveWire, type WireInputs, type WireOutputs } from './wire-derive.js';
import { decodeDataHeader, decodeInit, decodeResp } from '../../../protocol/messages.js';

const v = JSON.parse(readFileSync(vectorPath('wire.json'), 'utf8')) as { inputs: WireInputs; outputs: WireOutputs };

test('frozen wire vectors re-derive byte for byte (fails if the wire format or KDF changes)', () => {
  const out = deriveWire(v.inputs);
  assert.deepEqual(out, v.outputs);
});

test('frozen vectors are consistent with the documented layouts', () => {
  const o = v.outputs;
  for (let i = 0; i < 3; i++) {
    assert.equal(o.hops[i]!.initOnWire.length, 96);
    assert.equal(o.hops[i]!.resp.length, 152);
    const r = decodeResp(Buffer.from(o.hops[i]!.resp, 'hex'));
    assert.equal(r.senderIdx, v.inputs.relayPrevIdx[i]);
    const init = decodeInit(Buffer.from(o.hops[i]!.initOnWire, 'hex'));
    assert.equal(init.senderIdx, i === 0 ? v.inputs.clientIdx : v.inputs.relayNextIdx[i - 1]);
  }
  const d = Buffer.from(o.data3, 'hex');
  assert.equal(d.length, v.inputs.ipPacket.length / 2 + 3 * 33);
  assert.deepEqual(decodeDataHeader(d), { epoch: 0, receiverIdx: v.inputs.relayPrevIdx[0], counter: v.inputs.forwardCounters[0] });
});

test('an independent implementation (@noble) derives the same keys and peels the 3-layer packet', async () => {
  const { x25519 } = await import('@noble/curves/ed25519.js');
  const { hmac } = await import('@noble/hashes/hmac.js');
  const { sha256 } = await import('@noble/hashes/sha2.js');
  const { expand } = await import('@noble/hashes/hkdf.js');
  const { chacha20poly1305 } = await import('@noble/ciphers/chacha.js');
  const hx = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
  const cat = (...a: Uint8Array[]) => new Uint8Array(Buffer.concat(a));
  const keys: Array<{ f: Uint8Array }> = [];
  for (let i = 0; i < 3; i++) {
    const b = hx(v.inputs.relayStaticSecrets[i]!);
    const B = x25519.getPublicKey(b);
    const xs = hx(v.inputs.clientEphemeralSecrets[i]!);
    const X = x25519.getPublicKey(xs);
    const Y = x25519.getPublicKey(hx(v.inputs.relayEphemeralSecrets[i]!));
    const secret = cat(x25519.getSharedSecret(xs, Y), x25519.getSharedSecret(xs, B));
    const prk = hmac(sha256, new TextEncoder().encode('topvpn-ntor-x25519-sha256-1'), cat(secret, B, X, Y));
    const authKey = expand(sha256, prk, new TextEncoder().encode('topvpn auth'), 32);
    const auth = hmac(sha256, authKey, cat(B, Y, X, new TextEncoder().encode('server')));
    const k = expand(sha256, prk, new TextEncoder().encode('topvpn keys'), 64);
    assert.equal(Buffer.from(k.subarray(0, 32)).toString('hex'), v.outputs.hops[i]!.forwardKey);
    assert.equal(Buffer.from(k.subarray(32)).toString('hex'), v.outputs.hops[i]!.backwardKey);
    assert.equal(Buffer.from(auth).toString('hex'), v.outputs.hops[i]!.resp.slice(88));
    keys.push({ f: k.subarray(0, 32) });
  }
  let pkt: Uint8Array = hx(v.outputs.data3);
  for (let i = 0; i < 3; i++) {
    const nonce = new Uint8Array(12);
    nonce.set(pkt.subarray(8, 16), 4);
    const pt = chacha20poly1305(keys[i]!.f, nonce, pkt.subarray(0, 16)).decrypt(pkt.subarray(16));
    assert.equal(pt[0], i < 2 ? 1 : 2);
    pkt = pt.subarray(1);
  }
  assert.equal(Buffer.from(pkt).toString('hex'), v.inputs.ipPacket);
});
