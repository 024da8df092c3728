/**
 * One minimal input per fuzz finding (test/fuzz/targets.ts), each now rejected with the
 * parser's documented error class. Before the fixes each threw a TypeError / RangeError /
 * SyntaxError, or (deploy shards) ran for minutes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError as ChainConfigError, readGenesis, readNodeConfig, validateGenesis, type GenesisFile } from '../../chain/node/config.js';
import { WireDecodeError, wireDecode } from '../../chain/node/wire.js';
import { decodePayload, PayloadError } from '../../chain/node/payload.js';
import { ChainNode, TxRejected } from '../../chain/node/node.js';
import { decodeJson } from '../../chain/state/index.js';
import { decodeMessage, MalformedMessageError } from '../../chain/consensus/messages.js';
import { DEFAULT_DEPLOY_CONFIG, DeployConfigError, validateDeployConfig, type DeployConfig } from '../../deploy/gen-config.js';
import { loadConfig } from '../../deploy/generate.js';
import { CorruptWalletError, importWallet, readWalletFile } from '../../client/wallet/keystore.js';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { ControlServer } from '../../client/control.js';
import { encodeFrame, FrameDecoder } from '../../chain/node/net-libp2p.js';
import { silentLogger } from '../../common/log.js';

/** `[{"a":[{"a":…0…}]}]` nested `depth` levels. */
function deep(depth: number): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(i % 2 === 0 ? '[' : '{"a":');
    close.push(i % 2 === 0 ? ']' : '}');
  }
  return `${open.join('')}0${close.reverse().join('')}`;
}

