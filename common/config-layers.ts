/**
 * Layered configuration for commander commands: config file < environment < flags.
 *
 * Contract:
 *  - Every option of the command (except --config, --json, --help) takes part. Its file key is
 *    the long flag name without dashes ("exit-pool"); its environment variable is the prefix
 *    plus the attribute in UPPER_SNAKE ("TOPRELAY_EXIT_POOL"). New options join automatically.
 *  - A value given on the command line always wins; an environment value replaces a file
 *    value or a commander default; a file value replaces only a default or nothing.
 *  - The file is YAML (comments allowed). `--config FILE` or `<PREFIX>CONFIG` name it; a file
 *    named that way must exist. Otherwise `defaultFile` is read when it exists.
 *  - File keys no command of the program knows are refused (typos surface as ConfigError);
 *    keys another command of the same program knows are ignored (one file serves them all).
 *  - Booleans: YAML true/false; env 1/true/yes/on and 0/false/no/off. Lists in the file are
 *    joined with ",". A negatable option (--no-dns) takes false from file or env.
 * Every problem is a ConfigLayerError (name "ConfigError", so CLIs map it to exit code 2).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';

export class ConfigLayerError extends Error {
  override readonly name = 'ConfigError';
}

export type LayerSource = 'env' | 'file';

export interface LayerOptions {
  /** Environment prefix including the trailing underscore, e.g. "TOPRELAY_". */
  envPrefix: string;
  /** Config file read when neither --config nor <PREFIX>CONFIG is given, if it exists. */
  defaultFile?: string;
  env?: NodeJS.ProcessEnv;
  /** File keys accepted although no command has the option (read by other components). */
  extraKeys?: readonly string[];
  /**
   * File key → another file key that must be set (in the file, the environment or the
   * arguments) for it to apply; e.g. a relay's payment keys apply to `start` only with
   * chain-rpc, so one file serves both `register` and a free `start`.
   */
  fileRequires?: Readonly<Record<string, string>>;
}

/** Options that never come from a file or the environment. */
const EXCLUDED = new Set(['config', 'json', 'help']);

export function envName(prefix: string, attribute: string): string {
  return prefix + attribute.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

function fileKey(o: Option): string {
  return (o.long ?? '').replace(/^--(no-)?/, '');
}

function parseBool(v: string, where: string): boolean {
  const t = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off'].includes(t)) return false;
  throw new ConfigLayerError(`${where}: "${v}" is not a boolean (use true or false)`);
}

/** Reads and parses a YAML config file into a flat map; null/empty files are {}. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigLayerError(`config file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigLayerError(`config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigLayerError(`config file ${path}: expected "key: value" lines at the top level`);
  return doc as Record<string, unknown>;
}

interface Attr {
  attribute: string;
  key: string;
  /** Takes a value (--x <v>) rather than being a switch. */
  valued: boolean;
  negatable: boolean;
}

function attributesOf(cmd: Command): Map<string, Attr> {
  const out = new Map<string, Attr>();
  for (const o of cmd.options) {
    const attribute = o.attributeName();
    if (EXCLUDED.has(attribute) || o.long === undefined) continue;
    const prev = out.get(attribute);
    const valued = o.required || o.optional;
    out.set(attribute, {
      attribute,
      key: fileKey(o),
      valued: (prev?.valued ?? false) || valued,
      negatable: (prev?.negatable ?? false) || o.negate,
    });
  }
  return out;
}

function fromFile(a: Attr, v: unknown, path: string): string | boolean {
  const where = `config file ${path}: ${a.key}`;
  if (typeof v === 'boolean') {
    if (!a.valued || (a.negatable && v === false)) return v;
    throw new ConfigLayerError(`${where}: expected a value, not ${String(v)}`);
  }
  if (!a.valued) throw new ConfigLayerError(`${where}: expected true or false`);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.join(',');
  throw new ConfigLayerError(`${where}: expected a string, number or list`);
}

function fromEnv(a: Attr, v: string, name: string): string | boolean {
  if (!a.valued) return parseBool(v, name);
  if (a.negatable && ['false', 'off', 'no', 'none'].includes(v.trim().toLowerCase())) return false;
  return v;
}

