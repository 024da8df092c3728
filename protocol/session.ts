/**
 * Per-hop session state shared by client (initiator) and relay (responder): one key
 * generation ("epoch") per handshake, each with a send key + counter and a receive key +
 * replay window. Rekey rules follow WireGuard:
 * - the initiator rekeys after REKEY_AFTER_TIME or REKEY_AFTER_MESSAGES and switches to the
 *   new epoch as soon as the REKEYED answer arrives;
 * - the responder installs the new keys as `pending` and switches its sending to them only
 *   after the first packet under the new epoch verifies (so it never sends with keys the
 *   initiator may not have yet);
 * - the previous epoch's receive keys stay usable until their REJECT_AFTER_TIME;
 * - keys older than REJECT_AFTER_TIME, or counters past REJECT_AFTER_MESSAGES, are unusable.
 * Epoch numbers are one byte and wrap.
 */
import { REJECT_AFTER_TIME_MS, REKEY_AFTER_TIME_MS } from './constants.js';
import { REJECT_AFTER_MESSAGES_IMPL, REKEY_AFTER_MESSAGES_IMPL } from './limits.js';
import { aeadKey, type AeadKey } from './aead.js';
import type { SessionKeys } from './handshake.js';
import { ReplayWindow } from './replay.js';

export type SessionRole = 'initiator' | 'responder';

export interface EpochKeys {
  readonly epoch: number;
  readonly sendKey: AeadKey;
  readonly recvKey: AeadKey;
  /** Next counter to send with. */
  sendCounter: number;
  readonly replay: ReplayWindow;
  readonly createdAt: number;
}

/** Limits a session checks against; tests may lower them. */
export interface SessionLimits {
  rekeyAfterMs: number;
  rejectAfterMs: number;
  rekeyAfterMessages: number;
  rejectAfterMessages: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  rekeyAfterMs: REKEY_AFTER_TIME_MS,
  rejectAfterMs: REJECT_AFTER_TIME_MS,
  rekeyAfterMessages: REKEY_AFTER_MESSAGES_IMPL,
  rejectAfterMessages: REJECT_AFTER_MESSAGES_IMPL,
};

function makeEpoch(role: SessionRole, keys: SessionKeys, epoch: number, now: number, limits: SessionLimits): EpochKeys {
  const fwd = aeadKey(keys.forward);
  const bwd = aeadKey(keys.backward);
  return {
    epoch: epoch & 0xff,
    sendKey: role === 'initiator' ? fwd : bwd,
    recvKey: role === 'initiator' ? bwd : fwd,
    sendCounter: 0,
    replay: new ReplayWindow(limits.rejectAfterMessages),
    createdAt: now,
  };
}

export class HopSession {
  current: EpochKeys;
  previous: EpochKeys | undefined;
  pending: EpochKeys | undefined;

  constructor(
    readonly role: SessionRole,
    keys: SessionKeys,
    now: number,
    readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS,
    epoch = 0,
  ) {
    this.current = makeEpoch(role, keys, epoch, now, limits);
  }

  /** Initiator: time to start a rekey (age or message count). */
  needsRekey(now: number): boolean {
    const c = this.current;
    return now - c.createdAt >= this.limits.rekeyAfterMs || c.sendCounter >= this.limits.rekeyAfterMessages;
  }

  /** Keys of this epoch may no longer send or receive. */
  isExpired(k: EpochKeys, now: number): boolean {
    return now - k.createdAt >= this.limits.rejectAfterMs;
  }

  /**
   * Takes the next send counter of the current epoch, or returns -1 when the current keys
   * must not send any more (too old or counter exhausted).
   */
  nextSendCounter(now: number): number {
    const c = this.current;
    if (c.sendCounter >= this.limits.rejectAfterMessages || now - c.createdAt >= this.limits.rejectAfterMs) return -1;
    return c.sendCounter++;
  }

  /** Receive keys for a packet's epoch byte, or undefined (unknown or expired epoch). */
  recvKeys(epoch: number, now: number): EpochKeys | undefined {
    let k: EpochKeys | undefined;
    if (epoch === this.current.epoch) k = this.current;
    else if (this.pending !== undefined && epoch === this.pending.epoch) k = this.pending;
    else if (this.previous !== undefined && epoch === this.previous.epoch) k = this.previous;
    if (k === undefined || now - k.createdAt >= this.limits.rejectAfterMs) return undefined;
    return k;
  }

  /** Called after a packet verified under `k`: a responder's pending epoch becomes current. */
  confirm(k: EpochKeys): void {
    if (k === this.pending) {
      this.previous = this.current;
      this.current = k;
      this.pending = undefined;
    }
  }

  /** Initiator: the rekey handshake finished; the new epoch sends from now on. */
  rekeyInitiator(keys: SessionKeys, now: number): void {
    this.previous = this.current;
    this.current = makeEpoch(this.role, keys, this.current.epoch + 1, now, this.limits);
  }

  /** Responder: installs the new epoch as pending (replacing an unconfirmed one). */
  rekeyResponder(keys: SessionKeys, now: number): void {
    this.pending = makeEpoch(this.role, keys, this.current.epoch + 1, now, this.limits);
  }
}
