#!/usr/bin/env node
/**
 * Renders every deployment artefact from one deploy config (deploy/gen-config.ts):
 *   deploy/systemd/   units, node configs, sysusers.d
 *   deploy/docker/    Dockerfile, compose.yaml (+ its prometheus.yml, node configs)
 *   deploy/k8s/       namespace, topchain StatefulSet, relay Deployments, Prometheus
 *   deploy/prometheus/prometheus.yml (real servers) and testnet.yml (the netns testnet)
 *
 *   node dist/deploy/generate.js [--config FILE] [--out DIR]    write (DIR default: deploy/)
 *   node dist/deploy/generate.js --check                        exit 1 if a committed file drifted
 *   node dist/deploy/generate.js bootstrap --target compose|k8s|systemd --out DIR [--config FILE]
 *   node dist/deploy/generate.js genesis --addresses FILE --target T --out FILE [--config FILE] [--time MS]
 * Exit codes: 0 ok, 1 drift/failure, 2 usage.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../common/paths.js';
import { DEFAULT_DEPLOY_CONFIG, DeployConfigError, validateDeployConfig, type DeployConfig } from './gen-config.js';
import { renderDocker } from './gen-docker.js';
import { bootstrap, genesisFor, TARGETS, type Target } from './gen-genesis.js';
import { renderK8s } from './gen-k8s.js';
import { composeTargets, deployTargets, k8sTargets, prometheusConfig, testnetTargets } from './gen-prometheus.js';
import { renderSystemd } from './gen-systemd.js';

export class GenerateUsageError extends Error {
  override readonly name = 'GenerateUsageError';
}

/** Relays in the testnet Prometheus config (deploy/testnet.ts default). */
export const TESTNET_RELAYS = 3;

/** Every generated file, keyed by path relative to deploy/, in a fixed order. */
export function renderAll(cfg: DeployConfig = DEFAULT_DEPLOY_CONFIG): Map<string, string> {
  validateDeployConfig(cfg);
  const interval = cfg.prometheus.scrapeInterval;
  const out = new Map<string, string>();
  const add = (dir: string, files: Map<string, string>): void => {
    for (const [k, v] of files) out.set(`${dir}/${k}`, v);
  };
  add('systemd', renderSystemd(cfg));
  add('docker', renderDocker(cfg, prometheusConfig(composeTargets(cfg), { scrapeInterval: interval, deployment: 'compose' })));
  add('k8s', renderK8s(cfg, prometheusConfig(k8sTargets(cfg), { scrapeInterval: interval, deployment: 'k8s' })));
  out.set('prometheus/prometheus.yml', prometheusConfig(deployTargets(cfg), { scrapeInterval: interval, deployment: cfg.chainId }));
  out.set('prometheus/testnet.yml', prometheusConfig(testnetTargets(TESTNET_RELAYS), { scrapeInterval: '15s', deployment: 'netns-testnet' }));
  return out;
}

export function writeAll(files: ReadonlyMap<string, string>, root: string): string[] {
  const written: string[] = [];
  for (const [rel, text] of files) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    written.push(p);
  }
  return written;
}

/** Paths (relative) whose file under `root` is missing or differs from `files`. */
export function drifted(files: ReadonlyMap<string, string>, root: string): string[] {
  return [...files].filter(([rel, text]) => !existsSync(join(root, rel)) || readFileSync(join(root, rel), 'utf8') !== text).map(([rel]) => rel);
}

export function deployDir(): string {
  return join(repoRoot(), 'deploy');
}

export function loadConfig(file: string | undefined): DeployConfig {
  if (!file) return DEFAULT_DEPLOY_CONFIG;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DeployConfigError(`${file}: ${(e as Error).message}`);
  }
  return validateDeployConfig(raw as DeployConfig);
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new GenerateUsageError(`${name} needs a value`);
  return v;
}

function target(argv: string[]): Target {
  const t = flag(argv, '--target');
  if (!t || !(TARGETS as readonly string[]).includes(t)) throw new GenerateUsageError(`--target must be one of ${TARGETS.join('|')}`);
  return t as Target;
}

export function main(argv: string[]): number {
  const cfg = loadConfig(flag(argv, '--config'));
  if (argv[0] === 'bootstrap') {
    const out = flag(argv, '--out');
    if (!out) throw new GenerateUsageError('bootstrap needs --out DIR');
    const r = bootstrap(cfg, target(argv), resolve(out), { genesisTime: Date.now() });
    process.stdout.write(JSON.stringify({ event: 'bootstrap', ...r }, null, 2) + '\n');
    return 0;
  }
  if (argv[0] === 'genesis') {
    const addrFile = flag(argv, '--addresses');
    const out = flag(argv, '--out');
    if (!addrFile || !out) throw new GenerateUsageError('genesis needs --addresses FILE and --out FILE');
    const time = Number(flag(argv, '--time') ?? Date.now());
    if (!Number.isInteger(time) || time <= 0) throw new GenerateUsageError('--time must be Unix ms');
    const addresses = JSON.parse(readFileSync(addrFile, 'utf8')) as Record<string, string>;
    const g = genesisFor(cfg, target(argv), addresses, { genesisTime: time });
    writeFileSync(out, JSON.stringify(g, null, 2) + '\n', { flag: 'wx' });
    process.stdout.write(`${out}\n`);
    return 0;
  }
  const files = renderAll(cfg);
  if (argv.includes('--check')) {
    const d = drifted(files, deployDir());
    for (const p of d) process.stderr.write(`drifted: deploy/${p}\n`);
    return d.length === 0 ? 0 : 1;
  }
  const root = resolve(flag(argv, '--out') ?? deployDir());
  for (const p of writeAll(files, root)) process.stdout.write(`${p}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`generate: ${err.name}: ${err.message}\n`);
    process.exitCode = err instanceof GenerateUsageError || err.name === 'DeployConfigError' ? 2 : 1;
  }
}
