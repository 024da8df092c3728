/** Fuzz targets over chain/: consensus messages, block payloads, wire JSON, signed txs, frames, JSON-RPC, genesis files. */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { silentLogger } from '../../common/log.js';
import { decodeMessage, encodeMessage, MalformedMessageError } from '../../chain/consensus/messages.js';
import { timeoutSigningBytes } from '../../chain/consensus/certificate.js';
import type { Message } from '../../chain/consensus/types.js';
import { decodePayload, encodePayload, PAYLOAD_BINARY, PayloadError } from '../../chain/node/payload.js';
import { decodeTxList, encodeTxList, TxCodecError } from '../../chain/node/tx-codec.js';
import { packValue, unpackValue, wireDecode, WireDecodeError, wireEncode, wireFromBytes } from '../../chain/node/wire.js';
import { ChainNode, TxRejected } from '../../chain/node/node.js';
import { encodeFrame, FrameDecoder } from '../../chain/node/net-libp2p.js';
import { RpcError, RpcServer, RPC_INTERNAL, RPC_TX_REJECTED, intParam, param, stringParam } from '../../chain/node/rpc.js';
import { ConfigError as ChainConfigError, readGenesis, readNodeConfig, type GenesisFile } from '../../chain/node/config.js';
import { applyTx, decodeJson, encodeJson, txHash, verifyTxSignature, type SignedTx } from '../../chain/state/index.js';
import { CHAIN, committee, genesis as consensusGenesis, makeBlock, proposal, qcFor, voteFor } from '../unit/chain-consensus/helpers.js';
import { keyOn, nodeSpec, P, TOP, World } from '../unit/chain-state/helpers.js';
import { FuzzFinding, scratchDir, type FuzzTarget } from './harness.js';
import { bytesFrom, concat, jsonFrom, text, utf8 } from './mutate.js';

const dec = new TextDecoder();

