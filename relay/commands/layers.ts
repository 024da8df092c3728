/**
 * Where `toprelay` keeps its files and how its commands read the config file:
 * `$XDG_CONFIG_HOME/toprelay/` (else ~/.config/toprelay/), config `relay.yaml` there.
 * Precedence for every command wrapped here: relay.yaml < $TOPRELAY_* < flags.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Command } from 'commander';
import { withConfigLayers } from '../../common/config-layers.js';

export const RELAY_ENV_PREFIX = 'TOPRELAY_';
export const RELAY_CONFIG_NAME = 'relay.yaml';

export function relayConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg !== undefined && xdg !== '' && isAbsolute(xdg)) return join(xdg, 'toprelay');
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  return join(home, '.config', 'toprelay');
}

export function defaultRelayConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(relayConfigDir(env), RELAY_CONFIG_NAME);
}

/** Payment keys in relay.yaml make `start` paid only together with chain-rpc (else they serve register/status). */
export const START_FILE_REQUIRES: Readonly<Record<string, string>> = { 'node-key': 'chain-rpc', 'price-per-gib': 'chain-rpc', 'claim-fee': 'chain-rpc' };

/** Adds --config and the file < env < flag merge to a toprelay command. */
export function relayLayers(cmd: Command, fileRequires?: Readonly<Record<string, string>>): Command {
  return withConfigLayers(cmd, { envPrefix: RELAY_ENV_PREFIX, defaultFile: defaultRelayConfigFile(), extraKeys: ['peer-key'], ...(fileRequires ? { fileRequires } : {}) });
}
