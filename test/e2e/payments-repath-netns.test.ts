/**
 * Paid circuits when a relay dies, end to end in network namespaces (needs root; run under
 * `flock /tmp/topvpn-heavy.lock`): a devnet (1 shard, 1 validator + 1 auditor) in tn9-chain;
 * five relays, each a `toprelay start` process in its own namespace, registered on chain,
 * publishing descriptors over libp2p (all exits, one operator each, the first the bootstrap
 * peer), and `topvpn connect` discovering them (no --relays), paying each hop.
 *  1) --kill-switch, no --reconnect: the exit is killed (SIGKILL); the client gives up (exit 1),
 *     the kill switch stays (traffic outside the tunnel is dropped), yet the channel-close txs
 *     reach the chain RPC (the kill switch admits exactly its host:port): every channel is
 *     closing on chain. `topvpn reset` then removes the kill switch.
 *  2) --kill-switch --reconnect: the exit is killed; the client takes a replacement exit from
 *     the live directory (unrelated to the entry and middle; of the two relays left, both spares,
 *     the one without the standby channel, kept for a middle), opens a channel with it through
 *     the chain RPC while the tunnel is down, rebuilds, and HTTP through the TUN arrives from
 *     the new exit. The dead exit's channel is closed once the circuit is back; at disconnect
 *     every channel is closing on chain and each live relay's watchtower claims exactly the last
 *     receipt it got.
 *  3) --reconnect, the exit unregisters: the live directory drops it, the client reports
 *     `relay-left` with action "repath", rebuilds through a new paid exit and keeps running;
 *     at disconnect the departed exit's channel is closed with the others.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distBin } from '../../common/paths.js';
import { ChainNet, waitFor } from '../../deploy/chain-net.js';
import { DEFAULT_BUDGET, getChannel, registerRelay, writeChainKey, writeClientWallet } from '../../deploy/economy.js';
import type { Proc } from '../../deploy/procs.js';
import type { Host } from '../../deploy/testnet.js';
import { CLIENT_CLI, CLIENT_TUN, ClientSession, keygen, RELAY_CLI, startRelay, type UpEvent } from '../../deploy/topvpn.js';
import { RELAY_PORT } from '../../deploy/topology.js';
import { UNIT } from '../../chain/state/index.js';
import { inetUrl, netnsUnavailable, parseJsonObject, Testnet } from '../helpers/netns.js';

const PREFIX = 'tn9';
const P2P_PORT = 4001;
const COUNTRIES = ['DE', 'FR', 'NL', 'SE', 'CH'];
const PRICE = 1000n * UNIT;
const node = process.execPath;

interface Relay {
  host: Host;
  address: string;
  chainKey: string;
  proc: Proc;
}

interface PathHop {
  role: string;
  address: string;
  endpoint: string;
}

function events(proc: Proc, name: string): Record<string, unknown>[] {
  return proc.lines('stdout').map(parseJsonObject).filter((o): o is Record<string, unknown> => o?.['event'] === name);
}

describe('paid re-path and channel closes under the kill switch (namespaces, discovery)', { timeout: 180_000 }, () => {
  let net: Testnet | undefined;
  let chain: ChainNet | undefined;
  let relays: Relay[] = [];
  let bootstrap = '';
  let wallet: { wallet: string; passwordFile: string; address: string };
  let seq = 0;
  const rpc = (): string => chain!.urls[0]!;
  const byAddress = (a: string): Relay => {
    const r = relays.find((x) => x.address === a);
    assert.ok(r, `relay ${a.slice(0, 12)} is one of ours`);
    return r;
  };

  async function connectUp(extra: string[]): Promise<{ session: ClientSession; path: PathHop[]; control: string }> {
    seq++;
    const control = join(net!.dir, `client-${seq}.sock`);
    const args = [
      node, distBin(CLIENT_CLI), 'connect', '--bootstrap', bootstrap, '--chain-rpc', rpc(),
      '--wallet', wallet.wallet, '--password-file', wallet.passwordFile, '--budget', DEFAULT_BUDGET.toString(),
      '--hops', '3', '--allow-same-subnet', '--guard-file', join(net!.dir, 'guards.json'),
      '--control', control, '--tun', CLIENT_TUN, '--no-dns', '--json', '--kill-switch', ...extra,
    ];
    const proc = net!.spawn(net!.client, args, { label: `client:connect-${seq}` });
    const up = (await proc.waitForEvent('up', 90_000)) as UpEvent;
    assert.equal(up.killSwitch, true);
    const pathEv = proc.lines('stdout').map(parseJsonObject).find((o) => o?.['event'] === 'progress' && o['step'] === 'path');
    assert.ok(pathEv, 'a path progress event');
    return { session: new ClientSession(net!, proc, up, control, CLIENT_TUN), path: pathEv['path'] as PathHop[], control };
  }

  /** The internet host's view of the tunnel's source address (undefined if unreachable). */
  async function remoteSeen(maxTimeS = 10): Promise<string | undefined> {
    const r = await net!.exec(net!.client, ['curl', '-sS', '--fail', '--max-time', String(maxTimeS), inetUrl('/ip')], { allowFail: true, timeoutMs: (maxTimeS + 10) * 1000 });
    if (r.code !== 0) return undefined;
    return (JSON.parse(r.stdout) as { remote?: string }).remote;
  }

  const channelIds = (proc: Proc): string[] => [...new Set(events(proc, 'channels').flatMap((e) => (e['hops'] as Array<{ channelId: string }>).map((h) => h.channelId)))];

  async function killRelay(r: Relay): Promise<void> {
    r.proc.signal('SIGKILL');
    await r.proc.exited;
  }

  async function restartRelay(r: Relay): Promise<void> {
    const proc = net!.procs.spawn(`${r.host.name}:relay-restarted`, r.proc.argv);
    await proc.waitForEvent('listening', 30_000);
    r.proc = proc;
  }

  /** Until the bootstrap peer hands a client all five relays (a restarted bootstrap relay re-learns them first). */
  async function allListed(): Promise<void> {
    await waitFor('the client can list all five relays', async () => {
      const r = await net!.exec(net!.client, [node, distBin(CLIENT_CLI), 'relays', '--chain-rpc', rpc(), '--bootstrap', bootstrap, '--no-ping', '--json'], { allowFail: true, timeoutMs: 30_000 });
      const o = r.stdout.trim().split('\n').map(parseJsonObject).find((x) => x?.['event'] === 'relays');
      return ((o?.['relays'] as unknown[] | undefined) ?? []).length === relays.length;
    }, 60_000);
  }

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`this suite ${why}`);
    net = await Testnet.create({ prefix: PREFIX, relays: COUNTRIES.length, chain: true, handleSignals: false });
    chain = await ChainNet.start(net, { shards: 1, group: 1, auditors: 1, accounts: COUNTRIES.length + 1 });
    await chain.waitReady();
    const accounts = chain.devnet.accounts;
    const regs = await Promise.all(
      net.relays.map(async (host, i) => {
        const keyFile = join(net!.dir, `${host.name}.key.json`);
        const onionKey = await keygen(net!, host, keyFile);
        const kp = accounts[i]!;
        const chainKey = writeChainKey(net!, host.name, kp);
        await registerRelay(net!, chain!, { host, keyFile: chainKey, address: kp.address, onionKey, endpoint: `${host.ip}:${RELAY_PORT}`, rpcUrl: rpc(), pricePerGiB: PRICE });
        return { host, keyFile, onionKey, chainKey, address: kp.address };
      }),
    );
    const start = async (i: number, boot: string[]): Promise<Relay> => {
      const g = regs[i]!;
      const rn = await startRelay(net!, g.host, {
        exit: true,
        key: { file: g.keyFile, publicKey: g.onionKey },
        address: g.address,
        pricePerGiB: PRICE,
        timeoutMs: 30_000,
        extraArgs: [
          '--chain-rpc', rpc(), '--node-key', g.chainKey, '--price-per-gib', PRICE.toString(),
          '--p2p-listen', `/ip4/${g.host.ip}/tcp/${P2P_PORT}`, '--country', COUNTRIES[i]!, '--operator', g.address,
          '--peer-key', join(net!.dir, `${g.host.name}.peer.key`),
          ...(boot.length > 0 ? ['--bootstrap', boot.join(',')] : []),
          '--json', '--stats-interval', '0',
        ],
      });
      return { host: g.host, address: g.address, chainKey: g.chainKey, proc: rn.proc };
    };
    const r0 = await start(0, []);
    const listening = r0.proc.lines('stdout').map(parseJsonObject).find((o) => o?.['event'] === 'listening');
    const disc = listening?.['discovery'] as { multiaddrs: string[] } | undefined;
    assert.ok(disc && disc.multiaddrs.length > 0, 'the bootstrap relay names its multiaddrs');
    bootstrap = disc.multiaddrs.find((m) => m.includes(`/ip4/${r0.host.ip}/`)) ?? disc.multiaddrs[0]!;
    relays = [r0, ...(await Promise.all(COUNTRIES.slice(1).map((_, j) => start(j + 1, [bootstrap]))))];
    wallet = await writeClientWallet(net, accounts[COUNTRIES.length]!);
    await allListed();
  });

  after(async () => {
    await chain?.stop();
    await net?.teardown();
  });

  test('1) kill switch + dead exit, no reconnect: the client stops, the kill switch stays, the channels still close on chain', async () => {
    const { session, path, control } = await connectUp([]);
    assert.equal(await remoteSeen(), byAddress(path[2]!.address).host.ip, 'traffic leaves through the chosen exit');
    const ids = channelIds(session.proc);
    assert.equal(ids.length, 3, 'one channel per hop');
    const exit = byAddress(path[2]!.address);
    await killRelay(exit);
    const ex = await Promise.race([session.proc.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000))]);
    assert.ok(ex, 'the client stopped on its own');
    assert.equal(ex.code, 1);
    const down = events(session.proc, 'down').at(-1);
    assert.equal(down?.['killSwitchKept'], true, JSON.stringify(down));
    const settled = events(session.proc, 'settled').at(-1);
    assert.ok(settled, 'a settled event');
    assert.equal(settled['error'], undefined, `channel closes reached the chain: ${JSON.stringify(settled)}`);
    assert.equal((settled['closeTxs'] as string[]).length, 3);
    for (const id of ids) await waitFor(`channel ${id.slice(0, 8)} closing on chain`, async () => (await getChannel(chain!, rpc(), id)).status === 'closing', 30_000);
    // Still fail-closed: the table is there and traffic outside the tunnel is dropped.
    const tables = await net!.exec(net!.client, ['nft', 'list', 'tables'], { timeoutMs: 10_000 });
    assert.match(tables.stdout, /table inet topvpn_killswitch/);
    assert.equal(await remoteSeen(3), undefined, 'no traffic leaves while the kill switch stays');
    const reset = await net!.exec(net!.client, [node, distBin(CLIENT_CLI), 'reset', '--control', control, '--json'], { timeoutMs: 20_000 });
    assert.equal(parseJsonObject(reset.stdout.trim().split('\n').pop() ?? '')?.['killSwitchRemoved'], true, reset.stdout);
    assert.doesNotMatch((await net!.exec(net!.client, ['nft', 'list', 'tables'], { timeoutMs: 10_000 })).stdout, /topvpn_killswitch/);
    await restartRelay(exit);
    await allListed();
  });

  test('2) kill switch + reconnect: a dead exit is replaced by a paid new exit from the directory; channels closed and claimed', async () => {
    const { session, path } = await connectUp(['--reconnect', '--recheck', '5']);
    try {
      const exit = byAddress(path[2]!.address);
      assert.equal(await remoteSeen(), exit.host.ip);
      // Some traffic on the first circuit so that every hop has receipts to claim.
      await net!.exec(net!.client, ['curl', '-sS', '--fail', '--max-time', '20', '-o', '/dev/null', inetUrl('/bytes/3000000')], { timeoutMs: 30_000 });
      const t0 = Date.now();
      await killRelay(exit);
      const rec = await session.proc.waitForEvent('reconnected', 90_000);
      console.log(`# exit killed → reconnected in ${Date.now() - t0} ms (build ${String(rec['buildMs'])} ms)`);
      const reconnecting = events(session.proc, 'reconnecting');
      const swap = reconnecting.map((e) => e['replaced'] as { role: string; from: string; to: string } | undefined).find((x) => x !== undefined);
      assert.ok(swap, `a hop was replaced: ${JSON.stringify(reconnecting)}`);
      assert.equal(swap.role, 'exit');
      assert.equal(swap.from, path[2]!.endpoint);
      assert.ok(!path.some((h) => h.endpoint === swap.to), 'the new exit is off the old path');
      const st = await session.status();
      const now = (st['path'] as Array<{ endpoint: string }>).map((p) => p.endpoint);
      assert.deepEqual(now.slice(0, 2), path.slice(0, 2).map((h) => h.endpoint), 'entry and middle kept');
      assert.equal(now[2], swap.to);
      const newExit = relays.find((r) => `${r.host.ip}:${RELAY_PORT}` === swap.to);
      assert.ok(newExit && newExit !== exit);
      let seen: string | undefined;
      await waitFor('HTTP through the new exit', async () => (seen = await remoteSeen(5)) === newExit.host.ip, 30_000);
      assert.equal(seen, newExit.host.ip);
      const chEvents = events(session.proc, 'channels');
      const lastHops = chEvents.at(-1)!['hops'] as Array<{ relay: string; channelId: string }>;
      assert.equal(lastHops[2]!.relay, newExit.address, 'the new exit is paid through a channel of its own');
      // Opened during the re-path (through the chain RPC, kill switch up): not a channel of connect time.
      assert.ok(chEvents.length >= 2, 'a channels event after the re-path');
      assert.ok(!(chEvents[0]!['hops'] as Array<{ channelId: string }>).some((h) => h.channelId === lastHops[2]!.channelId), 'a new channel');
      assert.equal((await getChannel(chain!, rpc(), lastHops[2]!.channelId)).status, 'open', 'the new channel is open on chain');
      await net!.exec(net!.client, ['curl', '-sS', '--fail', '--max-time', '20', '-o', '/dev/null', inetUrl('/bytes/2000000')], { timeoutMs: 30_000 });
      const ids = channelIds(session.proc);
      const { exit: ex } = await session.disconnect(60_000);
      assert.equal(ex.code, 0);
      const settled = events(session.proc, 'settled').at(-1)!;
      assert.equal(settled['error'], undefined, JSON.stringify(settled));
      const replaced = settled['replaced'] as Array<{ channelId: string; relay: string; promised: string }> | undefined;
      assert.equal(replaced?.[0]?.relay, exit.address, 'the dead exit\'s channel is reported as replaced');
      for (const id of ids) await waitFor(`channel ${id.slice(0, 8)} closing on chain`, async () => (await getChannel(chain!, rpc(), id)).status === 'closing', 30_000);
      // Each live relay's watchtower claims exactly the last receipt the client signed it.
      for (const c of settled['channels'] as Array<{ channelId: string; relay: string; promised: string }>) {
        assert.ok(BigInt(c.promised) > 0n, `hop ${c.relay.slice(0, 8)} was paid`);
        await waitFor(`claim on ${c.channelId.slice(0, 8)}`, async () => (await getChannel(chain!, rpc(), c.channelId)).claimed === BigInt(c.promised), 60_000);
      }
      // The dead exit claimed nothing past what it was promised.
      const old = await getChannel(chain!, rpc(), replaced![0]!.channelId);
      assert.ok(old.claimed <= BigInt(replaced![0]!.promised));
    } finally {
      if (session.proc.running) await session.disconnect(60_000);
    }
    await restartRelay(byAddress(path[2]!.address));
    await allListed();
  });

  test('3) the exit unregisters (relay-left) under --reconnect: re-path to a paid new exit instead of exiting', async () => {
    const { session, path } = await connectUp(['--reconnect', '--recheck', '2']);
    try {
      const exit = byAddress(path[2]!.address);
      assert.equal(await remoteSeen(), exit.host.ip);
      const u = await net!.exec(exit.host, [node, distBin(RELAY_CLI), 'unregister', '--chain-rpc', rpc(), '--node-key', exit.chainKey, '--json'], { timeoutMs: 90_000 });
      assert.equal(u.code, 0, u.stderr.slice(-300));
      const left = await session.proc.waitForLine((l) => {
        const o = parseJsonObject(l);
        return o?.['event'] === 'progress' && o['step'] === 'relay-left' ? o : undefined;
      }, { timeoutMs: 60_000 });
      assert.equal(left['relay'], exit.address);
      assert.equal(left['action'], 'repath');
      await session.proc.waitForEvent('reconnected', 60_000);
      assert.ok(session.proc.running, 'the client keeps running');
      const st = await session.status();
      const now = (st['path'] as Array<{ endpoint: string }>).map((p) => p.endpoint);
      const ks = now[2] === path[2]!.endpoint ? (await net!.exec(net!.client, ['sh', '-c', 'nft list ruleset; ip neigh; ip route'], { allowFail: true, timeoutMs: 10_000 })).stdout : '';
      const why = `${session.proc.lines('stderr').filter((l) => /replac|channel|relay source|left/.test(l)).slice(-8).join('\n')}\n${ks}`;
      assert.notEqual(now[2], path[2]!.endpoint, `a new exit; client log:\n${why}`);
      const newExit = relays.find((r) => `${r.host.ip}:${RELAY_PORT}` === now[2]);
      assert.ok(newExit);
      await waitFor('HTTP through the new exit', async () => (await remoteSeen(5)) === newExit.host.ip, 30_000);
      const { exit: ex } = await session.disconnect(60_000);
      assert.equal(ex.code, 0);
      const settled = events(session.proc, 'settled').at(-1)!;
      assert.equal(settled['error'], undefined, JSON.stringify(settled));
      const replaced = settled['replaced'] as Array<{ channelId: string; relay: string }> | undefined;
      assert.equal(replaced?.[0]?.relay, exit.address, 'the departed exit\'s channel is closed with the rest');
      for (const id of channelIds(session.proc)) await waitFor(`channel ${id.slice(0, 8)} closing on chain`, async () => (await getChannel(chain!, rpc(), id)).status === 'closing', 30_000);
    } finally {
      if (session.proc.running) await session.disconnect(60_000);
    }
  });
});
