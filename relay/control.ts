/**
 * The relay's local control socket (opt-in: `toprelay start --control PATH`), speaking JSON
 * lines over a unix stream socket of mode 0600 (common/json-lines.ts).
 *   {"cmd":"earnings"} → {"ok":true,"result":{...paymentSummary}}
 *   {"cmd":"claim"}    → runs one claim round that claims every channel owing anything
 *                        (not only those over the threshold), then {"ok":true,"result":{before, after}}
 * Unpaid relays answer {"ok":false,"error":"…"}. A stale socket file is replaced; a live one
 * is a RelayControlError.
 */
import type { Logger } from 'pino';
import { JsonLinesServer, jsonLinesRequest, type JsonLinesResponse } from '../common/json-lines.js';

export type RelayControlCommand = 'earnings' | 'claim';
export type RelayControlResponse = JsonLinesResponse;

export interface RelayControlHandlers {
  earnings(): unknown;
  claim(): Promise<unknown>;
}

export class RelayControlError extends Error {
  override readonly name = 'RelayControlError';
}

export class RelayControlServer {
  private readonly server: JsonLinesServer;

  constructor(
    readonly path: string,
    handlers: RelayControlHandlers,
    log: Logger,
  ) {
    this.server = new JsonLinesServer({
      path,
      log,
      dirMode: 0o700,
      unref: true,
      handlers: { earnings: () => handlers.earnings(), claim: () => handlers.claim() },
      busyError: (p) => new RelayControlError(`another relay answers on ${p}`),
    });
  }

  listen(): Promise<void> {
    return this.server.listen();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Sends one request to the relay's control socket; a missing/dead socket is a RelayControlError. */
export function relayControlRequest(path: string, cmd: RelayControlCommand, timeoutMs = 120_000): Promise<RelayControlResponse> {
  return jsonLinesRequest(path, { cmd }, {
    timeoutMs,
    makeError: (m) => new RelayControlError(m),
    unreachable: (err) => `no relay control socket at ${path} (${err.code ?? err.message}); start the relay with --control ${path}`,
  });
}
