/**
 * Commit announcements (block-apply.ts announceCommit): one validator per height sends the block
 * to the nodes outside the group, a second one only a `commit-hint`; a node the block does not
 * reach syncs it; hints from outside the group or far above the tip are ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { ChainNode } from '../../../chain/node/node.js';
import { MAX_HINT_AHEAD } from '../../../chain/node/chain-runtime.js';
import { MemoryHub, MemoryNetwork, type NetMessage } from '../../../chain/node/net.js';
import { MemoryStore } from '../../../chain/node/store.js';
import { generateKeyPair } from '../../../chain/node/keys.js';
import { makeDevnetGenesis } from '../../../chain/devnet/genesis.js';
import { silentLogger } from '../../../common/log.js';

/** A hub that records every announcement it delivers and can drop full ones to chosen nodes. */
class WatchingHub extends MemoryHub {
  readonly seen: Array<{ from: string; to: string; k: string; c: string; height: number }> = [];
  readonly starved = new Set<string>();
  override deliver(from: string, to: string, msg: NetMessage): void {
    if (msg.k === 'commit' || msg.k === 'commit-hint') {
      const body = msg.body as { block?: { height: number }; height?: number };
      this.seen.push({ from, to, k: msg.k, c: msg.c, height: body.block?.height ?? body.height ?? -1 });
      if (msg.k === 'commit' && this.starved.has(to)) return;
    }
    super.deliver(from, to, msg);
  }
}

test('each committed height reaches every node outside its group once in full and once as a hint, from two validators of the group', async () => {
  const hub = new WatchingHub();
  const c = await startCluster({ accounts: 2, hub });
  try {
    await waitFor('height 6 on shard-0', () => c.nodes[0]!.runtime('shard-0').height >= 6);
    const group = c.dk.genesis.committees['shard-0']!.validators;
    const outside = c.dk.nodeKeys.map((k) => k.address).filter((a) => !group.includes(a));
    for (let h = 1; h <= 4; h++) {
      const at = hub.seen.filter((s) => s.c === 'shard-0' && s.height === h);
      for (const k of ['commit', 'commit-hint']) {
        const sent = at.filter((s) => s.k === k);
        assert.deepEqual([...sent.map((s) => s.to)].sort(), [...outside].sort(), `height ${h}: ${k} goes once to each node outside the group`);
        assert.equal(new Set(sent.map((s) => s.from)).size, 1, `height ${h}: one sender of ${k}`);
        assert.ok(group.includes(sent[0]!.from), `height ${h}: ${k} comes from the group`);
      }
      assert.notEqual(at.find((s) => s.k === 'commit')!.from, at.find((s) => s.k === 'commit-hint')!.from, `height ${h}: two different announcers`);
    }
  } finally {
    await c.stopAll();
  }
});

test('a node outside the group that never receives a full announcement keeps up through hints and sync', async () => {
  const hub = new WatchingHub();
  const c = await startCluster({ accounts: 2, hub });
  try {
    const auditor = c.dk.genesis.committees['shard-0']!.auditors[0]!;
    const idx = c.dk.nodeKeys.findIndex((k) => k.address === auditor);
    hub.starved.add(auditor);
    const v = c.nodes[0]!.runtime('shard-0');
    const a = c.nodes[idx]!.runtime('shard-0');
    const target = v.height + 8;
    await waitFor('the starved auditor reaches the validators\' height', () => a.height >= target);
    assert.ok(hub.seen.some((s) => s.to === auditor && s.k === 'commit-hint' && s.c === 'shard-0'), 'hints reached it');
    assert.equal((await a.record(target))!.block.hash, (await v.record(target))!.block.hash);
    await waitFor('blocks final on the starved auditor', () => a.finalHeight >= target);
  } finally {
    await c.stopAll();
  }
});

test('an announced height (hint or block) counts only from a validator of the height\'s group and at most MAX_HINT_AHEAD above the tip', async () => {
  const dk = makeDevnetGenesis({ shards: 2, group: 4, auditors: 4, accounts: 2, basePort: 1 });
  const key = generateKeyPair();
  const node = new ChainNode({ genesis: dk.genesis, key, net: new MemoryNetwork(key.address, new MemoryHub()), store: new MemoryStore(), log: silentLogger() });
  await node.start();
  try {
    const rt = node.runtime('shard-0');
    const member = dk.genesis.committees['shard-0']!.validators[0]!;
    const stranger = dk.genesis.committees['shard-1']!.validators[0]!;
    rt.onMessage(stranger, 'commit-hint', { height: 5 });
    assert.equal(rt.knownHeight, 0, 'hint from a validator of another group');
    rt.onMessage(member, 'commit-hint', { height: MAX_HINT_AHEAD + 1 });
    assert.equal(rt.knownHeight, 0, 'hint too far above the tip');
    for (const bad of [null, {}, { height: '5' }, { height: 2.5 }, { height: -1 }]) rt.onMessage(member, 'commit-hint', bad);
    assert.equal(rt.knownHeight, 0, 'malformed hints');
    rt.onMessage(stranger, 'commit', { block: { height: 7 } });
    assert.equal(rt.knownHeight, 0, 'a block announced by a validator of another group');
    rt.onMessage(member, 'commit-hint', { height: 5 });
    assert.equal(rt.knownHeight, 5, 'hint from the group');
  } finally {
    await node.stop();
  }
});
