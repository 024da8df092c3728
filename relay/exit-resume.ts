/**
 * The exit's side of resumption (protocol/resume.ts): issues a token for every circuit that
 * holds an inner address, and redeems a token presented on a new circuit (EXIT_RESUME).
 *
 * Contract (no IO; time from the injected `wallS`):
 * - `issue(c)` returns the token of circuit `c`'s current address, the same one while the
 *   address stays `c`'s (a retransmitted EXIT_OPEN gets the same answer).
 * - `redeem(token, c)` gives `c` the token's address when the token verifies, has not
 *   expired, and the address is free — or still held by the circuit the token was issued to
 *   (the client's previous circuit, e.g. behind a dead middle: only the client ever saw the
 *   token, inside the exit's layer). That old circuit loses the address (its exitAddr
 *   becomes -1; it expires on its own). Otherwise -1 and the caller allocates as usual.
 */
import { randomBytes } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '../protocol/ipv4.js';
import { openResumeToken, RESUME_KEY_LEN, sealResumeToken, type ResumeRejection } from '../protocol/resume.js';
import type { AddressPool, RelayCircuit } from './circuits.js';

/** How long a token stays valid (seconds): longer than any reconnect backoff. */
export const RESUME_TTL_S = 600;

export type ResumeRefusal = ResumeRejection | 'in_use' | 'not_in_pool';
/** Every ResumeRefusal, for metric labels. */
export const RESUME_REFUSALS = ['version', 'length', 'mac', 'expired', 'in_use', 'not_in_pool'] as const satisfies readonly ResumeRefusal[];

export interface ResumeStats {
  issued: number;
  resumed: number;
  refused: Record<ResumeRefusal, number>;
}

interface Issued {
  addr: number;
  nonce: string;
  token: Buffer;
}

export class ExitResumption {
  private readonly key: Uint8Array;
  private readonly issued = new WeakMap<RelayCircuit, Issued>();
  private readonly st: ResumeStats = { issued: 0, resumed: 0, refused: { version: 0, length: 0, mac: 0, expired: 0, in_use: 0, not_in_pool: 0 } };

  constructor(
    private readonly pool: AddressPool,
    private readonly wallS: () => number,
    key: Uint8Array = randomBytes(RESUME_KEY_LEN),
    readonly ttlS: number = RESUME_TTL_S,
  ) {
    this.key = key;
  }

  stats(): ResumeStats {
    return { ...this.st, refused: { ...this.st.refused } };
  }

  /** The token for `c`'s address (c.exitAddr must be >= 0). */
  issue(c: RelayCircuit): Buffer {
    const prev = this.issued.get(c);
    if (prev !== undefined && prev.addr === c.exitAddr) return prev.token;
    const nonce = randomBytes(8);
    const token = sealResumeToken(this.key, { ipv4: formatIpv4(c.exitAddr), expiresS: Math.floor(this.wallS()) + this.ttlS, nonce });
    this.issued.set(c, { addr: c.exitAddr, nonce: nonce.toString('hex'), token });
    this.st.issued++;
    return token;
  }

  /** The address `c` now holds from `token`, or -1 (see the file comment). */
  redeem(token: Uint8Array, c: RelayCircuit): number {
    const claim = openResumeToken(this.key, token, Math.floor(this.wallS()));
    if (typeof claim === 'string') return this.refuse(claim);
    const addr = parseIpv4(claim.ipv4);
    if (!this.pool.contains(addr)) return this.refuse('not_in_pool');
    const owner = this.pool.owner(addr);
    if (owner !== undefined && owner !== c) {
      const ownerIssued = this.issued.get(owner);
      if (ownerIssued === undefined || ownerIssued.addr !== addr || ownerIssued.nonce !== Buffer.from(claim.nonce).toString('hex')) return this.refuse('in_use');
      owner.exitAddr = -1;
      this.issued.delete(owner);
    }
    if (!this.pool.claim(addr, c)) return this.refuse('not_in_pool');
    this.st.resumed++;
    return addr;
  }

  private refuse(r: ResumeRefusal): number {
    this.st.refused[r]++;
    return -1;
  }
}
