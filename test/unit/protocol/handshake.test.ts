import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInit, finish, HandshakeError, nodeIdHash, respond, staticKeysFromSecret } from '../../../protocol/handshake.js';
import { generateX25519 } from '../../../protocol/x25519.js';
import { toHex } from './vectors.js';

const relay = generateX25519();
const is = (reason: string) => (e: unknown) => e instanceof HandshakeError && e.reason === reason;

test('client and relay derive the same keys; indices are carried', () => {
  const { init, state } = createInit(relay.publicKey, 1234);
  assert.equal(init.length, 48);
  assert.equal(toHex(init.subarray(8, 16)), toHex(nodeIdHash(relay.publicKey)));
  const r = respond(relay, init, 99);
  assert.equal(r.resp.length, 76);
  assert.equal(r.senderIdx, 1234);
  const f = finish(state, r.resp, 1234);
  assert.equal(f.relayIdx, 99);
  assert.equal(toHex(f.keys.forward), toHex(r.keys.forward));
  assert.equal(toHex(f.keys.backward), toHex(r.keys.backward));
  assert.notEqual(toHex(f.keys.forward), toHex(f.keys.backward));
  // fresh ephemerals: another run gives other keys
  const again = createInit(relay.publicKey, 1234);
  const r2 = respond(relay, again.init, 99);
  assert.notEqual(toHex(r2.keys.forward), toHex(r.keys.forward));
});

test('INIT for another node is refused (wrong_node)', () => {
  const other = generateX25519();
  const { init } = createInit(other.publicKey, 1);
  assert.throws(() => respond(relay, init, 2), is('wrong_node'));
});

test('RESP from an impostor (no static key) fails auth; tampered RESP fails auth; wrong index fails', () => {
  const { init, state } = createInit(relay.publicKey, 5);
  const impostor = generateX25519();
  // an impostor answering with its own static key cannot produce auth for B
  const fakeState = { ...state };
  const r = respond(relay, init, 7);
  const tampered = Buffer.from(r.resp);
  tampered[60]! ^= 1;
  assert.throws(() => finish(fakeState, tampered, 5), is('auth'));
  const y = Buffer.from(r.resp);
  y.set(generateX25519().publicKey, 12);
  assert.throws(() => finish(state, y, 5), is('auth'));
  assert.throws(() => finish(state, r.resp, 6), is('index'));
  // an impostor holding its own key pair answering an INIT meant for relay
  const forged = respond({ secretKey: impostor.secretKey, publicKey: relay.publicKey }, init, 7);
  assert.throws(() => finish(state, forged.resp, 5), is('auth'));
  // the real answer still works after the failures
  assert.equal(finish(state, r.resp, 5).relayIdx, 7);
});

test('low-order X or Y is refused', () => {
  const { init, state } = createInit(relay.publicKey, 5);
  const bad = Buffer.from(init);
  bad.fill(0, 16, 48); // X = 0 (low order)
  assert.throws(() => respond(relay, bad, 1), is('low_order'));
  const r = respond(relay, init, 1);
  const badY = Buffer.from(r.resp);
  badY.fill(0, 12, 44);
  badY[12] = 1; // Y = 1 (low order)
  assert.throws(() => finish(state, badY, 5), is('low_order'));
});

test('malformed INIT / RESP bytes are HandshakeError(malformed)', () => {
  assert.throws(() => respond(relay, Buffer.alloc(48), 1), is('malformed'));
  const { state } = createInit(relay.publicKey, 1);
  assert.throws(() => finish(state, Buffer.alloc(10)), is('malformed'));
});

test('staticKeysFromSecret derives the public key', () => {
  assert.equal(toHex(staticKeysFromSecret(relay.secretKey).publicKey), toHex(relay.publicKey));
});
