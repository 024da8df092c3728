import { fromHex, sha256 } from './encoding.js';

export type ChainName = 'beacon' | `shard-${number}`;
export const BEACON: ChainName = 'beacon';

export function shardChain(i: number): ChainName {
  return `shard-${i}`;
}

/** Home shard index of an address: uint32_be(sha256(pubkey)[0..4]) mod S. */
export function homeShard(address: string, shardCount: number): number {
  return homeWord(address) % shardCount;
}

/** uint32_be(sha256(pubkey)[0..4]), memoized (bounded): every tx needs its sender's home. */
const words = new Map<string, number>();
function homeWord(address: string): number {
  let v = words.get(address);
  if (v === undefined) {
    const h = sha256(fromHex(address));
    v = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
    if (words.size >= 100_000) words.clear();
    words.set(address, v);
  }
  return v;
}

export function homeChain(address: string, shardCount: number): ChainName {
  return shardChain(homeShard(address, shardCount));
}

export function isChainName(c: string, shardCount: number): c is ChainName {
  if (c === 'beacon') return true;
  const m = /^shard-(0|[1-9][0-9]*)$/.exec(c);
  return m !== null && Number(m[1]) < shardCount;
}

export function allChains(shardCount: number): ChainName[] {
  return [BEACON, ...Array.from({ length: shardCount }, (_, i) => shardChain(i))];
}
