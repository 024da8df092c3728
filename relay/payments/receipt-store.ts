/**
 * The relay's receipts on disk: every channel account of the ReceiptBook (its best receipt, the
 * bytes served and the channel's payer/deposit) in one JSON file, so that a relay that crashed
 * or was stopped with unclaimed receipts can still claim them when it comes back — in
 * particular inside the challenge window of a channel the payer closed while the relay was
 * offline (the watchtower's claim at the first tick after the restart).
 *
 * Contract:
 *  - `load()` returns what was saved (an absent file is an empty store; a file that does not
 *    parse throws ReceiptStoreError: a relay must not silently forget what it is owed).
 *  - `restoreInto(book)` puts every stored channel back into a ReceiptBook, re-checking each
 *    receipt's signature against the stored payer (a tampered entry is skipped and reported).
 *  - `save(book)` writes atomically (temp file + rename, mode 0600); `schedule(book)` coalesces
 *    saves (at most one write per `delayMs`), `flush()` writes a scheduled save now.
 * The file holds receipts signed by payers (bearer claims on their deposits, no key of ours).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../../common/log.js';
import type { SignedPaymentReceipt } from '../../protocol/payment.js';
import type { ReceiptBook } from './meter.js';

export class ReceiptStoreError extends Error {
  override readonly name = 'ReceiptStoreError';
}

export const DEFAULT_SAVE_DELAY_MS = 200;

/** One channel as stored (amounts and byte counts as decimal strings). */
export interface StoredChannel {
  channelId: string;
  payer: string;
  relay: string;
  deposit: bigint;
  pricePerGiB: bigint;
  lossAllowancePpm: number;
  servedForward: bigint;
  servedBackward: bigint;
  best: SignedPaymentReceipt;
}

interface FileV1 {
  version: 1;
  relay: string;
  channels: Array<Record<string, unknown>>;
}

function big(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new ReceiptStoreError(`${what} is not a decimal string`);
  return BigInt(v);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new ReceiptStoreError(`${what} is not a string`);
  return v;
}

function parseChannel(o: Record<string, unknown>, i: number): StoredChannel {
  const at = `channel #${i}`;
  const b = o['best'] as { receipt?: Record<string, unknown>; signature?: unknown } | undefined;
  if (typeof b !== 'object' || b === null || typeof b.receipt !== 'object' || b.receipt === null) throw new ReceiptStoreError(`${at}: no best receipt`);
  const r = b.receipt;
  const seq = r['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new ReceiptStoreError(`${at}: bad receipt seq`);
  const loss = o['lossAllowancePpm'];
  if (typeof loss !== 'number' || !Number.isInteger(loss) || loss < 0) throw new ReceiptStoreError(`${at}: bad lossAllowancePpm`);
  return {
    channelId: str(o['channelId'], `${at} channelId`),
    payer: str(o['payer'], `${at} payer`),
    relay: str(o['relay'], `${at} relay`),
    deposit: big(o['deposit'], `${at} deposit`),
    pricePerGiB: big(o['pricePerGiB'], `${at} pricePerGiB`),
    lossAllowancePpm: loss,
    servedForward: big(o['servedForward'], `${at} servedForward`),
    servedBackward: big(o['servedBackward'], `${at} servedBackward`),
    best: {
      receipt: {
        chainId: str(r['chainId'], `${at} receipt chainId`),
        channelId: str(r['channelId'], `${at} receipt channelId`),
        cumulativeBytes: big(r['cumulativeBytes'], `${at} receipt cumulativeBytes`),
        cumulativeAmount: big(r['cumulativeAmount'], `${at} receipt cumulativeAmount`),
        seq,
      },
      signature: str(b.signature, `${at} signature`),
    },
  };
}

export class ReceiptStore {
  private timer: NodeJS.Timeout | undefined;
  private pending: ReceiptBook | undefined;
  private keep: ((channelId: string) => boolean) | undefined;
  /** Writes done (diagnostics, tests). */
  writes = 0;

  constructor(
    readonly file: string,
    /** Our relay address: the file is refused if it belongs to another relay. */
    readonly relay: string,
    private readonly log: Logger,
    readonly delayMs: number = DEFAULT_SAVE_DELAY_MS,
  ) {}

  load(): StoredChannel[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ReceiptStoreError(`${this.file}: ${(e as Error).message}`);
    }
    let j: FileV1;
    try {
      j = JSON.parse(text) as FileV1;
    } catch (e) {
      throw new ReceiptStoreError(`${this.file}: not JSON (${(e as Error).message})`);
    }
    if (j?.version !== 1 || !Array.isArray(j.channels)) throw new ReceiptStoreError(`${this.file}: not a version-1 receipt store`);
    if (j.relay !== this.relay) throw new ReceiptStoreError(`${this.file}: receipts of relay ${String(j.relay).slice(0, 12)}, not ours (${this.relay.slice(0, 12)})`);
    return j.channels.map((c, i) => parseChannel(c, i));
  }

  /** Loads the file into `book`; returns how many channels were restored and skipped. */
  restoreInto(book: ReceiptBook): { restored: number; skipped: number } {
    let restored = 0;
    let skipped = 0;
    for (const c of this.load()) {
      const ok = c.relay === this.relay && book.restore({ id: c.channelId, payer: c.payer, relay: c.relay, deposit: c.deposit }, c.best, { forward: c.servedForward, backward: c.servedBackward }, c.pricePerGiB, c.lossAllowancePpm);
      if (ok) restored++;
      else {
        skipped++;
        this.log.warn({ channel: c.channelId.slice(0, 12) }, 'receipt store: entry does not verify; skipped');
      }
    }
    return { restored, skipped };
  }

  /** Writes every channel with a receipt, except those `keep` rejects (e.g. finalized ones: nothing left to claim). */
  save(book: ReceiptBook, keep: (channelId: string) => boolean = () => true): void {
    const channels = book
      .accountsList()
      .filter((a) => a.best !== null && keep(a.channelId))
      .map((a) => ({
        channelId: a.channelId,
        payer: a.payer,
        relay: this.relay,
        deposit: a.deposit.toString(),
        pricePerGiB: a.pricePerGiB.toString(),
        lossAllowancePpm: a.lossAllowancePpm,
        servedForward: a.servedForward.toString(),
        servedBackward: a.servedBackward.toString(),
        best: {
          receipt: { ...a.best!.receipt, cumulativeBytes: a.best!.receipt.cumulativeBytes.toString(), cumulativeAmount: a.best!.receipt.cumulativeAmount.toString() },
          signature: a.best!.signature,
        },
      }));
    const body: FileV1 = { version: 1, relay: this.relay, channels };
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(body), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.writes++;
  }

  /** Saves `book` within `delayMs` (one write for any number of calls in between). */
  schedule(book: ReceiptBook, keep?: (channelId: string) => boolean): void {
    this.pending = book;
    this.keep = keep;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.delayMs);
    this.timer.unref();
  }

  /** Writes a scheduled save now (no-op if none). Errors are logged, not thrown. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const book = this.pending;
    this.pending = undefined;
    if (!book) return;
    try {
      this.save(book, this.keep);
    } catch (e) {
      this.log.error({ err: (e as Error).message, file: this.file }, 'receipt store: save failed');
    }
  }
}

/** Where a daemon keeps its receipts: next to its node key (`<node-key file>.receipts.json`). */
export function receiptsFileFor(nodeKeyFile: string): string {
  return `${nodeKeyFile}.receipts.json`;
}
