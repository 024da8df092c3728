/**
 * The `topvpn` commands beyond connect/status/disconnect/reset (wallet, relays, channels) and
 * the config layering of `connect`: $XDG_CONFIG_HOME/topvpn/config.yaml < $TOPVPN_* < flags.
 * Call after `connect` exists.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { withConfigLayers } from '../../common/config-layers.js';
import { configDir } from '../wallet/paths.js';
import { register as channels } from './channels.js';
import { register as relays } from './relays.js';
import { register as wallet } from './wallet.js';

export const CLIENT_ENV_PREFIX = 'TOPVPN_';
export const CLIENT_CONFIG_NAME = 'config.yaml';

export function registerClientCommands(program: Command): void {
  const connect = program.commands.find((c) => c.name() === 'connect');
  if (connect) withConfigLayers(connect, { envPrefix: CLIENT_ENV_PREFIX, defaultFile: join(configDir(), CLIENT_CONFIG_NAME) });
  wallet(program);
  relays(program);
  channels(program);
}
