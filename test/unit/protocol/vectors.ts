/** Loads Wycheproof / wire vector files from test/vectors (source tree, not dist). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../common/paths.js';

export interface WycheproofFile<T> {
  algorithm: string;
  numberOfTests: number;
  testGroups: Array<{ tests: T[] } & Record<string, unknown>>;
}

export function loadWycheproof<T>(name: string): WycheproofFile<T> {
  return JSON.parse(readFileSync(join(repoRoot(), 'test', 'vectors', 'wycheproof', name), 'utf8')) as WycheproofFile<T>;
}

export function vectorPath(name: string): string {
  return join(repoRoot(), 'test', 'vectors', name);
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
