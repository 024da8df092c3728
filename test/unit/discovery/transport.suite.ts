/**
 * Compliance suite for DiscoveryTransport (discovery/transport.ts): every implementation
 * must pass it. A harness gives n started transports and a way to link two of them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestFailedError, ResponseLimitError, type DiscoveryTransport, type GossipVerdict } from '../../../discovery/transport.js';
import { waitUntil } from '../../helpers/wait.js';

export interface TransportHarness {
  nodes: DiscoveryTransport[];
  /** Links nodes i and j; resolves once each lists the other in peers(). */
  connect(i: number, j: number): Promise<void>;
  close(): Promise<void>;
}

export type HarnessFactory = (n: number) => Promise<TransportHarness>;

const TOPIC = 'topvpn/descriptors/compliance/1';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

interface Recorder {
  got: { text: string; from: string }[];
  texts(): string[];
}

function record(t: DiscoveryTransport, verdict: (text: string) => GossipVerdict = () => 'accept'): Recorder {
  const r: Recorder = {
    got: [],
    texts: () => r.got.map((g) => g.text),
  };
  t.subscribe(TOPIC, (data, from) => {
    const text = dec(data);
    r.got.push({ text, from });
    return verdict(text);
  });
  return r;
}

async function withHarness(factory: HarnessFactory, n: number, fn: (h: TransportHarness) => Promise<void>): Promise<void> {
  const h = await factory(n);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Publishes numbered warm-up messages from `from` until `rec` has seen one (mesh formation). */
async function warmUp(from: DiscoveryTransport, rec: Recorder, tag: string): Promise<void> {
  let i = 0;
  await waitUntil(
    `warm-up ${tag}`,
    async () => {
      await from.publish(TOPIC, enc(`warm-${tag}-${i++}`));
      return rec.texts().some((t) => t.startsWith(`warm-${tag}-`));
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
}

export function transportSuite(name: string, factory: HarnessFactory): void {
  test(`${name}: gossip reaches a subscribed peer intact, never the publisher`, async () => {
    await withHarness(factory, 2, async (h) => {
      const [a, b] = h.nodes as [DiscoveryTransport, DiscoveryTransport];
      const ra = record(a);
      const rb = record(b);
      await h.connect(0, 1);
      await waitUntil('b subscribed as seen by a', () => a.topicPeers(TOPIC).includes(b.selfId), { timeoutMs: 10_000 });
      const payload = `hello-${'x'.repeat(3000)}-\u00e9`;
      await a.publish(TOPIC, enc(payload));
      await waitUntil('b got the message', () => rb.texts().includes(payload), { timeoutMs: 10_000 });
      const hit = rb.got.find((g) => g.text === payload)!;
      assert.equal(hit.from, a.selfId);
      assert.deepEqual(ra.got, []);
    });
  });

  test(`${name}: accepted messages are forwarded, rejected and ignored ones are not`, async () => {
    await withHarness(factory, 3, async (h) => {
      const [a, b, c] = h.nodes as [DiscoveryTransport, DiscoveryTransport, DiscoveryTransport];
      record(a);
      record(b, (t) => (t.startsWith('bad') ? 'reject' : t.startsWith('meh') ? 'ignore' : 'accept'));
      const rc = record(c);
      await h.connect(0, 1);
      await h.connect(1, 2);
      await warmUp(a, rc, 'line');
      const fromB = rc.got.find((g) => g.text.startsWith('warm-line-'))!;
      assert.equal(fromB.from, b.selfId, 'c hears a only through b');
      await a.publish(TOPIC, enc('bad-1'));
      await a.publish(TOPIC, enc('meh-1'));
      await a.publish(TOPIC, enc('good-1'));
      await waitUntil('c got good-1', () => rc.texts().includes('good-1'), { timeoutMs: 10_000 });
      assert.ok(!rc.texts().includes('bad-1'), 'a rejected message was forwarded');
      assert.ok(!rc.texts().includes('meh-1'), 'an ignored message was forwarded');
    });
  });

  test(`${name}: the same bytes travel once, whoever publishes them`, async () => {
    await withHarness(factory, 3, async (h) => {
      const [a, b, c] = h.nodes as [DiscoveryTransport, DiscoveryTransport, DiscoveryTransport];
      record(a);
      const rb = record(b);
      const rc = record(c);
      await h.connect(0, 1);
      await h.connect(1, 2);
      await warmUp(a, rc, 'dup');
      await a.publish(TOPIC, enc('once'));
      await a.publish(TOPIC, enc('once'));
      await waitUntil('b and c got it', () => rb.texts().includes('once') && rc.texts().includes('once'), { timeoutMs: 10_000 });
      await b.publish(TOPIC, enc('once'));
      await c.publish(TOPIC, enc('once'));
      await a.publish(TOPIC, enc('marker'));
      await waitUntil('c got the marker', () => rc.texts().includes('marker'), { timeoutMs: 10_000 });
      assert.equal(rb.texts().filter((t) => t === 'once').length, 1);
      assert.equal(rc.texts().filter((t) => t === 'once').length, 1);
    });
  });

  test(`${name}: request returns the served items in order, exact`, async () => {
    await withHarness(factory, 2, async (h) => {
      const [a, b] = h.nodes as [DiscoveryTransport, DiscoveryTransport];
      const items = [enc('first'), new Uint8Array(0), Uint8Array.from({ length: 9000 }, (_, i) => i % 251), enc('last')];
      const askedBy: string[] = [];
      b.serve((from) => {
        askedBy.push(from);
        return items;
      });
      await h.connect(0, 1);
      const got = await a.request(b.selfId);
      assert.deepEqual(
        got.map((x) => Buffer.from(x).toString('hex')),
        items.map((x) => Buffer.from(x).toString('hex')),
      );
      assert.deepEqual(askedBy, [a.selfId]);
      b.serve(() => []);
      assert.deepEqual(await a.request(b.selfId), []);
    });
  });

  test(`${name}: request enforces item count and size limits`, async () => {
    await withHarness(factory, 2, async (h) => {
      const [a, b] = h.nodes as [DiscoveryTransport, DiscoveryTransport];
      b.serve(() => [enc('a'), enc('b'), enc('c')]);
      await h.connect(0, 1);
      await assert.rejects(a.request(b.selfId, { maxItems: 2 }), ResponseLimitError);
      b.serve(() => [new Uint8Array(100)]);
      await assert.rejects(a.request(b.selfId, { maxItemBytes: 99 }), ResponseLimitError);
      assert.equal((await a.request(b.selfId, { maxItemBytes: 100, maxItems: 1 })).length, 1);
    });
  });

  test(`${name}: request fails to a peer not connected or not serving`, async () => {
    await withHarness(factory, 3, async (h) => {
      const [a, b, c] = h.nodes as [DiscoveryTransport, DiscoveryTransport, DiscoveryTransport];
      b.serve(() => [enc('x')]);
      await assert.rejects(a.request(b.selfId), RequestFailedError);
      await h.connect(0, 2);
      await assert.rejects(a.request(c.selfId), RequestFailedError);
    });
  });

  test(`${name}: a peer's topic subscription is announced, before or after connecting`, async () => {
    await withHarness(factory, 3, async (h) => {
      const [a, b, c] = h.nodes as [DiscoveryTransport, DiscoveryTransport, DiscoveryTransport];
      const seen: [string, string][] = [];
      a.onPeerSubscribed((peer, topic) => seen.push([peer, topic]));
      record(b);
      await h.connect(0, 1);
      await waitUntil('b announced', () => seen.some(([p, t]) => p === b.selfId && t === TOPIC), { timeoutMs: 10_000 });
      await h.connect(0, 2);
      record(c);
      await waitUntil('c announced', () => seen.some(([p, t]) => p === c.selfId && t === TOPIC), { timeoutMs: 10_000 });
      assert.ok(a.topicPeers(TOPIC).includes(b.selfId));
      assert.ok(a.topicPeers(TOPIC).includes(c.selfId));
    });
  });

  test(`${name}: both sides hear of a new connection`, async () => {
    await withHarness(factory, 2, async (h) => {
      const [a, b] = h.nodes as [DiscoveryTransport, DiscoveryTransport];
      const seenA: string[] = [];
      const seenB: string[] = [];
      a.onPeerConnected((p) => seenA.push(p));
      const off = b.onPeerConnected((p) => seenB.push(p));
      await h.connect(0, 1);
      await waitUntil('both notified', () => seenA.includes(b.selfId) && seenB.includes(a.selfId), { timeoutMs: 10_000 });
      assert.ok(a.peers().includes(b.selfId));
      assert.ok(b.peers().includes(a.selfId));
      off();
    });
  });
}
