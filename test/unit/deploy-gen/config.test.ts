/**
 * The deploy config's invariants, and that what the generator renders speaks the daemons'
 * real contracts: relay argv parses with relay/config.ts, node configs and genesis files
 * load with chain/node/config.ts, and the testnet Prometheus targets are the addresses of
 * deploy/topology.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { readGenesis, readNodeConfig } from '../../../chain/node/config.js';
import { readKeyFile as readChainKey } from '../../../chain/node/keys.js';
import { NODE_HEAP_FLAGS } from '../../../chain/node/heap-flags.js';
import { parseRelayStartFlags, type RelayStartFlags } from '../../../relay/config.js';
import { readKeyFile as readRelayKey, toHex } from '../../../relay/keys.js';
import { DEFAULT_DEPLOY_CONFIG, DeployConfigError, relayArgs, validateDeployConfig, type DeployConfig } from '../../../deploy/gen-config.js';
import { bootstrap, BootstrapError, genesisFor } from '../../../deploy/gen-genesis.js';
import { prometheusConfig, testnetTargets } from '../../../deploy/gen-prometheus.js';
import { renderAll } from '../../../deploy/generate.js';
import { CLIENT_IP, planTopology } from '../../../deploy/topology.js';

const scratch = mkdtempSync(join(tmpdir(), 'tvk-deploy-cfg-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const cfg = DEFAULT_DEPLOY_CONFIG;
const withCfg = (patch: Partial<DeployConfig>): DeployConfig => ({ ...cfg, ...patch });

test('the default config is valid; inconsistent ones are refused', () => {
  assert.equal(validateDeployConfig(cfg), cfg);
  const dup = withCfg({ relays: [...cfg.relays, { ...cfg.relays[0]!, name: cfg.validators[0]!.name }] });
  assert.throws(() => validateDeployConfig(dup), DeployConfigError);
  assert.throws(() => validateDeployConfig(withCfg({ shards: 2 })), /shard-1 has no validators/);
  assert.throws(() => validateDeployConfig(withCfg({ validators: cfg.validators.filter((v) => v.role === 'validator') })), /auditor/);
  assert.throws(() => validateDeployConfig(withCfg({ relays: [{ ...cfg.relays[2]!, exit: { pool: '10.0.0.0/33' } }] })), /CIDR/);
  assert.throws(() => validateDeployConfig(withCfg({ installDir: 'opt/topvpn' })), /absolute/);
  assert.throws(() => renderAll(withCfg({ relays: [{ ...cfg.relays[0]!, name: 'Bad_Name' }] })), DeployConfigError);
});

/** commander-style option bag from argv after `start` (kebab-case → camelCase). */
function flagBag(argv: readonly string[]): Record<string, string | boolean> {
  const bag: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    assert.ok(a.startsWith('--'), `unexpected positional ${a}`);
    const key = a.slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) bag[key] = true;
    else {
      bag[key] = next;
      i++;
    }
  }
  return bag;
}

test('relay argv parses with the relay\'s own flag parser (metrics flag aside)', () => {
  for (const r of cfg.relays) {
    const argv = relayArgs(r, '/k.json', '0.0.0.0', 'info');
    assert.equal(argv[0], 'start');
    const bag = flagBag(argv.slice(1));
    assert.equal(bag['metrics'], `0.0.0.0:${r.metricsPort}`);
    delete bag['metrics']; // served by the relay's --metrics flag (being added to relay/cli.ts)
    const parsed = parseRelayStartFlags(bag as RelayStartFlags);
    assert.equal(parsed.keyFile, '/k.json');
    assert.equal(parsed.logLevel, 'info');
    assert.equal(bag['exit'] === true, r.exit !== undefined, r.name);
  }
});

test('every generated chain node command runs node with the heap flags, before the script', () => {
  const files = renderAll();
  const commands: Array<[string, string[]]> = [];
  for (const [k, text] of files) {
    if (k.startsWith('systemd/topchain-') && k.endsWith('.service')) commands.push([k, /^ExecStart=(.*)$/m.exec(text)![1]!.split(' ')]);
  }
  const compose = parse(files.get('docker/compose.yaml')!) as { services: Record<string, { command?: string[] }> };
  for (const [name, svc] of Object.entries(compose.services)) if (svc.command?.includes('dist/chain/cli.js')) commands.push([`compose ${name}`, svc.command]);
  const k8s = (files.get('k8s/topchain.yaml')!).split('\n---\n').map((d) => parse(d) as { kind?: string; spec?: { template?: { spec?: { containers?: Array<{ command?: string[] }> } } } });
  for (const d of k8s) for (const c of d?.spec?.template?.spec?.containers ?? []) if (c.command?.includes('dist/chain/cli.js')) commands.push([`k8s ${d.kind}`, c.command]);
  assert.equal(commands.filter(([k]) => k.startsWith('systemd')).length, cfg.validators.length);
  assert.ok(commands.some(([k]) => k.startsWith('compose')) && commands.some(([k]) => k.startsWith('k8s')), commands.map(([k]) => k).join(', '));
  for (const [k, argv] of commands) {
    const script = argv.findIndex((a) => a.endsWith('dist/chain/cli.js'));
    assert.deepEqual(argv.slice(1, script), [...NODE_HEAP_FLAGS], k);
  }
});

