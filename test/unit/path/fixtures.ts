/** Test networks of relays with real signed descriptors. */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { signDescriptor } from '../../../protocol/descriptor.js';
import type { RelayCandidate } from '../../../client/path/select.js';
import type { Rng } from '../../../client/path/rng.js';

export const T0 = 1_800_000_000_000;
export const TOP = 1_000_000n;
export const LIFETIME = 3 * 3600_000;

export interface RelaySpec {
  /** UDP endpoint host (IPv4). */
  ip: string;
  region?: string;
  stake?: bigint;
  price?: bigint;
  jailed?: boolean;
  operator?: string;
  family?: string[];
  policy?: string[];
  bandwidthBps?: number;
  latencyMs?: number;
  measuredBps?: number;
  owner?: string;
}

interface Keyed {
  address: string;
  key: KeyObject;
}

function newKey(): Keyed {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' }); // not JWK: see protocol/x25519.ts generateX25519
  return { address: spki.subarray(spki.length - 32).toString('hex'), key: privateKey };
}

const keys = new Map<string, Keyed>();

/** A relay whose node key is remembered by `name`, so it can be republished. */
export function relay(name: string, spec: RelaySpec, nowMs = T0): RelayCandidate {
  let k = keys.get(name);
  if (!k) {
    k = newKey();
    keys.set(name, k);
  }
  const key = k.key;
  const descriptor = signDescriptor(
    {
      version: 1,
      chainId: 'topvpn-devnet',
      nodeAddress: k.address,
      peerId: '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf',
      onionKey: 'ab'.repeat(32),
      endpoints: { udp: `${spec.ip}:51820` },
      pricePerGiB: spec.price ?? 1n * TOP,
      region: spec.region ?? 'DE',
      bandwidthBps: spec.bandwidthBps ?? 100_000_000,
      exitPolicy: spec.policy ?? ['accept *:*'],
      operator: spec.operator ?? k.address,
      family: [...(spec.family ?? [])].sort(),
      publishedAt: nowMs,
      expiresAt: nowMs + LIFETIME,
    },
    (m) => new Uint8Array(nodeSign(null, m, key)),
  );
  return {
    descriptor,
    stake: spec.stake ?? 200_000n * TOP,
    jailed: spec.jailed ?? false,
    ...(spec.owner !== undefined ? { owner: spec.owner } : {}),
    ...(spec.latencyMs !== undefined || spec.measuredBps !== undefined
      ? { measured: { ...(spec.latencyMs !== undefined ? { latencyMs: spec.latencyMs } : {}), ...(spec.measuredBps !== undefined ? { bandwidthBps: spec.measuredBps } : {}) } }
      : {}),
  };
}

export function addressOf(name: string): string {
  const k = keys.get(name);
  if (!k) throw new Error(`no relay named ${name}`);
  return k.address;
}

/** An operator id for tests (any 32-byte hex). */
export function operatorId(n: number): string {
  return n.toString(16).padStart(64, '0');
}

const REGIONS = ['DE', 'US', 'NL', 'FR', 'SE'];
const POLICIES: string[][] = [['accept *:*'], ['reject *:443', 'accept *:*'], [], ['accept *:80', 'accept *:443', 'reject *:*'], ['reject 0.0.0.0/1:*', 'accept *:*']];

/** A random network of `n` relays (n ≤ 40 distinct names per prefix) drawn with `rng`. */
export function randomNetwork(rng: Rng, n: number, prefix: string): RelayCandidate[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const out: RelayCandidate[] = [];
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(`${prefix}-${i}`);
  // Create keys first so families can name them.
  for (const nm of names) relay(nm, { ip: '1.1.1.1' });
  for (let i = 0; i < n; i++) {
    const famSize = rng() < 0.2 ? 1 + Math.floor(rng() * 2) : 0;
    const family = new Set<string>();
    for (let f = 0; f < famSize; f++) {
      const other = pick(names);
      if (other !== names[i]) family.add(addressOf(other));
    }
    out.push(
      relay(names[i]!, {
        ip: `${10 + Math.floor(rng() * 6)}.${Math.floor(rng() * 4)}.${Math.floor(rng() * 256)}.${1 + Math.floor(rng() * 250)}`,
        region: pick(REGIONS),
        stake: rng() < 0.1 ? 0n : BigInt(1 + Math.floor(rng() * 1000)) * 1000n * TOP,
        price: BigInt(Math.floor(rng() * 10 * 1e6)),
        jailed: rng() < 0.1,
        operator: operatorId(Math.floor(rng() * Math.max(2, n / 2))),
        family: [...family],
        policy: pick(POLICIES),
        bandwidthBps: 1_000_000 + Math.floor(rng() * 1e9),
        ...(rng() < 0.5 ? { latencyMs: Math.floor(rng() * 400) } : {}),
        ...(rng() < 0.5 ? { measuredBps: Math.floor(rng() * 1e9) } : {}),
      }),
    );
  }
  return out;
}
