/**
 * Who the beacon's election may seat (chain/node/epochs.ts electableRegistry): genesis directory
 * nodes signing with their owner key, and nodes outside the directory that registered a p2p
 * endpoint whose peer id is their consensus key's (peer-book.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { electEpoch, electableRegistry } from '../../../chain/node/epochs.js';
import { p2pEndpointFor, peerIdStringOf } from '../../../chain/node/peer-book.js';
import { generateKeyPair } from '../../../chain/node/keys.js';
import { DEVNET_PARAMS, makeParams, type Committees } from '../../../chain/state/index.js';
import type { ChainState, NodeRecord } from '../../../chain/state/types.js';

function rec(owner: string, endpoints: string[], over: Partial<NodeRecord> = {}): NodeRecord {
  return { owner, role: 'validator', consensusKey: owner, onionKey: null, endpoints, pricePerGiB: 0n, region: 'x', deposit: 1000n, status: 'active', registeredAt: 0, releaseHeight: null, slashed: 0n, ...over };
}

test('electableRegistry: outsiders need a p2p endpoint bound to their own consensus key; directory nodes are unchanged', () => {
  const dirNode = generateKeyPair().address;
  const dirNoEndpoint = generateKeyPair().address;
  const good = generateKeyPair().address;
  const noP2p = generateKeyPair().address;
  const malformed = generateKeyPair().address;
  const wrongPeer = generateKeyPair().address;
  const foreignKey = generateKeyPair().address;
  const foreignConsensus = generateKeyPair().address;
  const nodes: ChainState['nodes'] = {
    [dirNode]: rec(dirNode, ['/ip4/127.0.0.1/tcp/1', 'http://127.0.0.1:2']),
    [dirNoEndpoint]: rec(dirNoEndpoint, []),
    [good]: rec(good, ['http://127.0.0.1:9', p2pEndpointFor('/ip4/127.0.0.1/tcp/3', good)]),
    [noP2p]: rec(noP2p, ['/ip4/127.0.0.1/tcp/4', 'http://127.0.0.1:5']),
    [malformed]: rec(malformed, [`/ip4/127.0.0.1/tcp/notaport/p2p/${peerIdStringOf(malformed)}`]),
    [wrongPeer]: rec(wrongPeer, [p2pEndpointFor('/ip4/127.0.0.1/tcp/6', dirNode)]),
    // endpoint bound to its consensus key, but that key is not the owner's: still not electable
    [foreignKey]: rec(foreignKey, [p2pEndpointFor('/ip4/127.0.0.1/tcp/7', foreignConsensus)], { consensusKey: foreignConsensus }),
  };
  const reg = electableRegistry({ nodes, votes: {} }, new Set([dirNode, dirNoEndpoint]));
  assert.deepEqual(Object.keys(reg.nodes).sort(), [dirNode, dirNoEndpoint, good].sort());
  assert.equal(reg.nodes[good], nodes[good], 'records are passed through unchanged');
});

test('electEpoch seats an outsider with a bound p2p endpoint (and a big stake), never one without', () => {
  const params = makeParams({ shardCount: 1, committee: { validatorsPerShard: 4, auditorsPerShard: 1, beaconSize: 1, rotationDivisor: 4 } }, DEVNET_PARAMS);
  const vals = Array.from({ length: 4 }, () => generateKeyPair().address).sort();
  const aud = generateKeyPair().address;
  const outsider = generateKeyPair().address;
  const unbound = generateKeyPair().address;
  const prev: Committees = { beacon: [aud], shards: [{ shard: 0, validators: vals, auditors: [aud] }] };
  const base: ChainState['nodes'] = { [aud]: rec(aud, [], { role: 'auditor' }) };
  for (const v of vals) base[v] = rec(v, []);
  const directory = new Set([...vals, aud]);
  let seated = 0;
  for (let epoch = 1; epoch <= 20; epoch++) {
    const justify = { height: epoch * 10, view: epoch, blockHash: epoch.toString(16).padStart(64, '0') };
    // Only an unbound stranger besides the group: nobody can be rotated in.
    const without = electEpoch({ nodes: { ...base, [unbound]: rec(unbound, ['/ip4/127.0.0.1/tcp/9'], { deposit: 10n ** 15n }) }, votes: {} }, justify, epoch, params, prev, directory);
    assert.ok(!without.shards[0]!.validators.includes(unbound), 'no bound p2p endpoint: not electable');
    const withOutsider = electEpoch({ nodes: { ...base, [outsider]: rec(outsider, [p2pEndpointFor('/ip4/127.0.0.1/tcp/8', outsider)], { deposit: 10n ** 15n }) }, votes: {} }, justify, epoch, params, prev, directory);
    const g = withOutsider.shards[0]!.validators;
    assert.equal(g.length, 4);
    assert.ok(vals.filter((v) => !g.includes(v)).length <= 1, 'at most ¼ rotated');
    if (g.includes(outsider)) seated++;
  }
  assert.equal(seated, 20, 'the only other electable node (with the largest stake) fills the rotated seat every time');
});
