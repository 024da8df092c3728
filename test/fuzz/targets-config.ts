/** Fuzz targets over what a user hands the programs: flags, relay lists, key files, wallets, deploy configs. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError as RelayConfigError, parseRelayStartFlags, type RelayStartFlags } from '../../relay/config.js';
import { parseConnectFlags, type ConnectFlags } from '../../client/config.js';
import { choosePath, parseRelayJson, parseRelayListString, RelayListError } from '../../client/relay-list.js';
import { generateKeyPair, KeyFileError, readKeyFile, toHex } from '../../relay/keys.js';
import { DeployConfigError, DEFAULT_DEPLOY_CONFIG } from '../../deploy/gen-config.js';
import { loadConfig } from '../../deploy/generate.js';
import { importWallet, readWalletFile, WalletError } from '../../client/wallet/keystore.js';
import { createConnection } from 'node:net';
import { once } from 'node:events';
import { silentLogger } from '../../common/log.js';
import { ControlServer } from '../../client/control.js';
import { FuzzFinding, scratchDir, type FuzzTarget } from './harness.js';
import { bytesFrom, jsonFrom, text, utf8 } from './mutate.js';

/** Whether `x` nests deeper than `max` levels (iterative: a deep value must not overflow here). */
function deeperThan(x: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[x, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const c of Object.values(v as object)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  return false;
}

/** JSON text of a value, or a placeholder for one nested too deeply to stringify. */
function safeString(x: unknown): string {
  // Checked first: a stack overflow inside JSON.stringify costs ~100x a normal input.
  if (deeperThan(x, 1000)) return '[deep]';
  try {
    return JSON.stringify(x);
  } catch {
    return '[deep]';
  }
}

/**
 * commander hands a parser strings and booleans only: anything else in a generated flag bag
 * becomes its string form (so a finding is reachable from a command line).
 */
function flagBag(b: Uint8Array, booleans: readonly string[]): Record<string, string | boolean> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text(b));
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string | boolean> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === undefined || x === null) continue;
    if (booleans.includes(k)) out[k] = x === true || x === 'true';
    else out[k] = typeof x === 'string' ? x : safeString(x);
  }
  return out;
}

export async function configTargets(cleanup: Array<() => void>): Promise<FuzzTarget[]> {
  const out: FuzzTarget[] = [];
  const dir = scratchDir('topvpn-fuzz-config-');
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const kp = generateKeyPair();
  const kp2 = generateKeyPair();
  const keyFile = join(dir, 'relay.key');
  writeFileSync(keyFile, JSON.stringify({ secretKey: toHex(kp.secretKey), publicKey: toHex(kp.publicKey) }, null, 2));

  const relaySeeds = [
    { listen: '0.0.0.0:51820', key: keyFile, logLevel: 'info', statsInterval: '30', region: 'eu-west' },
    { listen: '198.18.0.1:0', key: keyFile, exit: true, exitPool: '198.19.0.0/16', exitAllow: '198.18.0.0/15,10.0.0.0/8', dns: '198.18.0.53', egress: 'eth0', tun: 'tvx0', nftTable: 'topvpn_exit', metrics: '127.0.0.1:9101' },
    { listen: '127.0.0.1:5000', key: keyFile, chainRpc: 'http://127.0.0.1:8645', nodeKey: keyFile, pricePerGib: '2500000', claimFee: '10' },
  ].map((o) => JSON.stringify(o));
  out.push({
    name: 'relay.config.flags',
    parser: 'relay/config.ts parseRelayStartFlags (+ parseRelayPaymentFlags)',
    arbitrary: jsonFrom(relaySeeds),
    allowedErrors: [RelayConfigError],
    run(b) {
      const f = flagBag(b, ['exit', 'pretty', 'json']);
      if (f) parseRelayStartFlags(f as RelayStartFlags);
    },
  });

  const pub1 = toHex(kp.publicKey);
  const pub2 = toHex(kp2.publicKey);
  const pub3 = 'ab'.repeat(32);
  const relayJson = JSON.stringify([
    { endpoint: '198.18.0.1:5000', publicKey: pub1, address: 'cd'.repeat(32), pricePerGiB: '1000' },
    { endpoint: '198.18.0.2:5000', publicKey: pub2, address: 'ce'.repeat(32), pricePerGiB: 2000 },
    { endpoint: '198.18.0.3:5000', publicKey: pub3 },
  ]);
  const relayFile = join(dir, 'relays.json');
  writeFileSync(relayFile, relayJson);
  const listForm = `198.18.0.1:5000@${pub1},198.18.0.2:5000@${pub2}, 198.18.0.3:5000@${pub3}`;
  out.push({
    name: 'client.relay-list',
    parser: 'client/relay-list.ts parseRelayJson/parseRelayListString/choosePath',
    arbitrary: bytesFrom([utf8(relayJson), utf8(listForm)], 120),
    allowedErrors: [RelayListError],
    run(b) {
      const s = text(b);
      let specs;
      try {
        specs = parseRelayJson(s, 'relays.json');
      } catch (e) {
        if (!(e instanceof RelayListError)) throw e;
        specs = parseRelayListString(s);
      }
      for (const r of specs) if (r.publicKey.length !== 32 || r.endpoint.port < 1 || r.endpoint.port > 65535) throw new FuzzFinding('a relay spec passed with a bad key or port');
      for (const hops of [1, 2, 3]) {
        try {
          choosePath(specs, hops);
        } catch (e) {
          if (!(e instanceof RelayListError)) throw e;
        }
      }
    },
  });

  const connectSeeds = [
    { relays: listForm, hops: '3', dns: '198.18.0.53,9.9.9.9', tun: 'tvpn0', killSwitch: true, logLevel: 'warn' },
    { relays: relayFile, hops: '2', dns: false, metrics: '127.0.0.1:9102', reconnect: true },
    { relays: relayFile, hops: '2', chainRpc: 'http://127.0.0.1:8645', wallet: join(dir, 'w.json'), budget: '1000000', passwordFile: join(dir, 'pw') },
  ].map((o) => JSON.stringify(o));
  out.push({
    name: 'client.config.flags',
    parser: 'client/config.ts parseConnectFlags (+ relay list, payment flags)',
    arbitrary: jsonFrom(connectSeeds),
    allowedErrors: [RelayConfigError, RelayListError],
    run(b) {
      const f = flagBag(b, ['killSwitch', 'reconnect', 'json', 'pretty']);
      if (!f) return;
      // --dns IP[,IP] is a string, --no-dns is false
      if (f.dns === 'false') f.dns = false;
      // --relays names a file when it has no "@": only ever our own file (never a path the fuzzer made up)
      if (typeof f.relays === 'string' && !f.relays.includes('@') && f.relays !== '') f.relays = relayFile;
      parseConnectFlags(f as ConnectFlags);
    },
  });

  const keyPath = join(dir, 'fuzz.key');
  const keySeeds = [readFileSync(keyFile, 'utf8'), JSON.stringify({ publicKey: pub1.toUpperCase(), secretKey: toHex(kp.secretKey) })];
  out.push({
    name: 'relay.keys.readKeyFile',
    parser: 'relay/keys.ts readKeyFile',
    arbitrary: jsonFrom(keySeeds),
    allowedErrors: [KeyFileError],
    run(b) {
      writeFileSync(keyPath, b);
      const k = readKeyFile(keyPath);
      if (k.secretKey.length !== 32 || k.publicKey.length !== 32) throw new FuzzFinding('key file accepted with a wrong key length');
    },
  });

  const deployPath = join(dir, 'deploy.json');
  out.push({
    name: 'deploy.loadConfig',
    parser: 'deploy/generate.ts loadConfig → deploy/gen-config.ts validateDeployConfig',
    arbitrary: jsonFrom([JSON.stringify(DEFAULT_DEPLOY_CONFIG, null, 2)]),
    allowedErrors: [DeployConfigError],
    run(b) {
      writeFileSync(deployPath, b);
      loadConfig(deployPath);
    },
  });

  const walletPath = join(dir, 'wallet.json');
  await importWallet(walletPath, 'ab'.repeat(32), 'fuzz-password', { kdf: { N: 1024, r: 1, p: 1 } });
  const walletText = readFileSync(walletPath, 'utf8');
  const fuzzWallet = join(dir, 'fuzz-wallet.json');
  out.push({
    name: 'client.wallet.readWalletFile',
    parser: 'client/wallet/keystore.ts readWalletFile (structure, scrypt limits, checksum)',
    arbitrary: jsonFrom([walletText]),
    allowedErrors: [WalletError],
    run(b) {
      writeFileSync(fuzzWallet, b);
      readWalletFile(fuzzWallet);
    },
  });

  return out;
}

