/**
 * The client daemon's control socket (common/json-lines.ts): a unix stream socket, mode 0600.
 * Request:  {"cmd":"status"} | {"cmd":"disconnect"}   (one object per line)
 * Response: {"ok":true,"result":{...}} | {"ok":false,"error":"message"}
 * A leftover socket file nobody listens on is replaced; a live one means another client runs:
 * ControlError.
 */
import type { Logger } from 'pino';
import { JsonLinesServer, jsonLinesRequest, type JsonLinesResponse } from '../common/json-lines.js';

export { probe } from '../common/json-lines.js';

export const DEFAULT_CONTROL_PATH = '/run/topvpn/client.sock';

export type ControlCommand = 'status' | 'disconnect';

export interface ControlRequest {
  cmd: ControlCommand;
}

export type ControlResponse = JsonLinesResponse;

export interface ControlHandlers {
  status(): unknown;
  /** Resolves when routes and DNS are restored; the reply is sent after that. */
  disconnect(): Promise<unknown>;
}

export class ControlError extends Error {
  override readonly name = 'ControlError';
}

export class ControlServer {
  private readonly server: JsonLinesServer;

  constructor(
    readonly path: string,
    handlers: ControlHandlers,
    log: Logger,
  ) {
    this.server = new JsonLinesServer({
      path,
      log,
      dirMode: 0o755,
      handlers: { status: () => handlers.status(), disconnect: () => handlers.disconnect() },
      busyError: (p) => new ControlError(`another client is already running (control socket ${p} answers)`),
    });
  }

  listen(): Promise<void> {
    return this.server.listen();
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Sends one request and returns the response. ControlError if no daemon listens or it does not answer. */
export function controlRequest(path: string, req: ControlRequest, timeoutMs = 15_000): Promise<ControlResponse> {
  return jsonLinesRequest(path, { ...req }, {
    timeoutMs,
    makeError: (m) => new ControlError(m),
    unreachable: (err) => `cannot reach the client at ${path}: ${err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'no client is running' : err.message}`,
  });
}