const dir = mkdtempSync(join(tmpdir(), 'topvpn-fuzz-regress-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

const A = 'aa'.repeat(32);
const goodGenesis = {
  chainId: 'c',
  shards: 1,
  genesisTime: 0,
  allocations: [{ address: A, amount: '1' }],
  nodes: [{ address: A, p2p: '/ip4/127.0.0.1/tcp/1', rpc: 'http://127.0.0.1:2' }],
  committees: { beacon: { validators: [A], auditors: [] } },
};

test('genesis (chain/node/config.ts): any JSON value is a ConfigError, never a TypeError', () => {
  validateGenesis(goodGenesis as GenesisFile); // the baseline passes
  const bad: unknown[] = [
    null, // TypeError: reading 'chainId' of null
    7,
    { ...goodGenesis, nodes: {} }, // g.nodes.map is not a function
    { ...goodGenesis, nodes: [null] }, // reading 'address' of null
    { ...goodGenesis, nodes: undefined },
    { ...goodGenesis, committees: null }, // Object.entries(null)
    { ...goodGenesis, committees: { beacon: null } }, // reading 'validators' of null
    { ...goodGenesis, committees: { beacon: { validators: [A] } } }, // grp.auditors is not iterable
    { ...goodGenesis, committees: { beacon: { validators: 5, auditors: [] } } }, // grp.validators is not iterable / length of undefined
    { ...goodGenesis, committees: { beacon: { validators: [{ a: 1 }], auditors: [] } } }, // a.slice is not a function
    { ...goodGenesis, allocations: 3 }, // g.allocations is not iterable
    { ...goodGenesis, allocations: [null] }, // reading 'amount' of null
    { ...goodGenesis, timing: null },
    { ...goodGenesis, timing: { baseTimeoutMs: '1500' } },
    { ...goodGenesis, timing: { minBlockIntervalMs: -1 } },
  ];
  for (const g of bad) {
    assert.throws(() => validateGenesis(g as GenesisFile), ChainConfigError, JSON.stringify(g));
    assert.throws(() => readGenesis(file('genesis.json', JSON.stringify(g))), ChainConfigError);
  }
});

test('genesis timing: a block interval at or above the view timeout (no leader would ever propose) is refused by name', () => {
  validateGenesis({ ...goodGenesis, timing: { baseTimeoutMs: 2000, minBlockIntervalMs: 1999 } } as GenesisFile);
  validateGenesis({ ...goodGenesis, timing: { minBlockIntervalMs: 100 } } as GenesisFile); // default timeout
  for (const timing of [{ baseTimeoutMs: 2000, minBlockIntervalMs: 2000 }, { baseTimeoutMs: 500 }, { minBlockIntervalMs: 60_000 }]) {
    assert.throws(() => validateGenesis({ ...goodGenesis, timing } as GenesisFile), (e: Error) => e instanceof ChainConfigError && /timing\.minBlockIntervalMs .* must be below baseTimeoutMs/.test(e.message), JSON.stringify(timing));
  }
});

test('deploy config (deploy/generate.ts loadConfig): bad JSON and bad shapes are DeployConfigErrors', () => {
  assert.throws(() => loadConfig(file('d1.json', '{\n  "chainId"')), DeployConfigError); // was SyntaxError
  assert.throws(() => loadConfig(file('d2.json', 'null')), DeployConfigError); // was TypeError (reading 'chainId')
  const { relays: _r, ...noRelays } = DEFAULT_DEPLOY_CONFIG;
  void _r;
  assert.throws(() => loadConfig(file('d3.json', JSON.stringify(noRelays))), DeployConfigError); // cfg.relays is not iterable
  assert.throws(() => validateDeployConfig({ ...DEFAULT_DEPLOY_CONFIG, prometheus: null } as unknown as DeployConfig), DeployConfigError);
  assert.throws(() => validateDeployConfig({ ...DEFAULT_DEPLOY_CONFIG, relays: [{ ...DEFAULT_DEPLOY_CONFIG.relays[2]!, exit: 'yes' }] } as unknown as DeployConfig), DeployConfigError);
  assert.equal(loadConfig(file('d4.json', JSON.stringify(DEFAULT_DEPLOY_CONFIG))).chainId, DEFAULT_DEPLOY_CONFIG.chainId);
});

test('deploy config: a huge shard count is refused at once (it used to build 10^8 committees)', () => {
  const cfg = { ...DEFAULT_DEPLOY_CONFIG, shards: 104008484 };
  assert.throws(() => loadConfig(file('d5.json', JSON.stringify(cfg))), /shards must be an integer in 1\.\./);
});

test('deploy config: a value without a usable toString is a DeployConfigError, not a TypeError', () => {
  // Campaign seed 1125, input 484530: "user":{…,"toString":null} made NAME.test(cfg.user) throw
  // "Cannot convert object to primitive value"; the same held for every regex-checked field and
  // for the error messages that printed the bad value.
  const noStr = { toString: null };
  const r = DEFAULT_DEPLOY_CONFIG.relays[2]!;
  const bad: Array<Record<string, unknown>> = [
    { user: noStr },
    { prometheus: { ...DEFAULT_DEPLOY_CONFIG.prometheus, scrapeInterval: noStr } },
    { k8s: { ...DEFAULT_DEPLOY_CONFIG.k8s, namespace: noStr } },
    { prometheus: { ...DEFAULT_DEPLOY_CONFIG.prometheus, port: noStr } },
    { compose: { subnet: noStr } },
    { validators: [{ ...DEFAULT_DEPLOY_CONFIG.validators[0]!, name: [noStr] }] },
    { validators: [{ ...DEFAULT_DEPLOY_CONFIG.validators[0]!, host: noStr }] },
    { relays: [{ ...r, region: noStr }] },
    { relays: [{ ...r, exit: { ...r.exit!, dns: noStr } }] },
    { relays: [{ ...r, exit: { ...r.exit!, allow: [noStr] } }] },
    { relays: [{ ...r, name: noStr, exit: 'yes' }] },
  ];
  for (const [i, patch] of bad.entries()) {
    const text = JSON.stringify({ ...DEFAULT_DEPLOY_CONFIG, ...patch });
    assert.throws(() => loadConfig(file(`d-nostr-${i}.json`, text)), DeployConfigError, `case ${i}: ${text.slice(0, 60)}`);
  }
  // A name given as a one-element list used to pass the name check ([x] stringifies to x).
  assert.throws(() => validateDeployConfig({ ...DEFAULT_DEPLOY_CONFIG, validators: [{ ...DEFAULT_DEPLOY_CONFIG.validators[0]!, name: ['val-x'] }] } as unknown as DeployConfig), DeployConfigError);
});

test('wire JSON (chain/node/wire.ts): deep nesting is a WireDecodeError, not a stack overflow', () => {
  assert.throws(() => wireDecode(deep(20000)), WireDecodeError); // was RangeError in restore()
  assert.throws(() => wireDecode(`{"list":[${deep(200)}]}`), WireDecodeError);
  assert.deepEqual(wireDecode(`{"x":${deep(20)}}`), JSON.parse(`{"x":${deep(20)}}`));
  assert.throws(() => decodePayload(Buffer.from(deep(20000))), PayloadError);
});

test('decodeJson (chain/state/codec.ts): deep nesting is a SyntaxError, its one documented error', () => {
  assert.throws(() => decodeJson(`{"signature":${deep(20000)}}`), SyntaxError); // was RangeError from the reviver
  assert.equal(decodeJson<{ fee: bigint }>('{"fee":"12"}').fee, 12n);
});

test('ChainNode.parseSignedTx: a deeply nested body is TxRejected, not a RangeError', () => {
  const raw = JSON.parse(`{"signature":${deep(20000)}}`) as unknown;
  assert.throws(() => ChainNode.parseSignedTx(raw), TxRejected);
});

test('readWalletFile: a deeply nested "version" is a CorruptWalletError, not a RangeError', async () => {
  const good = join(dir, 'w.json');
  await importWallet(good, 'ab'.repeat(32), 'pw', { kdf: { N: 1024, r: 1, p: 1 } });
  const body = JSON.parse(readFileSync(good, 'utf8')) as Record<string, unknown>;
  const text = JSON.stringify({ ...body, version: '@@' }).replace('"@@"', deep(20000));
  assert.throws(() => readWalletFile(file('w2.json', text)), CorruptWalletError);
  assert.throws(() => readWalletFile(file('w3.json', JSON.stringify({ ...body, version: 2 }))), /unsupported version 2/);
});

test('control socket (client/control.ts): a deeply nested "cmd" gets an answer, and the connection keeps answering', async () => {
  const path = join(dir, 'c.sock');
  const server = new ControlServer(path, { status: () => ({ state: 'up' }), disconnect: () => Promise.resolve(null) }, silentLogger());
  await server.listen();
  const sock = createConnection(path);
  try {
    await once(sock, 'connect');
    sock.setEncoding('utf8');
    let buf = '';
    const lines: string[] = [];
    sock.on('data', (c: string) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    // 40 KB, under the 64 KiB line limit: JSON.stringify(cmd) overflowed the stack, the handler's
    // promise rejected unhandled (fatal for the daemon under Node's default) and the connection went silent
    sock.write(`{"cmd":${deep(10000)}}\n{"cmd":"status"}\n`);
    for (let i = 0; i < 500 && lines.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[0]!), { ok: false, error: 'unknown command object (expected "status" or "disconnect")' });
    assert.deepEqual(JSON.parse(lines[1]!), { ok: true, result: { state: 'up' } });
  } finally {
    sock.destroy();
    await server.close();
  }
});

test('FrameDecoder (chain/node/net-libp2p.ts): a large frame in small chunks is reassembled in linear time', () => {
  // 8 MiB in 4 KiB chunks: the decoder used to re-copy everything buffered on every chunk
  // (2048 pushes × ~4 MiB ≈ 8 GB of copying; a 64 MiB frame in 1 KiB chunks never finished).
  const payload = Buffer.alloc(8 * 1024 * 1024, 7);
  payload[payload.length - 1] = 9;
  const stream = Buffer.from(encodeFrame(payload));
  const got: Uint8Array[] = [];
  const d = new FrameDecoder();
  for (let i = 0; i < stream.length; i += 4096) d.push(stream.subarray(i, i + 4096), (f) => got.push(f));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, payload.length);
  assert.equal(got[0]![payload.length - 1], 9);
  const big = Buffer.alloc(4);
  big.writeUInt32BE(0xffffffff, 0);
  assert.throws(() => new FrameDecoder().push(big, () => {}), /frame too large/);
});

test('node config (chain/node/config.ts readNodeConfig): wrong types are ConfigErrors, not TypeErrors', () => {
  const ok = { p2pListen: '/ip4/0.0.0.0/tcp/31000', rpcPort: 8645 };
  assert.equal(readNodeConfig(file('n0.json', JSON.stringify(ok))).rpcPort, 8645);
  for (const bad of [null, [], { ...ok, dataDir: 1841233400 }, { ...ok, keyFile: -1 }, { ...ok, genesisFile: {} }, { ...ok, rpcHost: 5 }, { ...ok, rpcPort: 1.5 }]) {
    // null: reading 'p2pListen' of null; numbers as paths: ERR_INVALID_ARG_TYPE from path.isAbsolute
    assert.throws(() => readNodeConfig(file('n1.json', JSON.stringify(bad))), ChainConfigError, JSON.stringify(bad));
  }
});

test('decodeMessage (chain/consensus/messages.ts): a "type" without a usable toString is a MalformedMessageError', () => {
  // String({toString: 0}) throws "Cannot convert object to primitive value"
  for (const t of ['{"toString":0}', '{"toString":{},"valueOf":1}', '[{"toString":0}]']) {
    assert.throws(() => decodeMessage(Buffer.from(`{"type":${t},"view":0}`)), MalformedMessageError);
  }
  assert.throws(() => decodeMessage(Buffer.from('{"type":"nope"}')), /unknown message type "nope"/);
});
