/** Relays with real Ed25519 node keys and signed descriptors, for discovery tests. */
import { encodeDescriptor, signDescriptor, type Descriptor, type DescriptorBody } from '../../../protocol/descriptor.js';
import type { DescriptorTemplate } from '../../../discovery/publisher.js';
import { body, newKey, type TestKey } from '../descriptor/fixtures.js';

export { T0 } from '../descriptor/fixtures.js';
export const CHAIN = 'topvpn-devnet';
export const TOP = 1_000_000n;

export interface TestRelay {
  key: TestKey;
  address: string;
  /** A descriptor template with a distinct /16 per relay index. */
  template: DescriptorTemplate;
  /** Signs a descriptor for [publishedAt, publishedAt + lifetimeMs). */
  descriptor(publishedAt: number, lifetimeMs?: number, over?: Partial<DescriptorBody>): Descriptor;
  bytes(publishedAt: number, lifetimeMs?: number, over?: Partial<DescriptorBody>): Uint8Array;
}

export function testRelay(i: number, peerId?: string): TestRelay {
  const key = newKey();
  const { publishedAt: _p, expiresAt: _e, ...template } = body(key.address, {
    endpoints: { udp: `198.${18 + (i % 2)}.${i % 256}.${(i % 250) + 1}:51820` },
    operator: key.address,
    ...(peerId !== undefined ? { peerId } : {}),
  });
  void _p;
  void _e;
  const descriptor = (publishedAt: number, lifetimeMs = 30 * 60_000, over: Partial<DescriptorBody> = {}): Descriptor =>
    signDescriptor({ ...template, publishedAt, expiresAt: publishedAt + lifetimeMs, ...over }, key.sign);
  return {
    key,
    address: key.address,
    template,
    descriptor,
    bytes: (publishedAt, lifetimeMs, over) => encodeDescriptor(descriptor(publishedAt, lifetimeMs, over)),
  };
}

/** Re-signs `d`'s body with another key: well-formed, but the signature does not verify under d.nodeAddress. */
export function forged(d: Descriptor): Uint8Array {
  const other = newKey();
  const { signature: _s, ...b } = d;
  void _s;
  const bySomeoneElse = signDescriptor({ ...b, nodeAddress: other.address, operator: other.address }, other.sign);
  return encodeDescriptor({ ...d, signature: bySomeoneElse.signature });
}

/** Lets pending promise callbacks and setImmediate tasks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
