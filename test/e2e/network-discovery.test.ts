/**
 * The relay network found, not configured (needs root; run under `flock /tmp/topvpn-heavy.lock`):
 * a devnet (1 shard, 1 validator + 1 auditor) in tn5-chain; five relays, each a separate
 * `toprelay start` process in its own namespace, registered on chain with different prices,
 * started with --p2p-listen and a country (two of them declaring one operator), all but the
 * first bootstrapping from the first. The client gets only a bootstrap multiaddr and the chain
 * RPC (no --relays): it learns the relays over libp2p, checks them on chain and picks its path.
 *
 *   relay  host     country  price (TOP/GiB)  exit  operator
 *   R0     entry    DE       1000             yes   own
 *   R1     middle1  FR       1000             yes   own
 *   R2     middle2  NL       1000             no    shared with R3
 *   R3     middle3  NL       1000             no    shared with R2
 *   R4     exit     DE       9000             yes   own
 *
 * Checked: `toprelay status` shows discovery peers; `topvpn relays --json` lists all five;
 * `--exit-country DE` exits in DE, and HTTP through the TUN reaches the internet host from
 * that exit's address; `--max-price 2000` never uses R4; no path holds two relays of one
 * operator; after R1 unregisters, `relays --json` drops it, `--exit-country FR` fails with
 * exit code 3 (no path), `--max-price 2000` fails with 3 too (only R0 exits, and R2 and R3 may
 * not share a circuit), a new connect does not use R1, and when that connect's middle relay
 * unregisters in turn the running client stops (exit 1, routes restored) within its --recheck.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distBin } from '../../common/paths.js';
import { ChainNet, waitFor } from '../../deploy/chain-net.js';
import { DEFAULT_BUDGET, registerRelay, writeChainKey, writeClientWallet } from '../../deploy/economy.js';
import type { Host } from '../../deploy/testnet.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, keygen, RELAY_CLI, startRelay, type RelayNode, type UpEvent } from '../../deploy/topvpn.js';
import { RELAY_PORT } from '../../deploy/topology.js';
import { UNIT } from '../../chain/state/index.js';
import { inetUrl, netnsUnavailable, parseJsonObject, Testnet } from '../helpers/netns.js';

const PREFIX = 'tn5';
const P2P_PORT = 4001;
const node = process.execPath;

interface Spec {
  country: string;
  price: bigint;
  exit: boolean;
  /** Index of the relay whose address is declared as operator (shared operator), else own. */
  operatorOf?: number;
}

const SPECS: Spec[] = [
  { country: 'DE', price: 1000n * UNIT, exit: true },
  { country: 'FR', price: 1000n * UNIT, exit: true },
  { country: 'NL', price: 1000n * UNIT, exit: false, operatorOf: 2 },
  { country: 'NL', price: 1000n * UNIT, exit: false, operatorOf: 2 },
  { country: 'DE', price: 9000n * UNIT, exit: true },
];

interface Relay {
  spec: Spec;
  host: Host;
  address: string;
  chainKey: string;
  operator: string;
  node: RelayNode;
}

interface PathHop {
  role: string;
  address: string;
  operator: string;
  country: string;
  pricePerGiB: string;
  endpoint: string;
}

