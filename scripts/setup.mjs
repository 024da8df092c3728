#!/usr/bin/env node
// Makes a fresh Debian machine with Node 20 ready to run topvpn: installs the Debian
// packages the tests, the testnet and the benchmarks use (only those missing), the npm
// packages, builds the native TUN addon and compiles the TypeScript. Idempotent.
// Usage: node scripts/setup.mjs [--quiet]
import { execSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (m) => { if (!quiet) process.stderr.write(`[setup] ${m}\n`); };

// command -> Debian package that provides it
const DEBIAN = {
  ip: 'iproute2',
  nft: 'nftables',
  iperf3: 'iperf3',
  tcpdump: 'tcpdump',
  tshark: 'tshark',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  openvpn: 'openvpn',
  prometheus: 'prometheus',
  curl: 'curl',
  openssl: 'openssl',
  ping: 'iputils-ping',
  'systemd-analyze': 'systemd',
};

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const missing = [...new Set(Object.entries(DEBIAN).filter(([c]) => !has(c)).map(([, p]) => p))];
if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    say(`missing Debian packages (${missing.join(' ')}); run as root to install them`);
  } else {
    say(`installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execSync('apt-get update -qq', { stdio: quiet ? 'ignore' : 'inherit', env });
    // tshark asks whether non-root users may capture; answer no without a prompt.
    execSync('echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections', { env });
    execSync(`apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`, { stdio: quiet ? 'ignore' : 'inherit', env });
  }
}

const run = (cmd) => execSync(cmd, { cwd: root, stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit' });

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  say('installing npm packages');
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund');
}
if (existsSync(join(root, 'binding.gyp')) && !['tun.node', 'udp.node'].every((f) => existsSync(join(root, 'build', 'Release', f)))) {
  say('building the native TUN addon');
  run('npm run --silent build:native');
}
say('compiling TypeScript');
run('npx tsc -p tsconfig.json');
