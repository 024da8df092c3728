/**
 * Where the client keeps its files: `$XDG_CONFIG_HOME/topvpn/` when XDG_CONFIG_HOME is an
 * absolute path (XDG Base Directory spec: relative values are ignored), else
 * `~/.config/topvpn/`. An explicit path always wins.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export const WALLET_FILE_NAME = 'wallet.json';

/** The topvpn config directory for the given environment (default: process.env). */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'topvpn');
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  return join(home, '.config', 'topvpn');
}

/** Default wallet file: `<configDir>/wallet.json`. */
export function defaultWalletPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), WALLET_FILE_NAME);
}

/** `explicit` (resolved against the cwd) when given and non-empty, else the default wallet path. */
export function resolveWalletPath(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit !== undefined && explicit !== '' ? resolve(explicit) : defaultWalletPath(env);
}
