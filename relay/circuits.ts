/**
 * The relay's circuit table and the exit's inner-address pool (no IO).
 * Every receiver index (a circuit's prevIdx and, once extending, its nextIdx) is a random
 * non-zero 32-bit number, unique across the table.
 */
import { randomBytes } from 'node:crypto';
import type { Endpoint } from '../protocol/messages.js';
import type { LayerSpec } from '../protocol/onion.js';
import type { HopSession } from '../protocol/session.js';
import { cidrContains, formatIpv4, parseCidr4, type Cidr4 } from '../protocol/ipv4.js';
import { RelayConfigError } from './errors.js';

export interface NextHop {
  /** Our receiver index for backward traffic from the next node. */
  idx: number;
  /** The next node's receiver index for forward traffic (from its RESP); 0 until open. */
  peerIdx: number;
  endpoint: Endpoint;
  state: 'extending' | 'open';
  /** The INIT we send (sender_idx rewritten to `idx`). */
  init: Buffer;
  /** Hex of the INIT's X: identifies retransmitted EXTENDs. */
  initX: string;
  startedAt: number;
  lastSentAt: number;
  /** The RESP, once open (for re-sending EXTENDED to a retrying client). */
  resp: Buffer | undefined;
}

export interface RelayCircuit {
  readonly id: number;
  /** Our receiver index for forward traffic from the previous node. */
  readonly prevIdx: number;
  /** The previous node's receiver index for backward traffic (the INIT's sender_idx). */
  readonly prevPeerIdx: number;
  prevEndpoint: Endpoint;
  readonly session: HopSession;
  /** Backward layer spec (session + prevPeerIdx), made once. */
  readonly back: LayerSpec;
  /** Hex of the client's X and our cached RESP: a retransmitted INIT gets the same answer. */
  readonly initX: string;
  readonly resp: Buffer;
  next: NextHop | undefined;
  /** Assigned inner IPv4 (uint32) when this relay is the exit, else -1. */
  exitAddr: number;
  rekeyX: string | undefined;
  rekeyResp: Buffer | undefined;
  readonly createdAt: number;
  lastActivity: number;
  bytesForward: number;
  bytesBackward: number;
}

export class CircuitTable {
  private readonly byIndex = new Map<number, RelayCircuit>();
  private readonly byX = new Map<string, RelayCircuit>();
  private readonly byId = new Map<number, RelayCircuit>();
  private readonly all = new Set<RelayCircuit>();
  private nextId = 1;

  constructor(readonly max: number) {}

  get size(): number {
    return this.all.size;
  }

  newId(): number {
    return this.nextId++;
  }

  /** A random non-zero 32-bit index not in use. */
  allocIdx(): number {
    for (;;) {
      const v = randomBytes(4).readUInt32LE(0);
      if (v !== 0 && !this.byIndex.has(v)) return v;
    }
  }

  get(idx: number): RelayCircuit | undefined {
    return this.byIndex.get(idx);
  }

  byCircuitId(id: number): RelayCircuit | undefined {
    return this.byId.get(id);
  }

  byInitX(x: string): RelayCircuit | undefined {
    return this.byX.get(x);
  }

  add(c: RelayCircuit): void {
    this.byIndex.set(c.prevIdx, c);
    this.byX.set(c.initX, c);
    this.byId.set(c.id, c);
    this.all.add(c);
  }

  bindNext(c: RelayCircuit, next: NextHop): void {
    if (c.next) this.byIndex.delete(c.next.idx);
    c.next = next;
    this.byIndex.set(next.idx, c);
  }

  unbindNext(c: RelayCircuit): void {
    if (c.next) this.byIndex.delete(c.next.idx);
    c.next = undefined;
  }

  remove(c: RelayCircuit): void {
    if (this.byIndex.get(c.prevIdx) === c) this.byIndex.delete(c.prevIdx);
    if (c.next && this.byIndex.get(c.next.idx) === c) this.byIndex.delete(c.next.idx);
    if (this.byX.get(c.initX) === c) this.byX.delete(c.initX);
    this.byId.delete(c.id);
    this.all.delete(c);
  }

  has(c: RelayCircuit): boolean {
    return this.all.has(c);
  }

  /** Number of receiver indices bound (prev + next of every circuit). */
  get indexCount(): number {
    return this.byIndex.size;
  }

  values(): IterableIterator<RelayCircuit> {
    return this.all.values();
  }
}

/**
 * Inner IPv4 addresses for exit circuits, from a CIDR pool. The network address, the first
 * host (the exit's own TUN address, `gateway`) and the broadcast address are never handed out.
 */
export class AddressPool {
  readonly cidr: Cidr4;
  readonly gateway: number;
  private readonly first: number;
  private readonly last: number;
  private cursor: number;
  private readonly owners = new Map<number, RelayCircuit>();

  constructor(pool: string) {
    let c: Cidr4;
    try {
      c = parseCidr4(pool);
    } catch (e) {
      throw new RelayConfigError(`exit pool: ${(e as Error).message}`);
    }
    if (c.bits > 29) throw new RelayConfigError(`exit pool ${pool} is too small (needs /29 or larger)`);
    this.cidr = c;
    this.gateway = c.base + 1;
    this.first = c.base + 2;
    this.last = c.base + (2 ** (32 - c.bits) - 2);
    this.cursor = this.first;
  }

  get prefixLen(): number {
    return this.cidr.bits;
  }

  get gatewayString(): string {
    return formatIpv4(this.gateway);
  }

  get inUse(): number {
    return this.owners.size;
  }

  contains(ip: number): boolean {
    return cidrContains(this.cidr, ip);
  }

  /** Allocates an address for `c`; -1 when the pool is exhausted. */
  alloc(c: RelayCircuit): number {
    const span = this.last - this.first + 1;
    for (let i = 0; i < span; i++) {
      const a = this.cursor;
      this.cursor = a >= this.last ? this.first : a + 1;
      if (!this.owners.has(a)) {
        this.owners.set(a, c);
        return a;
      }
    }
    return -1;
  }

  /**
   * Gives `addr` to `c`, replacing any owner (the caller clears that owner's exitAddr);
   * false if `addr` is not a host address this pool hands out (resumption: relay/exit-resume.ts).
   */
  claim(addr: number, c: RelayCircuit): boolean {
    if (addr < this.first || addr > this.last) return false;
    this.owners.set(addr, c);
    return true;
  }

  free(addr: number): void {
    this.owners.delete(addr);
  }

  owner(addr: number): RelayCircuit | undefined {
    return this.owners.get(addr);
  }
}