test('generated chain node configs load with readNodeConfig', () => {
  const files = renderAll();
  const nodeConfigs = [...files].filter(([k]) => k.startsWith('systemd/topchain-') && k.endsWith('.config.json') || k.startsWith('docker/node-config/'));
  assert.equal(nodeConfigs.length, cfg.validators.length * 2);
  for (const [k, text] of nodeConfigs) {
    const f = join(scratch, k.replace(/\//g, '_'));
    writeFileSync(f, text);
    const c = readNodeConfig(f);
    assert.match(c.p2pListen, /^\/ip4\/0\.0\.0\.0\/tcp\/\d+$/, k);
    assert.equal(c.rpcHost, '0.0.0.0', k);
  }
});

test('genesisFor builds the committees of the config and refuses missing addresses', () => {
  const addresses = Object.fromEntries(cfg.validators.map((v, i) => [v.name, i.toString(16).padStart(64, 'a')]));
  const g = genesisFor(cfg, 'systemd', addresses, { genesisTime: 1 });
  assert.deepEqual(Object.keys(g.committees).sort(), ['beacon', 'shard-0']);
  assert.equal(g.committees['shard-0']!.validators.length, 4);
  assert.deepEqual(g.committees['shard-0']!.auditors, g.committees['beacon']!.validators);
  assert.equal(g.nodes[0]!.p2p, `/dns4/${cfg.validators[0]!.host}/tcp/${cfg.validators[0]!.p2pPort}`);
  const k8s = genesisFor(cfg, 'k8s', addresses, { genesisTime: 1 });
  assert.equal(k8s.nodes[3]!.rpc, 'http://topchain-3.topchain.topvpn.svc.cluster.local:8645');
  const compose = genesisFor(cfg, 'compose', addresses, { genesisTime: 1 });
  assert.equal(compose.nodes[0]!.p2p, '/ip4/172.28.0.10/tcp/31000');
  const { [cfg.validators[2]!.name]: _gone, ...missing } = addresses;
  assert.throws(() => genesisFor(cfg, 'systemd', missing, { genesisTime: 1 }), DeployConfigError);
});

test('bootstrap writes keys the daemons can read and a genesis readGenesis accepts', () => {
  const dir = join(scratch, 'boot');
  const r = bootstrap(cfg, 'compose', dir, { genesisTime: 1_700_000_000_000 });
  const g = readGenesis(r.genesisFile);
  assert.equal(g.chainId, cfg.chainId);
  for (const v of cfg.validators) {
    const f = join(dir, v.name, 'key.json');
    assert.equal(statSync(f).mode & 0o077, 0, `${f} must be private`);
    assert.equal(readChainKey(f).address, r.validators[v.name]);
    assert.ok(g.nodes.some((n) => n.address === r.validators[v.name]));
  }
  for (const rl of cfg.relays) {
    assert.equal(toHex(readRelayKey(join(dir, rl.name, 'key.json')).publicKey), r.relays[rl.name]);
    assert.ok(g.allocations.some((a) => a.address === r.wallets[rl.name]));
  }
  const before = readFileSync(join(dir, cfg.validators[0]!.name, 'key.json'), 'utf8');
  assert.throws(() => bootstrap(cfg, 'compose', dir, { genesisTime: 1 }), BootstrapError);
  assert.equal(readFileSync(join(dir, cfg.validators[0]!.name, 'key.json'), 'utf8'), before, 'a second bootstrap must not touch existing keys');
});

test('testnet Prometheus targets are the topology\'s addresses', () => {
  const text = readFileSync(new URL('../../../../deploy/prometheus/testnet.yml', import.meta.url), 'utf8');
  const doc = parse(text) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
  const relayTargets = doc.scrape_configs.find((j) => j.job_name === 'toprelay')!.static_configs.flatMap((s) => s.targets);
  assert.deepEqual(relayTargets, planTopology(3).filter((h) => h.role === 'relay').map((h) => `${h.ip}:9101`));
  const clientTargets = doc.scrape_configs.find((j) => j.job_name === 'topvpn-client')!.static_configs.flatMap((s) => s.targets);
  assert.deepEqual(clientTargets, [`${CLIENT_IP}:9102`]);
  assert.equal(text, prometheusConfig(testnetTargets(3), { scrapeInterval: '15s', deployment: 'netns-testnet' }));
});