export function chainTargets(cleanup: Array<() => void>): FuzzTarget[] {
  const out: FuzzTarget[] = [];

  // ---- consensus messages
  const { signers } = committee(4);
  const g = consensusGenesis();
  const b1 = makeBlock(g, g.justify, 1, signers[1]!);
  const q1 = qcFor(b1, signers.slice(0, 3));
  const b2 = makeBlock(b1, q1, 2, signers[2]!);
  const messages: Message[] = [
    proposal(b1, signers[1]!),
    proposal(b2, signers[2]!),
    { type: 'vote', vote: voteFor(signers[3]!, b1) },
    { type: 'timeout', view: 1, signer: signers[2]!.publicKey, signature: signers[2]!.sign(timeoutSigningBytes(CHAIN, 1)), highQC: g.justify },
    { type: 'sync', highQC: q1 },
    { type: 'blockRequest', hash: b1.hash },
    { type: 'blockResponse', block: b2 },
  ];
  out.push({
    name: 'chain.consensus.decodeMessage',
    parser: 'chain/consensus/messages.ts decodeMessage',
    arbitrary: jsonFrom(messages.map((m) => dec.decode(encodeMessage(m)))),
    allowedErrors: [MalformedMessageError],
    run(b) {
      const m = decodeMessage(b);
      // What decodes must encode again (the node re-broadcasts and hashes it).
      decodeMessage(encodeMessage(m));
    },
  });

  // ---- signed txs and block payloads
  const a = keyOn('shard-0');
  const r = keyOn('shard-0', P, 1);
  const w = new World(P, [{ who: a, amount: 1000n * TOP }], [nodeSpec(r, 'relay', P.minDeposit.relay)]);
  const txs: SignedTx[] = [
    w.tx(a, { type: 'transfer', to: r.address, amount: 5n * TOP }),
    w.tx(a, { type: 'channel-open', relay: r.address, deposit: 5n * TOP }),
    w.tx(a, { type: 'vote', node: r.address, amount: TOP }),
    w.tx(a, { type: 'resource-deposit', amount: TOP }),
    w.tx(a, { type: 'channel-close', channelId: 'ab'.repeat(32) }),
    w.tx(a, { type: 'channel-claim', channelId: 'ab'.repeat(32), receipt: { chainId: P.chainId, channelId: 'ab'.repeat(32), cumulativeBytes: 1n, cumulativeAmount: 1n, seq: 1 }, receiptSignature: '00'.repeat(64) }),
  ];
  const txTexts = txs.map((t) => encodeJson(t));
  const state = w.get('shard-0');

  out.push({
    name: 'chain.state.decodeJson',
    parser: 'chain/state/codec.ts decodeJson',
    arbitrary: jsonFrom(txTexts),
    allowedErrors: [SyntaxError],
    run(b) {
      decodeJson<unknown>(text(b));
    },
  });

  out.push({
    name: 'chain.node.parseSignedTx',
    parser: 'chain/node/node.ts ChainNode.parseSignedTx → txHash → verifyTxSignature → chain/state applyTx (the node admission path)',
    arbitrary: jsonFrom(txTexts),
    allowedErrors: [TxRejected],
    run(b) {
      let raw: unknown;
      try {
        raw = JSON.parse(text(b));
      } catch {
        return; // the RPC layer answers -32700 before this parser sees anything
      }
      const stx = ChainNode.parseSignedTx(raw);
      // As ChainNode.admit: a tx that cannot be hashed (not encodable, nested too deeply) is rejected.
      try {
        txHash(stx.tx);
      } catch (e) {
        throw new TxRejected('tx', `cannot encode: ${(e as Error).message}`);
      }
      if (typeof verifyTxSignature(stx) !== 'boolean') throw new FuzzFinding('verifyTxSignature returned a non-boolean');
      const res = applyTx(state, stx, P);
      if (!['ok', 'failed', 'invalid'].includes(res.result.status)) throw new FuzzFinding(`applyTx returned status ${String(res.result.status)}`);
    },
  });

  const payloads = [
    encodePayload({ v: 1, stateRoot: 'aa'.repeat(32), receiptsRoot: 'bb'.repeat(32), body: { chain: 'shard-0', height: 3, txs, receipts: [], confirms: [] }, refs: [] }),
    encodePayload({ v: 1, stateRoot: 'aa'.repeat(32), receiptsRoot: 'bb'.repeat(32), body: { chain: 'shard-1', height: 1, txs: [], receipts: [], confirms: [] }, refs: [] }),
  ];
  /** Deep equality up to -0 = 0 (JSON, and so both codecs, cannot carry -0). */
  const sameValue = (a: unknown, b: unknown): boolean => isDeepStrictEqual(zeroed(a), zeroed(b));
  const zeroed = (v: unknown): unknown => {
    if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
    if (Array.isArray(v)) return v.map(zeroed);
    if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zeroed(x)]));
    return v;
  };
  // The JSON form of the same payloads (older blocks; payloads whose roots are not hex).
  const jsonPayloads = payloads.map((b) => wireEncode(decodePayload(b)));
  out.push({
    name: 'chain.node.decodePayload',
    parser: 'chain/node/payload.ts decodePayload',
    arbitrary: fc.oneof(bytesFrom(payloads, 300), jsonFrom(jsonPayloads)),
    allowedErrors: [PayloadError],
    run(b) {
      const p = decodePayload(b);
      // A binary payload that decodes encodes and decodes again to the same payload (a JSON one
      // may carry keys the binary form does not keep).
      if (b[0] === PAYLOAD_BINARY && !sameValue(decodePayload(encodePayload(p)), p)) throw new FuzzFinding('payload does not round-trip through encodePayload');
    },
  });

  const lists = [encodeTxList(txs), encodeTxList([]), encodeTxList([...txs.slice(0, 2), { tx: { ...txs[0]!.tx, from: txs[0]!.tx.from.toUpperCase() }, signature: txs[0]!.signature }])];
  out.push({
    name: 'chain.node.decodeTxList',
    parser: 'chain/node/tx-codec.ts decodeTxList',
    arbitrary: bytesFrom(lists, 300),
    allowedErrors: [TxCodecError],
    run(b) {
      const list = decodeTxList(b);
      if (!sameValue(decodeTxList(encodeTxList(list)), list)) throw new FuzzFinding('tx list does not round-trip through encodeTxList');
    },
  });

  out.push({
    name: 'chain.node.wire',
    parser: 'chain/node/wire.ts wireDecode/wireFromBytes',
    arbitrary: jsonFrom([...jsonPayloads, wireEncode({ n: 5n, b: new Uint8Array([1, 2, 3]), list: [{ $n: '7' }] })]),
    allowedErrors: [WireDecodeError],
    run(b) {
      const v = wireFromBytes<unknown>(b);
      // What decodes re-encodes and decodes again to the same text.
      const t = wireEncode(v);
      if (wireEncode(wireDecode(t)) !== t) throw new FuzzFinding('wire round trip differs');
    },
  });

  out.push({
    name: 'chain.node.wire.packed',
    parser: 'chain/node/wire.ts unpackValue (binary envelope of the p2p wire and the store)',
    arbitrary: bytesFrom([packValue({ k: 'commit', c: 'shard-0', body: { n: 5n, payload: payloads[1]!, list: [new Uint8Array(0), { $n: '7' }] } }), packValue([]), utf8('{"a":1}')]),
    allowedErrors: [WireDecodeError],
    run(b) {
      const v = unpackValue<unknown>(b);
      // What unpacks re-packs and unpacks again to the same bytes.
      const p = packValue(v);
      if (Buffer.compare(Buffer.from(packValue(unpackValue(p))), Buffer.from(p)) !== 0) throw new FuzzFinding('packed round trip differs');
    },
  });

  // ---- length-prefixed frames
  const frameSeeds = [concat(...payloads.map(encodeFrame)), concat(encodeFrame(new Uint8Array(0)), encodeFrame(utf8('{"x":1}'))), encodeFrame(payloads[1]!)];
  out.push({
    name: 'chain.node.FrameDecoder',
    parser: 'chain/node/net-libp2p.ts FrameDecoder.push',
    // byte 0: chunk size seed (1..37 bytes a push); the rest: the stream
    arbitrary: fc.oneof(
      { weight: 30, arbitrary: fc.tuple(fc.nat(254), bytesFrom(frameSeeds, 300)).map(([c, s]) => concat(Uint8Array.of(c), s)) },
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 0xfffff }), bytesFrom(frameSeeds, 64)).map(([n, s]) => concat(Uint8Array.of(255, n >> 16, (n >> 8) & 0xff, n & 0xff), s)) },
    ),
    allowedErrors: [],
    allowed: (e) => e instanceof Error && e.constructor === Error && e.message === 'frame too large',
    run(b) {
      if (b.length === 0) return;
      const chunk = (b[0]! % 37) + 1;
      let stream = b.subarray(1);
      // Tag 255: a large frame said compactly — bytes 1..3 give its length (up to 1 MiB), the
      // stream is that frame (zero filled) followed by the rest of the input.
      if (b[0] === 255 && b.length >= 4) {
        const len = ((b[1]! << 16) | (b[2]! << 8) | b[3]!) & 0xfffff;
        stream = concat(encodeFrame(new Uint8Array(len)), b.subarray(4));
      }
      const got: Uint8Array[] = [];
      const d = new FrameDecoder();
      for (let i = 0; i < stream.length; i += chunk) d.push(stream.subarray(i, i + chunk), (f) => got.push(Uint8Array.from(f)));
      // reference: walk the stream once
      let off = 0;
      let n = 0;
      while (stream.length - off >= 4) {
        const len = Buffer.from(stream.buffer, stream.byteOffset, stream.byteLength).readUInt32BE(off);
        if (stream.length - off - 4 < len) break;
        const f = stream.subarray(off + 4, off + 4 + len);
        if (n >= got.length || Buffer.compare(Buffer.from(f), Buffer.from(got[n]!)) !== 0) throw new FuzzFinding(`frame ${n} differs from the reference split`);
        n++;
        off += 4 + len;
      }
      if (n !== got.length) throw new FuzzFinding(`decoder produced ${got.length} frames, reference ${n}`);
    },
  });

  // ---- JSON-RPC bodies, as the node's methods parse their params
  const rpc = new RpcServer(silentLogger());
  const HEX32 = /^[0-9a-f]{64}$/;
  rpc.register('chain_getBlock', (p) => ({ chain: stringParam(p, 0, 'chain'), height: intParam(p, 1, 'height') }));
  rpc.register('account_get', (p) => ({ address: stringParam(p, 0, 'address', HEX32) }));
  rpc.register('tx_get', (p) => ({ hash: stringParam(p, 0, 'hash', HEX32) }));
  rpc.register('tx_submit', (p) => {
    const raw = param(p, 0, 'tx');
    try {
      const stx = ChainNode.parseSignedTx(raw);
      const hash = txHash(stx.tx);
      if (!verifyTxSignature(stx)) throw new TxRejected('signature', 'invalid');
      return hash;
    } catch (e) {
      if (e instanceof TxRejected) throw new RpcError(RPC_TX_REJECTED, e.message, { rule: e.rule });
      throw new RpcError(RPC_TX_REJECTED, `tx: ${(e as Error).message}`, { rule: 'tx' });
    }
  });
  const rpcSeeds = [
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_getBlock', params: ['shard-0', 3] }),
    JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'account_get', params: { address: a.address } }),
    JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'tx_get', params: ['ab'.repeat(32)] }, { jsonrpc: '2.0', method: 'tx_get', params: [] }]),
    `{"jsonrpc":"2.0","id":7,"method":"tx_submit","params":[${txTexts[0]}]}`,
    `{"jsonrpc":"2.0","id":8,"method":"tx_submit","params":{"tx":${txTexts[5]}}}`,
  ];
  out.push({
    name: 'chain.rpc.handleText',
    parser: 'chain/node/rpc.ts RpcServer.handleText (HTTP body / WS frame) with the node param parsers',
    arbitrary: jsonFrom(rpcSeeds),
    allowedErrors: [],
    async run(b) {
      const res = await rpc.handleText(text(b));
      if (res === undefined) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(res);
      } catch {
        throw new FuzzFinding(`response is not JSON: ${res.slice(0, 80)}`);
      }
      const all = Array.isArray(parsed) ? parsed : [parsed];
      for (const r of all as Array<{ error?: { code?: number; message?: string } }>) {
        if (r?.error?.code === RPC_INTERNAL) throw new FuzzFinding(`a param parser threw: ${r.error.message ?? ''}`);
      }
    },
  });

  // ---- genesis files
  const dir = scratchDir('topvpn-fuzz-genesis-');
  const file = join(dir, 'genesis.json');
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const gen: GenesisFile = {
    chainId: 'topvpn-devnet',
    shards: 1,
    genesisTime: 1_700_000_000_000,
    allocations: [{ address: a.address, amount: '1000000' }],
    nodes: [
      { address: r.address, p2p: '/ip4/127.0.0.1/tcp/31001', rpc: 'http://127.0.0.1:32001' },
      { address: a.address, p2p: '/ip4/127.0.0.1/tcp/31002', rpc: 'http://127.0.0.1:32002' },
    ],
    committees: { beacon: { validators: [r.address], auditors: [] }, 'shard-0': { validators: [r.address], auditors: [a.address] } },
    timing: { baseTimeoutMs: 500, minBlockIntervalMs: 100 },
  };
  out.push({
    name: 'chain.config.readGenesis',
    parser: 'chain/node/config.ts readGenesis/validateGenesis',
    arbitrary: jsonFrom([JSON.stringify(gen, null, 2)]),
    allowedErrors: [ChainConfigError],
    run(b) {
      writeFileSync(file, b);
      readGenesis(file);
    },
  });

  const nodeConfigFile = join(dir, 'node.json');
  const nodeConfig = { dataDir: '.', keyFile: 'key.json', genesisFile: '/etc/topvpn/genesis.json', p2pListen: '/ip4/0.0.0.0/tcp/31000', rpcHost: '127.0.0.1', rpcPort: 8645, logLevel: 'info' };
  out.push({
    name: 'chain.config.readNodeConfig',
    parser: 'chain/node/config.ts readNodeConfig',
    arbitrary: jsonFrom([JSON.stringify(nodeConfig, null, 2)]),
    allowedErrors: [ChainConfigError],
    run(b) {
      writeFileSync(nodeConfigFile, b);
      const c = readNodeConfig(nodeConfigFile);
      for (const v of [c.dataDir, c.keyFile, c.genesisFile, c.p2pListen, c.rpcHost]) if (typeof v !== 'string') throw new FuzzFinding('readNodeConfig returned a non-string path');
    },
  });

  return out;
}
