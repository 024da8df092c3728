/**
 * Consensus messages on the node's p2p wire (core-actions.ts, chain-runtime.ts): they travel in
 * their structured form, so the envelope (wire.ts packValue) carries a block payload as raw bytes;
 * a node still sending the canonical JSON bytes form is understood.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, waitFor } from './cluster.js';
import { MemoryHub, type NetMessage } from '../../../chain/node/net.js';
import { decodeMessageValue, encodeMessage } from '../../../chain/consensus/messages.js';

/** Records the form of every consensus message; rewrites those of `legacy` senders to canonical JSON bytes. */
class ConsHub extends MemoryHub {
  readonly forms: Array<{ from: string; type: string; bytes: boolean; payloadBytes?: boolean }> = [];
  readonly legacy = new Set<string>();
  override deliver(from: string, to: string, msg: NetMessage): void {
    if (msg.k === 'cons') {
      const bytes = msg.body instanceof Uint8Array;
      const body = msg.body as { type?: string; block?: { payload?: unknown } };
      this.forms.push({ from, type: bytes ? '?' : String(body.type), bytes, ...(body.block ? { payloadBytes: body.block.payload instanceof Uint8Array } : {}) });
      if (!bytes && this.legacy.has(from)) msg = { ...msg, body: encodeMessage(decodeMessageValue(msg.body)) };
    }
    super.deliver(from, to, msg);
  }
}

test('proposals and votes go out structured, with the block payload as raw bytes', async () => {
  const hub = new ConsHub();
  const c = await startCluster({ accounts: 2, hub });
  try {
    await waitFor('height 4 on shard-0', () => c.nodes[0]!.runtime('shard-0').height >= 4);
    assert.ok(hub.forms.length > 0);
    assert.deepEqual(hub.forms.filter((f) => f.bytes), [], 'no consensus message as canonical JSON bytes');
    const proposals = hub.forms.filter((f) => f.type === 'proposal');
    assert.ok(proposals.length >= 4);
    assert.ok(proposals.every((p) => p.payloadBytes === true), 'every proposal carries its payload as a Uint8Array');
    assert.ok(hub.forms.some((f) => f.type === 'vote'));
  } finally {
    await c.stopAll();
  }
});

test('a validator sending the canonical JSON bytes form is understood: the chain keeps committing with its proposals and votes', async () => {
  const hub = new ConsHub();
  const c = await startCluster({ accounts: 2, hub });
  try {
    const group = c.dk.genesis.committees['shard-0']!.validators;
    hub.legacy.add(group[0]!);
    hub.legacy.add(group[1]!);
    const start = c.nodes[0]!.runtime('shard-0').height;
    await waitFor('8 more shard-0 heights', () => c.nodes[0]!.runtime('shard-0').height >= start + 8);
    // Two of four validators speak the old form: no quorum without their votes, and they lead half the views.
    assert.ok(hub.forms.some((f) => hub.legacy.has(f.from) && f.type === 'proposal'), 'a legacy validator proposed');
    const heights = c.nodes.map((n) => n.runtime('shard-0').height);
    assert.ok(Math.min(...heights) >= start + 4, `every node follows: ${heights.join(',')}`);
  } finally {
    await c.stopAll();
  }
});