/**
 * The client daemon's control socket (client/control.ts ControlServer): one request line per
 * input over a real unix socket. Every line must get a JSON answer; a rejected handler promise
 * (seen as an unhandledRejection) is a finding.
 */
export async function controlTarget(cleanup: Array<() => void>): Promise<FuzzTarget> {
  const dir = scratchDir('topvpn-fuzz-ctl-');
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'client.sock');
  const server = new ControlServer(path, { status: () => ({ state: 'up' }), disconnect: () => Promise.resolve({ disconnected: true }) }, silentLogger());
  await server.listen();
  const sock = createConnection(path);
  await once(sock, 'connect');
  sock.setEncoding('utf8');
  let buf = '';
  let waiter: ((line: string | undefined) => void) | undefined;
  let rejection: unknown;
  sock.on('data', (c: string) => {
    buf += c;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      waiter?.(line);
    }
  });
  const onRejection = (e: unknown): void => {
    rejection = e;
    waiter?.(undefined);
  };
  process.on('unhandledRejection', onRejection);
  const seeds = ['{"cmd":"status"}', '{"cmd":"disconnect"}', '{"cmd":"nope","x":[1,2,{"y":null}]}'];
  return {
    name: 'client.control.request',
    parser: 'client/control.ts ControlServer (request lines on the control socket)',
    arbitrary: jsonFrom(seeds),
    allowedErrors: [],
    async run(b) {
      let line = text(b).replace(/[\r\n]/g, ' ');
      if (line.length > 60_000) line = line.slice(0, 60_000);
      if (line.trim().length === 0) return; // the server skips blank lines
      const reply = await new Promise<string | undefined>((res) => {
        waiter = res;
        sock.write(`${line}\n`);
      });
      waiter = undefined;
      if (rejection !== undefined) {
        const e = rejection;
        rejection = undefined;
        throw new FuzzFinding(`the control server's request handling rejected: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      let r: unknown;
      try {
        r = JSON.parse(reply ?? '');
      } catch {
        throw new FuzzFinding(`control reply is not JSON: ${String(reply).slice(0, 80)}`);
      }
      if (typeof (r as { ok?: unknown }).ok !== 'boolean') throw new FuzzFinding('control reply has no ok field');
    },
    async close() {
      process.off('unhandledRejection', onRejection);
      sock.destroy();
      await server.close();
    },
  };
}
