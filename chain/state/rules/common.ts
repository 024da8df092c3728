import { isAddress, isHex } from '../encoding.js';
import { reject } from '../errors.js';
import type { Tx, TxOp, NodeChanges } from '../types.js';

export type OpOf<T extends TxOp['type']> = Extract<TxOp, { type: T }>;

/** A rule: checks everything first (throwing TxRejectedError), then mutates the draft. */
export type { Tx };

export function requireAddress(a: unknown, rule: string, what: string): asserts a is string {
  if (typeof a !== 'string' || !isAddress(a)) reject(rule, `${what} ${String(a).slice(0, 20)} is not a 32-byte hex address`);
}

export const MAX_ENDPOINTS = 8;
export const MAX_ENDPOINT_LEN = 256;
export const MAX_REGION_LEN = 32;

/** Validates the mutable descriptor fields of a node. */
export function checkNodeChanges(c: NodeChanges, rule: string, isRelay: boolean): void {
  if (c.onionKey !== undefined) {
    if (c.onionKey === null) {
      if (isRelay) reject(rule, 'a relay needs an x25519 onion key');
    } else if (typeof c.onionKey !== 'string' || !isHex(c.onionKey, 32)) reject(rule, 'onion key must be 32-byte hex');
  }
  if (c.endpoints !== undefined) {
    if (!Array.isArray(c.endpoints) || c.endpoints.length > MAX_ENDPOINTS) reject(rule, `endpoints must be an array of at most ${MAX_ENDPOINTS}`);
    for (const e of c.endpoints) {
      if (typeof e !== 'string' || e.length === 0 || e.length > MAX_ENDPOINT_LEN) reject(rule, `endpoint must be a non-empty string ≤ ${MAX_ENDPOINT_LEN} chars`);
    }
  }
  if (c.pricePerGiB !== undefined && (typeof c.pricePerGiB !== 'bigint' || c.pricePerGiB < 0n)) reject(rule, 'price per GiB must be a non-negative bigint');
  if (c.region !== undefined && (typeof c.region !== 'string' || c.region.length > MAX_REGION_LEN)) reject(rule, `region must be a string ≤ ${MAX_REGION_LEN} chars`);
}
