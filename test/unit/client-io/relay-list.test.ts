import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { choosePath, loadRelays, parseRelayJson, parseRelayListString, RelayListError } from '../../../client/relay-list.js';
import { exitCodeFor } from '../../../relay/cli-util.js';

const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);
const K3 = 'aB'.repeat(32);

test('LIST form parses in order', () => {
  const r = parseRelayListString(`198.18.0.11:51820@${K1}, 198.18.0.12:51821@${K2}`);
  assert.equal(r.length, 2);
  assert.deepEqual(r[0]!.endpoint, { host: '198.18.0.11', port: 51820 });
  assert.equal(Buffer.from(r[1]!.publicKey).toString('hex'), K2);
  assert.equal(r[1]!.endpoint.port, 51821);
});

test('LIST form errors say which item and what is wrong', () => {
  assert.throws(() => parseRelayListString(`198.18.0.11:51820${K1}`), /item 1 .*expected host:port@pubhex/);
  assert.throws(() => parseRelayListString(`198.18.0.11:51820@${K1},`), /empty item/);
  assert.throws(() => parseRelayListString(`198.18.0.11:51820@${K1},198.18.0.12@${K2}`), /item 2: expected HOST:PORT/);
  assert.throws(() => parseRelayListString(`198.18.0.11:51820@abcd`), /item 1: publicKey must be 64 hex/);
  assert.throws(() => parseRelayListString(`198.18.0.300:1@${K1}`), /item 1: not an IPv4/);
});

test('FILE form parses and errors name the file and index', () => {
  const ok = parseRelayJson(JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: K1 }, { endpoint: '198.18.0.13:51820', publicKey: K3 }]), 'r.json');
  assert.equal(ok.length, 2);
  assert.equal(Buffer.from(ok[1]!.publicKey).toString('hex'), K3.toLowerCase());
  assert.throws(() => parseRelayJson('{', 'r.json'), /r\.json: not valid JSON/);
  assert.throws(() => parseRelayJson('{}', 'r.json'), /expected a JSON array/);
  assert.throws(() => parseRelayJson('[]', 'r.json'), /empty/);
  assert.throws(() => parseRelayJson('[1]', 'r.json'), /r\.json\[0\]: expected an object/);
  assert.throws(() => parseRelayJson(JSON.stringify([{ endpoint: '198.18.0.11:51820' }]), 'r.json'), /r\.json\[0\]: publicKey/);
  assert.throws(() => parseRelayJson(JSON.stringify([{ endpoint: 5, publicKey: K1 }]), 'r.json'), /r\.json\[0\]: endpoint must be/);
});

test('loadRelays reads a file path or a list; a missing file is a RelayListError (exit 2)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tva-relays-'));
  try {
    const f = join(dir, 'relays.json');
    writeFileSync(f, JSON.stringify([{ endpoint: '198.18.0.11:51820', publicKey: K1 }]));
    assert.equal(loadRelays(f)[0]!.endpoint.host, '198.18.0.11');
    assert.equal(loadRelays(`198.18.0.12:1@${K2}`)[0]!.endpoint.host, '198.18.0.12');
    let caught: unknown;
    try {
      loadRelays(join(dir, 'missing.json'));
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof RelayListError);
    assert.match((caught as Error).message, /no such file/);
    assert.equal(exitCodeFor(caught), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('choosePath: first N−1 relays then the last (the exit); rejects too few, bad N, repeats', () => {
  const three = parseRelayListString(`198.18.0.11:1@${K1},198.18.0.12:1@${K2},198.18.0.13:1@${K3}`);
  assert.deepEqual(choosePath(three, 3).map((r) => r.endpoint.host), ['198.18.0.11', '198.18.0.12', '198.18.0.13']);
  assert.deepEqual(choosePath(three, 2).map((r) => r.endpoint.host), ['198.18.0.11', '198.18.0.13']);
  assert.deepEqual(choosePath(three, 1).map((r) => r.endpoint.host), ['198.18.0.13']);
  assert.throws(() => choosePath(three.slice(0, 2), 3), /needs at least 3 relays, the list has 2/);
  assert.throws(() => choosePath(three, 4), /--hops must be 1\.\.3/);
  assert.throws(() => choosePath(three, 0), /--hops must be 1\.\.3/);
  const dup = parseRelayListString(`198.18.0.11:1@${K1},198.18.0.12:1@${K1}`);
  assert.throws(() => choosePath(dup, 2), /appears twice/);
});
