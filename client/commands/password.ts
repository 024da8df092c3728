/**
 * Wallet passwords for the CLI, never echoed: `--password-file` (first line) wins, then
 * $TOPVPN_WALLET_PASSWORD, then an interactive prompt on a TTY (stderr, echo off). Without any
 * of them a UsageError (exit 2). `confirm` asks twice on a TTY (new wallets).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../../relay/cli-util.js';

export const PASSWORD_ENV = 'TOPVPN_WALLET_PASSWORD';

export interface PasswordSource {
  passwordFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Prompt text when reading from the terminal. */
  prompt?: string;
  confirm?: boolean;
}

/** Reads one line from the TTY on stdin with echo off (raw mode); Ctrl-C aborts with a UsageError. */
export function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    let buf = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err: Error | undefined): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(undefined);
        if (ch === '\u0003') return done(new UsageError('password prompt aborted'));
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function readPassword(o: PasswordSource): Promise<string> {
  if (o.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.passwordFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--password-file: cannot read ${o.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return (text.split('\n')[0] ?? '').replace(/\r$/, '');
  }
  const env = (o.env ?? process.env)[PASSWORD_ENV];
  if (env !== undefined) return env;
  if (process.stdin.isTTY) {
    const pw = await promptHidden(o.prompt ?? 'wallet password: ');
    if (o.confirm) {
      const again = await promptHidden('repeat password: ');
      if (again !== pw) throw new UsageError('the passwords differ');
    }
    return pw;
  }
  throw new UsageError(`no wallet password: not a terminal; set $${PASSWORD_ENV} or pass --password-file FILE`);
}
