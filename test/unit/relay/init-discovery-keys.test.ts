/**
 * `toprelay init`'s relay.yaml carries the discovery keys (p2p-listen, bootstrap, country,
 * operator, bandwidth, advertise) commented out, and once uncommented the config layers
 * (file < $TOPRELAY_* < flags) hand each of them to `toprelay start`'s parser: a valid set is
 * accepted (start then fails only at the unreachable chain, exit 1), a bad value of any one of
 * them is refused naming that flag (exit 2). Runs the built CLI (dist/relay/cli.js).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { distBin } from '../../../common/paths.js';
import { relayYaml } from '../../../relay/commands/init.js';

const DISCOVERY_KEYS = ['p2p-listen', 'bootstrap', 'country', 'operator', 'bandwidth', 'advertise'];
const dir = mkdtempSync(join(tmpdir(), 'tn6-init-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [distBin('relay/cli'), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, XDG_CONFIG_HOME: dir, TOPVPN_LOG_LEVEL: 'warn', ...env } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

/** Uncomments `# key: …` lines of the template, optionally replacing their values. */
function uncomment(yaml: string, values: Record<string, string>): string {
  return yaml
    .split('\n')
    .map((l) => {
      const m = /^# ([a-z0-9-]+): (.*)$/.exec(l);
      if (!m || !(m[1]! in values)) return l;
      return `${m[1]}: ${JSON.stringify(values[m[1]!])}`;
    })
    .join('\n');
}

test('the template names every discovery key, commented out, the operator example being the relay address', () => {
  const addr = 'ab'.repeat(32);
  const y = relayYaml({ listen: '0.0.0.0:51820', key: 'k', nodeKey: 'n', peerKey: 'p', address: addr, pricePerGib: '1', deposit: '200000', metrics: '127.0.0.1:9464', control: 'c' });
  const doc = parseYaml(y) as Record<string, unknown>;
  for (const k of DISCOVERY_KEYS) {
    assert.match(y, new RegExp(`^# ${k}: "`, 'm'), `${k} is in the template`);
    assert.equal(doc[k], undefined, `${k} is commented out`);
  }
  assert.match(y, new RegExp(`^# operator: "${addr}"$`, 'm'));
  // Uncommented as written, the examples are YAML strings under their keys.
  const on = parseYaml(uncomment(y, Object.fromEntries(DISCOVERY_KEYS.map((k) => [k, `v-${k}`])))) as Record<string, unknown>;
  for (const k of DISCOVERY_KEYS) assert.equal(on[k], `v-${k}`);
});

test('relay.yaml discovery keys reach `toprelay start` through the config layers', () => {
  const initDir = join(dir, 'relay');
  const init = run(['init', '--dir', initDir, '--listen', '127.0.0.1:0', '--json']);
  assert.equal(init.status, 0, init.out);
  const address = (JSON.parse(init.out.trim().split('\n')[0]!) as { address: string }).address;
  const template = readFileSync(join(initDir, 'relay.yaml'), 'utf8');
  const good: Record<string, string> = {
    'chain-rpc': 'http://127.0.0.1:9', // nothing listens: start gets past the config, then fails at the chain
    'p2p-listen': '/ip4/127.0.0.1/tcp/0',
    bootstrap: '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWPczatkHhDxhMAvkxLCf5xgBmWmMjnhYPQ1nb2g2FeBZ3',
    country: 'DE',
    operator: address,
    bandwidth: '250',
    advertise: '127.0.0.1:51820',
  };
  const startWith = (values: Record<string, string>, env: Record<string, string> = {}, flags: string[] = []): { status: number | null; out: string } => {
    const file = join(dir, 'relay-test.yaml');
    writeFileSync(file, uncomment(template, values));
    return run(['start', '--config', file, '--metrics', '127.0.0.1:0', '--json', ...flags], env);
  };

  const ok = startWith(good);
  assert.equal(ok.status, 1, `accepted, then the chain is unreachable: ${ok.out}`);
  assert.doesNotMatch(ok.out, /ConfigError|unknown key|only make sense/);

  const bad: Array<[string, string, RegExp]> = [
    ['p2p-listen', 'nonsense', /--p2p-listen/],
    ['bootstrap', '/ip4/127.0.0.1/tcp/9', /--bootstrap/],
    ['country', 'D1', /--country/],
    ['operator', 'not-hex', /--operator/],
    ['bandwidth', '-3', /--bandwidth/],
    ['advertise', '0.0.0.0:51820', /--advertise/],
  ];
  for (const [k, v, re] of bad) {
    const r = startWith({ ...good, [k]: v });
    assert.equal(r.status, 2, `${k}: ${v} is refused: ${r.out}`);
    assert.match(r.out, re);
  }

  // Without p2p-listen the other discovery keys are refused, not silently ignored.
  const { 'p2p-listen': _listen, ...noListen } = good;
  const stray = startWith(noListen);
  assert.equal(stray.status, 2, stray.out);
  assert.match(stray.out, /only make sense with --p2p-listen/);

  // Environment over file, flag over environment.
  assert.equal(startWith(good, { TOPRELAY_COUNTRY: 'D1' }).status, 2, 'a bad $TOPRELAY_COUNTRY replaces the file value');
  const flagWins = startWith(good, { TOPRELAY_COUNTRY: 'D1' }, ['--country', 'FR']);
  assert.equal(flagWins.status, 1, `--country overrides the environment: ${flagWins.out}`);
});
