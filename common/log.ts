import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). Every logger carries a `component`; callers add a context
 * object per line. Contract: never log keys, receipt signatures or payload bytes; the
 * redact list below is a second line of defence, not the first.
 */
export function createLogger(component: string, opts: { level?: string; pretty?: boolean } = {}): Logger {
  const level = opts.level ?? process.env.TOPVPN_LOG_LEVEL ?? 'info';
  const redact = {
    paths: ['*.secretKey', '*.privateKey', '*.key', '*.keys', '*.signature', '*.payload', '*.password', 'secretKey', 'privateKey', 'signature', 'payload', 'password'],
    censor: '[redacted]',
  };
  if (opts.pretty) {
    return pino({
      level,
      redact,
      base: { component },
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: process.stderr.isTTY } },
    });
  }
  return pino({ level, redact, base: { component } }, pino.destination(2));
}

/** A logger that discards everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