describe('relay discovery over libp2p + chain, path chosen by the client', { timeout: 180_000 }, () => {
  let net: Testnet | undefined;
  let chain: ChainNet | undefined;
  let relays: Relay[] = [];
  let bootstrap = '';
  let wallet: { wallet: string; passwordFile: string; address: string };
  let seq = 0;

  const rpc = (): string => chain!.urls[0]!;
  const byAddress = (a: string): Relay => {
    const r = relays.find((x) => x.address === a);
    assert.ok(r, `path relay ${a.slice(0, 12)} is one of ours`);
    return r;
  };

  function connectArgs(extra: string[]): string[] {
    seq++;
    return [
      node, distBin(CLIENT_CLI), 'connect',
      '--bootstrap', bootstrap, '--chain-rpc', rpc(),
      '--wallet', wallet.wallet, '--password-file', wallet.passwordFile, '--budget', DEFAULT_BUDGET.toString(),
      '--hops', '3', '--allow-same-subnet', '--guard-file', join(net!.dir, 'guards.json'),
      '--control', join(net!.dir, `client-${seq}.sock`), '--tun', CLIENT_TUN, '--no-dns', '--json',
      ...extra,
    ];
  }

  /** A discovered connect that comes up; returns its session and the path it printed. */
  async function connectUp(extra: string[]): Promise<{ session: ClientSession; path: PathHop[]; spares: string[] }> {
    const args = connectArgs(extra);
    const proc = net!.spawn(net!.client, args, { label: `client:connect-${seq}` });
    const up = (await proc.waitForEvent('up', 90_000)) as UpEvent;
    const pathEv = proc.lines('stdout').map(parseJsonObject).find((o) => o?.['event'] === 'progress' && o['step'] === 'path');
    assert.ok(pathEv, 'a path progress event');
    const control = args[args.indexOf('--control') + 1]!;
    return { session: new ClientSession(net!, proc, up, control, CLIENT_TUN), path: pathEv['path'] as PathHop[], spares: (pathEv['spares'] as string[] | undefined) ?? [] };
  }

  /** A discovered connect expected to fail: its exit code and error line. */
  async function connectFails(extra: string[]): Promise<{ code: number | null; error: Record<string, unknown> | undefined }> {
    const r = await net!.exec(net!.client, connectArgs(extra), { allowFail: true, timeoutMs: 60_000 });
    const error = r.stdout.trim().split('\n').map(parseJsonObject).find((o) => o?.['event'] === 'error');
    return { code: r.code, error };
  }

  async function relaysJson(): Promise<Array<{ nodeAddress: string; country: string }>> {
    const r = await net!.exec(net!.client, [node, distBin(CLIENT_CLI), 'relays', '--chain-rpc', rpc(), '--bootstrap', bootstrap, '--no-ping', '--json'], { timeoutMs: 30_000 });
    const o = r.stdout.trim().split('\n').map(parseJsonObject).find((x) => x?.['event'] === 'relays');
    assert.ok(o, `relays --json printed: ${r.stdout.slice(0, 200)}`);
    return o['relays'] as Array<{ nodeAddress: string; country: string }>;
  }

  /** The internet host sees the tunnel's traffic arrive from the exit's address. */
  async function remoteSeen(): Promise<string | undefined> {
    const r = await net!.exec(net!.client, ['curl', '-sS', '--fail', '--max-time', '10', inetUrl('/ip')], { timeoutMs: 20_000 });
    return (JSON.parse(r.stdout) as { remote?: string }).remote;
  }

  function assertPathRules(path: PathHop[]): void {
    assert.equal(path.length, 3);
    assert.deepEqual(path.map((h) => h.role), ['entry', 'middle', 'exit']);
    const ops = path.map((h) => byAddress(h.address).operator);
    assert.equal(new Set(ops).size, 3, `no two hops of one operator: ${ops.map((o) => o.slice(0, 8)).join(',')}`);
    for (const h of path) assert.equal(h.operator, byAddress(h.address).operator, 'descriptor operator is the configured one');
    assert.ok(byAddress(path[2]!.address).spec.exit, 'the exit is an exit relay');
  }

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: SPECS.length, chain: true, handleSignals: false });
    chain = await ChainNet.start(net, { shards: 1, group: 1, auditors: 1, accounts: SPECS.length + 1 });
    await chain.waitReady();
    const accounts = chain.devnet.accounts;
    const hosts = net.relays;
    const regs = await Promise.all(
      hosts.map(async (host, i) => {
        const keyFile = join(net!.dir, `${host.name}.key.json`);
        const onionKey = await keygen(net!, host, keyFile);
        const kp = accounts[i]!;
        const chainKey = writeChainKey(net!, host.name, kp);
        await registerRelay(net!, chain!, { host, keyFile: chainKey, address: kp.address, onionKey, endpoint: `${host.ip}:${RELAY_PORT}`, rpcUrl: rpc(), pricePerGiB: SPECS[i]!.price });
        return { host, keyFile, onionKey, chainKey, address: kp.address };
      }),
    );
    const start = async (i: number, boot: string[]): Promise<Relay> => {
      const spec = SPECS[i]!;
      const g = regs[i]!;
      const operator = spec.operatorOf !== undefined ? regs[spec.operatorOf]!.address : g.address;
      const rn = await startRelay(net!, g.host, {
        exit: spec.exit,
        key: { file: g.keyFile, publicKey: g.onionKey },
        address: g.address,
        pricePerGiB: spec.price,
        timeoutMs: 30_000,
        extraArgs: [
          '--chain-rpc', rpc(), '--node-key', g.chainKey, '--price-per-gib', spec.price.toString(),
          '--p2p-listen', `/ip4/${g.host.ip}/tcp/${P2P_PORT}`, '--country', spec.country, '--operator', operator,
          '--peer-key', join(net!.dir, `${g.host.name}.peer.key`), '--metrics', `${g.host.ip}:9464`,
          ...(boot.length > 0 ? ['--bootstrap', boot.join(',')] : []),
          '--json', '--stats-interval', '0',
        ],
      });
      return { spec, host: g.host, address: g.address, chainKey: g.chainKey, operator, node: rn };
    };
    const r0 = await start(0, []);
    const listening = r0.node.proc.lines('stdout').map(parseJsonObject).find((o) => o?.['event'] === 'listening');
    const disc = listening?.['discovery'] as { multiaddrs: string[]; country: string } | undefined;
    assert.ok(disc && disc.multiaddrs.length > 0, `the listening line names the discovery multiaddrs: ${JSON.stringify(listening)}`);
    assert.equal(disc.country, 'DE');
    bootstrap = disc.multiaddrs.find((m) => m.includes(`/ip4/${r0.host.ip}/`)) ?? disc.multiaddrs[0]!;
    const rest = await Promise.all(SPECS.slice(1).map((_, j) => start(j + 1, [bootstrap])));
    relays = [r0, ...rest];
    wallet = await writeClientWallet(net, accounts[SPECS.length]!);
  });

  after(async () => {
    await chain?.stop();
    await net?.teardown();
  });

  test('relays publish: `toprelay status` shows discovery peers, `topvpn relays --json` lists all five', async () => {
    await waitFor('the bootstrap relay has the four others as peers', async () => {
      const r = await net!.exec(relays[0]!.host, [node, distBin(RELAY_CLI), 'status', '--metrics', `${relays[0]!.host.ip}:9464`, '--sample', '0', '--json'], { allowFail: true, timeoutMs: 10_000 });
      const st = parseJsonObject(r.stdout.trim().split('\n').pop() ?? '');
      return ((st?.['relay'] as { peers?: number } | undefined)?.peers ?? 0) >= 4;
    }, 30_000);
    let listed: Array<{ nodeAddress: string; country: string }> = [];
    await waitFor('relays --json lists all five', async () => {
      listed = await relaysJson();
      return listed.length === SPECS.length;
    }, 45_000);
    assert.deepEqual(new Set(listed.map((r) => r.nodeAddress)), new Set(relays.map((r) => r.address)));
    for (const r of relays) assert.equal(listed.find((l) => l.nodeAddress === r.address)!.country, r.spec.country);
  });

  test('--exit-country DE: the exit is in DE, traffic flows through it', async () => {
    const { session, path, spares } = await connectUp(['--exit-country', 'DE', '--reconnect']);
    try {
      assertPathRules(path);
      // --reconnect: spare middles (standby channels) never sit with an operator of the entry or exit.
      for (const a of spares) {
        assert.ok(!path.some((h) => h.address === a), 'a spare is off the path');
        assert.ok(![path[0]!, path[2]!].some((h) => byAddress(h.address).operator === byAddress(a).operator), 'a spare is unrelated to entry and exit');
      }
      const exit = byAddress(path[2]!.address);
      assert.equal(exit.spec.country, 'DE');
      assert.equal(path[2]!.country, 'DE');
      assert.equal(await remoteSeen(), exit.host.ip, 'the internet host sees the chosen exit');
      const st = await session.status();
      assert.deepEqual((st['path'] as Array<{ endpoint: string }>).map((p) => p.endpoint), path.map((h) => h.endpoint), 'the daemon built the chosen path');
    } finally {
      await session.disconnect(60_000);
    }
  });

  test('--max-price 2000: the expensive relay is never on the path', async () => {
    const { session, path } = await connectUp(['--max-price', '2000']);
    try {
      assertPathRules(path);
      for (const h of path) assert.ok(BigInt(h.pricePerGiB) <= 2000n * UNIT, `${h.address.slice(0, 8)} at ${h.pricePerGiB}`);
      assert.ok(!path.some((h) => h.address === relays[4]!.address));
      assert.equal(await remoteSeen(), byAddress(path[2]!.address).host.ip);
    } finally {
      await session.disconnect(60_000);
    }
  });

  test('after R1 unregisters: gone from `relays`, no FR exit, no cheap path (R2/R3 share an operator), new paths avoid it', async () => {
    const r1 = relays[1]!;
    const u = await net!.exec(r1.host, [node, distBin(RELAY_CLI), 'unregister', '--chain-rpc', rpc(), '--node-key', r1.chainKey, '--json'], { timeoutMs: 90_000 });
    assert.equal(u.code, 0, u.stderr.slice(-300));
    const listed = await relaysJson();
    assert.ok(!listed.some((r) => r.nodeAddress === r1.address), 'the unregistered relay is not listed');
    assert.equal(listed.length, SPECS.length - 1);

    const fr = await connectFails(['--exit-country', 'FR']);
    assert.equal(fr.code, 3, JSON.stringify(fr.error));
    assert.equal(fr.error?.['error'], 'NoPathError');
    assert.match(String(fr.error?.['message']), /country FR/);

    const cheap = await connectFails(['--max-price', '2000']);
    assert.equal(cheap.code, 3, JSON.stringify(cheap.error));
    assert.match(String(cheap.error?.['message']), /unrelated|related/);

    const { session, path } = await connectUp(['--recheck', '2']);
    try {
      assertPathRules(path);
      assert.ok(!path.some((h) => h.address === r1.address), 'a new connect does not use the unregistered relay');
      assert.equal(await remoteSeen(), byAddress(path[2]!.address).host.ip);

      // The live directory: the running client stops using its middle once that relay unregisters.
      const middle = byAddress(path[1]!.address);
      const m = await net!.exec(middle.host, [node, distBin(RELAY_CLI), 'unregister', '--chain-rpc', rpc(), '--node-key', middle.chainKey, '--json'], { timeoutMs: 90_000 });
      assert.equal(m.code, 0, m.stderr.slice(-300));
      const exit = await Promise.race([session.proc.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000))]);
      assert.ok(exit, 'the client stopped on its own');
      assert.equal(exit.code, 1);
      const events = session.proc.lines('stdout').map(parseJsonObject);
      const left = events.find((o) => o?.['event'] === 'progress' && o['step'] === 'relay-left');
      assert.equal(left?.['relay'], middle.address);
      assert.equal(left?.['reason'], 'unstaked');
      assert.ok(events.some((o) => o?.['event'] === 'down'), 'routes restored (down event)');
    } finally {
      if (session.proc.running) await session.disconnect(60_000);
    }
  });
});
