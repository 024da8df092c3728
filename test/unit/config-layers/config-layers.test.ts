/**
 * common/config-layers.ts: file < environment < flags, for commander subcommands, with the
 * file chosen by --config / $PREFIX_CONFIG / the default path, typed values, unknown-key
 * refusal, required options satisfied from lower layers, and file keys gated on another key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { applyLayers, configArg, ConfigLayerError, envName, withConfigLayers, type LayerOptions } from '../../../common/config-layers.js';

const dir = mkdtempSync(join(tmpdir(), 'tvl-layers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

type Opts = Record<string, unknown>;

/** A program with `start` (like toprelay start) and `other` (knows chain-rpc); runs `args` and returns start's options. */
async function run(args: string[], o: Omit<LayerOptions, 'envPrefix'> & { envPrefix?: string }): Promise<Opts> {
  const program = new Command('t').exitOverride();
  let got: Opts = {};
  const start = program
    .command('start')
    .exitOverride()
    .requiredOption('--listen <hp>')
    .option('--key <file>')
    .option('--exit-pool <cidr>')
    .option('--exit')
    .option('--dns <ip>')
    .option('--no-dns')
    .option('--stats-interval <sec>', 'x', '60')
    .option('--node-key <file>')
    .option('--json')
    .action((opts: Opts) => {
      got = opts;
    });
  program.command('other').option('--chain-rpc <url>').action(() => undefined);
  withConfigLayers(start, { envPrefix: o.envPrefix ?? 'TOPRELAY_', ...o });
  await program.parseAsync(args, { from: 'user' });
  return got;
}

test('envName maps camelCase attributes to PREFIX_UPPER_SNAKE', () => {
  assert.equal(envName('TOPRELAY_', 'exitPool'), 'TOPRELAY_EXIT_POOL');
  assert.equal(envName('TOPVPN_', 'listen'), 'TOPVPN_LISTEN');
});

test('precedence: file < env < flag, per option', async () => {
  const cfg = file('p.yaml', '# comment\nlisten: "1.1.1.1:1"\nkey: /file.key\nexit-pool: 198.19.0.0/16\nstats-interval: 5\n');
  const env = { TOPRELAY_LISTEN: '2.2.2.2:2', TOPRELAY_EXIT_POOL: '198.18.0.0/24' };
  const a = await run(['start', '--config', cfg], { env });
  assert.equal(a.listen, '2.2.2.2:2', 'env beats file');
  assert.equal(a.key, '/file.key', 'file fills what env and flags leave');
  assert.equal(a.exitPool, '198.18.0.0/24');
  assert.equal(a.statsInterval, '5', 'file beats a commander default; numbers become strings');
  const b = await run(['start', '--config', cfg, '--listen', '3.3.3.3:3'], { env });
  assert.equal(b.listen, '3.3.3.3:3', 'flag beats env and file');
  assert.equal(b.exitPool, '198.18.0.0/24');
  const c = await run(['start', `--config=${cfg}`], { env: {} });
  assert.equal(c.listen, '1.1.1.1:1', '--config=FILE form; file alone');
  const d = await run(['start', '--listen', '4.4.4.4:4'], { env: {} });
  assert.equal(d.statsInterval, '60', 'no file, no env: the default stays');
  assert.equal(d.key, undefined);
});

test('a required option may come from the file or the environment; missing everywhere is still an error', async () => {
  const cfg = file('req.yaml', 'listen: 5.5.5.5:5\n');
  assert.equal((await run(['start', '--config', cfg], { env: {} })).listen, '5.5.5.5:5');
  assert.equal((await run(['start'], { env: { TOPRELAY_LISTEN: '6.6.6.6:6' } })).listen, '6.6.6.6:6');
  await assert.rejects(run(['start'], { env: {} }), (e: Error) => /required option/.test(e.message));
});

test('$PREFIX_CONFIG and the default file; an explicitly named missing file is an error, a missing default is not', async () => {
  const cfg = file('envcfg.yaml', 'listen: 7.7.7.7:7\n');
  assert.equal((await run(['start'], { env: { TOPRELAY_CONFIG: cfg } })).listen, '7.7.7.7:7');
  const def = file('default.yaml', 'listen: 8.8.8.8:8\n');
  assert.equal((await run(['start'], { env: {}, defaultFile: def })).listen, '8.8.8.8:8');
  assert.equal((await run(['start', '--listen', '9.9.9.9:9'], { env: {}, defaultFile: join(dir, 'absent.yaml') })).listen, '9.9.9.9:9');
  await assert.rejects(run(['start', '--config', join(dir, 'nope.yaml')], { env: {} }), (e: Error) => e instanceof ConfigLayerError && e.name === 'ConfigError' && /not found/.test(e.message));
});