/** Which config file applies (or none): explicit --config, then <PREFIX>CONFIG, then the default if present. */
export function configFileFor(explicit: string | undefined, o: LayerOptions): { path: string; explicit: boolean } | undefined {
  const env = o.env ?? process.env;
  if (explicit !== undefined) return { path: explicit, explicit: true };
  const fromEnvPath = env[`${o.envPrefix}CONFIG`];
  if (fromEnvPath !== undefined && fromEnvPath !== '') return { path: fromEnvPath, explicit: true };
  if (o.defaultFile !== undefined && existsSync(o.defaultFile)) return { path: o.defaultFile, explicit: false };
  return undefined;
}

/** The value of `--config FILE` / `--config=FILE` among raw arguments, if any. */
export function configArg(argv: readonly string[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--config') {
      if (argv[i + 1] === undefined) throw new ConfigLayerError('--config needs a FILE');
      found = argv[++i];
    } else if (a.startsWith('--config=')) found = a.slice('--config='.length);
  }
  return found;
}

/**
 * Presets `cmd`'s options from the environment and the config file (source "env"/"config"),
 * before commander parses `argv` (the command's own raw arguments), so flags parsed next
 * override them and required options may come from either layer. Returns where each preset
 * option came from and the config file used.
 */
export function applyLayers(cmd: Command, o: LayerOptions, argv: readonly string[]): { sources: Record<string, LayerSource>; file?: string } {
  const env = o.env ?? process.env;
  const attrs = attributesOf(cmd);
  const sources: Record<string, LayerSource> = {};
  const chosen = configFileFor(configArg(argv), o);
  let file: Record<string, unknown> = {};
  if (chosen) {
    file = readConfigFile(chosen.path);
    const known = new Set<string>(o.extraKeys ?? []);
    for (const sib of cmd.parent?.commands ?? [cmd]) for (const a of attributesOf(sib).values()) known.add(a.key);
    for (const a of attrs.values()) known.add(a.key);
    for (const k of Object.keys(file)) if (!known.has(k)) throw new ConfigLayerError(`config file ${chosen.path}: unknown key "${k}"`);
  }
  const keyToAttr = new Map([...attrs.values()].map((a) => [a.key, a]));
  const present = (key: string): boolean => {
    const a = keyToAttr.get(key);
    if (a && (env[envName(o.envPrefix, a.attribute)] ?? '') !== '') return true;
    if (argv.some((x) => x === `--${key}` || x.startsWith(`--${key}=`))) return true;
    return file[key] !== undefined && file[key] !== null;
  };
  for (const a of attrs.values()) {
    const name = envName(o.envPrefix, a.attribute);
    const ev = env[name];
    if (ev !== undefined && ev !== '') {
      cmd.setOptionValueWithSource(a.attribute, fromEnv(a, ev, name), 'env');
      sources[a.attribute] = 'env';
    } else if (chosen && Object.prototype.hasOwnProperty.call(file, a.key) && file[a.key] !== null && (o.fileRequires?.[a.key] === undefined || present(o.fileRequires[a.key]!))) {
      cmd.setOptionValueWithSource(a.attribute, fromFile(a, file[a.key], chosen.path), 'config');
      sources[a.attribute] = 'file';
    }
  }
  return chosen ? { sources, file: chosen.path } : { sources };
}

/**
 * Adds `--config <file>` to `cmd` (a subcommand) and presets its options from the environment
 * and the file each time its parent dispatches to it; flags then override. One call per command.
 */
export function withConfigLayers(cmd: Command, o: LayerOptions): Command {
  const parent = cmd.parent;
  if (!parent) throw new ConfigLayerError(`withConfigLayers: "${cmd.name()}" is not a subcommand`);
  if (!cmd.options.some((x) => x.long === '--config')) {
    cmd.option('--config <file>', `YAML config file (default ${o.defaultFile ?? 'none'}; or $${o.envPrefix}CONFIG); flags > $${o.envPrefix}* > file`);
  }
  parent.hook('preSubcommand', (self, sub) => {
    if (sub !== cmd) return;
    const i = self.args.indexOf(cmd.name());
    applyLayers(cmd, o, i >= 0 ? self.args.slice(i + 1) : self.args);
  });
  return cmd;
}
