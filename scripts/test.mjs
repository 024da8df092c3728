#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// Test files run one at a time: the network-namespace suites share the machine's 2 cores
// and must not overlap. Arguments are path filters (substrings of dist/test/... paths); with
// none, every test file runs. Options are refused, so a stray `--help` does not start the suite.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const options = args.filter((a) => a.startsWith('-'));
if (options.length > 0) {
  console.error(`usage: node scripts/test.mjs [PATH_FILTER ...]  (no options; got ${options.join(' ')})`);
  process.exit(2);
}
const filters = args;

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'dist', 'test')).filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=600000', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TOPVPN_LOG_LEVEL: process.env.TOPVPN_LOG_LEVEL ?? 'warn' },
});
process.exit(r.status ?? 1);