test('booleans and negatable options from file and env; bad values are ConfigErrors', async () => {
  const cfg = file('b.yaml', 'listen: 1.2.3.4:5\nexit: true\ndns: false\n');
  const a = await run(['start', '--config', cfg], { env: {} });
  assert.equal(a.exit, true);
  assert.equal(a.dns, false, 'dns: false = --no-dns');
  const b = await run(['start', '--config', cfg], { env: { TOPRELAY_EXIT: 'no', TOPRELAY_DNS: '9.9.9.9' } });
  assert.equal(b.exit, false, 'env "no" beats file true');
  assert.equal(b.dns, '9.9.9.9');
  const c = await run(['start', '--config', cfg, '--dns', '1.1.1.1'], { env: { TOPRELAY_DNS: 'off' } });
  assert.equal(c.dns, '1.1.1.1', 'flag beats env off');
  await assert.rejects(run(['start', '--config', cfg], { env: { TOPRELAY_EXIT: 'maybe' } }), /TOPRELAY_EXIT: "maybe" is not a boolean/);
  const bad = file('bad.yaml', 'listen: 1.2.3.4:5\nexit: "yes please"\n');
  await assert.rejects(run(['start', '--config', bad], { env: {} }), /exit: expected true or false/);
  const list = file('list.yaml', 'listen: 1.2.3.4:5\nexit-pool: [a, b]\n');
  assert.equal((await run(['start', '--config', list], { env: {} })).exitPool, 'a,b', 'lists join with commas');
});

test('unknown keys are refused, keys of sibling commands and extraKeys accepted; --json never comes from a layer', async () => {
  const typo = file('typo.yaml', 'listen: 1.2.3.4:5\nlisen: x\n');
  await assert.rejects(run(['start', '--config', typo], { env: {} }), (e: Error) => e.name === 'ConfigError' && /unknown key "lisen"/.test(e.message));
  const shared = file('shared.yaml', 'listen: 1.2.3.4:5\nchain-rpc: http://x:1\npeer-key: /p\n');
  await assert.rejects(run(['start', '--config', shared], { env: {} }), /unknown key "peer-key"/);
  const ok = await run(['start', '--config', shared], { env: {}, extraKeys: ['peer-key'] });
  assert.equal(ok.listen, '1.2.3.4:5');
  assert.equal(ok.chainRpc, undefined, 'a sibling-only key is not set on start');
  const j = await run(['start', '--listen', '1.2.3.4:5'], { env: { TOPRELAY_JSON: '1' } });
  assert.equal(j.json, undefined);
  const notMap = file('list-top.yaml', '- a\n- b\n');
  await assert.rejects(run(['start', '--config', notMap], { env: {} }), /expected "key: value"/);
  const broken = file('broken.yaml', 'listen: [unclosed\n');
  await assert.rejects(run(['start', '--config', broken], { env: {} }), (e: Error) => e.name === 'ConfigError');
});

test('fileRequires: a gated file key applies only when its gate is set in file, env or arguments', async () => {
  const cfg = file('gate.yaml', 'listen: 1.2.3.4:5\nnode-key: /n.json\n');
  const req = { 'node-key': 'chain-rpc' };
  assert.equal((await run(['start', '--config', cfg], { env: {}, fileRequires: req })).nodeKey, undefined);
  const gated = file('gate2.yaml', 'listen: 1.2.3.4:5\nnode-key: /n.json\nchain-rpc: http://x:1\n');
  assert.equal((await run(['start', '--config', gated], { env: {}, fileRequires: req })).nodeKey, '/n.json');
  assert.equal((await run(['start', '--config', cfg], { env: {} })).nodeKey, '/n.json', 'ungated by default');
});

test('configArg finds --config FILE and --config=FILE before "--"', () => {
  assert.equal(configArg(['--a', '--config', 'x.yaml']), 'x.yaml');
  assert.equal(configArg(['--config=y.yaml']), 'y.yaml');
  assert.equal(configArg(['--', '--config', 'z']), undefined);
  assert.throws(() => configArg(['--config']), ConfigLayerError);
});

test('applyLayers reports where each preset value came from', () => {
  const program = new Command('t');
  const cmd = program.command('start').option('--listen <hp>').option('--key <f>').option('--region <r>');
  const cfg = file('src.yaml', 'listen: a:1\nkey: /k\n');
  const r = applyLayers(cmd, { envPrefix: 'X_', env: { X_KEY: '/envk' } }, ['--config', cfg]);
  assert.deepEqual(r.sources, { listen: 'file', key: 'env' });
  assert.equal(r.file, cfg);
  assert.equal(cmd.getOptionValue('key'), '/envk');
  assert.equal(cmd.getOptionValueSource('listen'), 'config');
});
