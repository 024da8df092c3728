/**
 * The operator and user CLIs against a real devnet (chain/devnet node processes): `toprelay
 * register` (deposit, price, endpoint → the beacon lists the relay), a second register refused
 * (exit 1), `toprelay start` from relay.yaml plus an in-process libp2p publisher of the relay's
 * descriptor, `topvpn relays` finding it (stake from chain, latency = handshake round trip to
 * the running relay), `topvpn wallet balance`, `topvpn channels` list/close over RPC, and
 * `toprelay unregister` (returns-at height). Run under `flock /tmp/topvpn-heavy.lock`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { UNIT } from '../../chain/state/index.js';
import { ed25519Sign } from '../../chain/state/crypto.js';
import { ClientChain, seedSigner } from '../../client/payments/chain.js';
import { RpcChainView } from '../../discovery/chain-view-rpc.js';
import { Directory } from '../../discovery/directory.js';
import { DiscoveryNode } from '../../discovery/node.js';
import { DescriptorPublisher } from '../../discovery/publisher.js';
import { Libp2pTransport } from '../../discovery/transport-libp2p.js';
import { CLIENT_CLI, Daemon, killAll, parseJsonLines, RELAY_CLI } from './cli-util.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  json: Array<Record<string, unknown>>;
}

/** Runs a CLI asynchronously (the devnet lives in this process's event loop). */
function cli(bin: string, args: string[], env: Record<string, string>, input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.stdin.end(input);
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ status: code, stdout, stderr, json: parseJsonLines(stdout) });
    });
  });
}

function only(r: Run, event: string): Record<string, unknown> {
  const e = r.json.find((x) => x.event === event);
  assert.ok(e, `expected ${event}: stdout ${r.stdout} stderr ${r.stderr}`);
  return e;
}

async function finalHeight(url: string, chain: string): Promise<number> {
  const s = await rpcCall<{ chains: Array<{ chain: string; finalHeight: number }> }>(url, 'chain_status');
  return s.chains.find((c) => c.chain === chain)?.finalHeight ?? -1;
}

test('devnet: register, relays, wallet balance, channels list/close, unregister through the built CLIs', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvl-clidev-'));
  const env = { HOME: join(dir, 'home'), XDG_CONFIG_HOME: join(dir, 'xdg') };
  const d = await Devnet.create({ dir: join(dir, 'devnet'), shards: 1, group: 4, auditors: 4, accounts: 3, logLevel: 'warn' });
  let pub: { node: DiscoveryNode; transport: Libp2pTransport; directory: Directory; publisher: DescriptorPublisher } | undefined;
  try {
    await d.start();
    const url = d.rpcUrls()[0]!;
    for (let i = 0; ; i++) {
      if ((await finalHeight(url, 'shard-0').catch(() => -1)) >= 2 && (await finalHeight(url, 'beacon').catch(() => -1)) >= 2) break;
      assert.ok(i < 600, 'devnet did not finalize blocks');
      await new Promise((r) => setTimeout(r, 200));
    }
    const [relayK, payerK] = d.accounts;

    // relay identity: init, then use a funded account as its node key
    const rdir = join(dir, 'relay');
    const init = await cli(RELAY_CLI, ['init', '--dir', rdir, '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0', '--chain-rpc', url, '--region', 'de', '--json'], env);
    assert.equal(init.status, 0, init.stderr);
    const onionPub = String(only(init, 'init').onionPublicKey);
    writeFileSync(join(rdir, 'node-key.json'), `${JSON.stringify({ address: relayK!.address, seed: relayK!.seedHex })}\n`, { mode: 0o600 });
    const cfg = join(rdir, 'relay.yaml');

    // start the relay from the file (paid: chain-rpc, node-key, price-per-gib all in it)
    const relay = new Daemon(RELAY_CLI, ['start', '--config', cfg, '--log-level', 'warn', '--json'], { env });
    const up = await relay.waitEvent('listening', 30_000);
    const listen = String(up.listen);

    const reg = await cli(RELAY_CLI, ['register', '--config', cfg, '--endpoint', listen, '--deposit', '200000', '--json'], env);
    assert.equal(reg.status, 0, reg.stderr);
    const r = only(reg, 'registered');
    assert.equal(r.txStatus, 'final');
    const node = r.node as Record<string, unknown>;
    assert.equal(node.status, 'active');
    assert.equal(node.deposit, (200_000n * UNIT).toString());
    assert.deepEqual(node.endpoints, [listen]);
    assert.equal(node.price, '500000');
    const again = await cli(RELAY_CLI, ['register', '--config', cfg, '--endpoint', listen, '--deposit', '200000', '--json'], env);
    assert.equal(again.status, 1, 'already registered: runtime failure');
    assert.equal(only(again, 'error').error, 'AlreadyRegisteredError');

    const st = await cli(RELAY_CLI, ['status', '--config', cfg, '--metrics', String(up.metrics), '--sample', '0', '--json'], env);
    assert.equal(st.status, 0, st.stderr);
    const chainInfo = only(st, 'status').chain as Record<string, unknown>;
    assert.equal((chainInfo.node as Record<string, unknown>).status, 'active');
    assert.ok(Number(chainInfo.beaconHeight) >= 2);

    // publish the relay's descriptor over libp2p (what the relay daemon's discovery does)
    const pnode = await DiscoveryNode.create({ listen: ['/ip4/127.0.0.1/tcp/0'] });
    const ptransport = await Libp2pTransport.create(pnode);
    const pdirectory = new Directory({ chainId: d.chainId, chain: new RpcChainView(url) });
    await pdirectory.start();
    pdirectory.attach(ptransport);
    await pnode.start();
    const seed = Buffer.from(relayK!.seedHex, 'hex');
    const publisher = new DescriptorPublisher({
      transport: ptransport,
      directory: pdirectory,
      sign: (m) => ed25519Sign(seed, m),
      template: () => ({ version: 1, chainId: d.chainId, nodeAddress: relayK!.address, peerId: pnode.peerId, onionKey: onionPub, endpoints: { udp: listen }, pricePerGiB: 500_000n, region: 'DE', bandwidthBps: 100_000_000, exitPolicy: [], operator: relayK!.address, family: [] }),
    });
    await publisher.start();
    pub = { node: pnode, transport: ptransport, directory: pdirectory, publisher };
    const boot = pnode.multiaddrs()[0]!;
    const rel = await cli(CLIENT_CLI, ['relays', '--chain-rpc', url, '--bootstrap', boot, '--sort', 'latency', '--json'], env);
    assert.equal(rel.status, 0, rel.stderr);
    const list = only(rel, 'relays').relays as Array<Record<string, unknown>>;
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.equal(list[0]!.nodeAddress, relayK!.address);
    assert.equal(list[0]!.country, 'DE');
    assert.equal(list[0]!.stake, (200_000n * UNIT).toString(), 'stake read from chain');
    assert.equal(typeof list[0]!.latencyMs, 'number', 'the running relay answered the handshake');
    const cheap = await cli(CLIENT_CLI, ['relays', '--chain-rpc', url, '--bootstrap', boot, '--max-price', '0.1', '--no-ping', '--json'], env);
    assert.equal((only(cheap, 'relays').relays as unknown[]).length, 0, '--max-price 0.1 TOP excludes a 0.5 TOP relay');
    const exits = await cli(CLIENT_CLI, ['relays', '--chain-rpc', url, '--bootstrap', boot, '--exit-country', 'de', '--no-ping', '--json'], env);
    assert.equal((only(exits, 'relays').relays as unknown[]).length, 0, 'not an exit');

    // wallet balance + channels
    const w = join(dir, 'wallet.json');
    const imp = await cli(CLIENT_CLI, ['wallet', 'import', '--wallet', w, '--json'], { ...env, TOPVPN_WALLET_PASSWORD: 'pw' }, `${payerK!.seedHex}\n`);
    assert.equal(imp.status, 0, imp.stderr);
    assert.equal(only(imp, 'wallet-imported').address, payerK!.address);
    const acct = await rpcCall<{ balance: string }>(url, 'account_get', [payerK!.address]);
    const bal = await cli(CLIENT_CLI, ['wallet', 'balance', '--wallet', w, '--chain-rpc', url, '--json'], env);
    assert.equal(bal.status, 0, bal.stderr);
    assert.equal(only(bal, 'wallet-balance').balance, acct.balance);

    const payer = await ClientChain.connect({ url, signer: seedSigner(Buffer.from(payerK!.seedHex, 'hex')), fee: UNIT / 100n });
    const a = await payer.openChannel(relayK!.address, 5n * UNIT);
    const b = await payer.openChannel(relayK!.address, 7n * UNIT);
    await payer.waitFinal(a.txHash);
    await payer.waitFinal(b.txHash);
    const ls = await cli(CLIENT_CLI, ['channels', '--wallet', w, '--chain-rpc', url, '--json'], env);
    assert.equal(ls.status, 0, ls.stderr);
    const chans = only(ls, 'channels').channels as Array<Record<string, unknown>>;
    assert.deepEqual(chans.map((c) => [c.id, c.status, c.deposit]), [[a.channelId, 'open', (5n * UNIT).toString()], [b.channelId, 'open', (7n * UNIT).toString()]]);
    const wrong = await cli(CLIENT_CLI, ['channels', 'close', a.channelId, '--wallet', w, '--chain-rpc', url, '--json'], { ...env, TOPVPN_WALLET_PASSWORD: 'nope' });
    assert.equal(wrong.status, 1);
    const one = await cli(CLIENT_CLI, ['channels', 'close', a.channelId, '--wallet', w, '--chain-rpc', url, '--json'], { ...env, TOPVPN_WALLET_PASSWORD: 'pw' });
    assert.equal(one.status, 0, one.stderr);
    assert.deepEqual((only(one, 'channels-closed').results as Array<Record<string, unknown>>).map((x) => [x.channelId, x.status]), [[a.channelId, 'final']]);
    const all = await cli(CLIENT_CLI, ['channels', 'close', '--all', '--wallet', w, '--chain-rpc', url, '--json'], { ...env, TOPVPN_WALLET_PASSWORD: 'pw' });
    assert.equal(all.status, 0, all.stderr);
    assert.deepEqual((only(all, 'channels-closed').results as Array<Record<string, unknown>>).map((x) => x.channelId), [b.channelId], 'only the channel still open');
    const ls2 = await cli(CLIENT_CLI, ['channels', 'list', '--wallet', w, '--chain-rpc', url, '--json'], env);
    assert.deepEqual((only(ls2, 'channels').channels as Array<Record<string, unknown>>).map((c) => c.status), ['closing', 'closing']);

    // claim through the control socket (relay.yaml's control): nothing was carried, nothing owed
    const cl = await cli(RELAY_CLI, ['claim', '--config', cfg, '--json'], env);
    assert.equal(cl.status, 0, cl.stderr);
    const c = only(cl, 'claimed');
    assert.equal(c.newlyClaimed, '0');
    assert.equal((c.after as Record<string, unknown>).address, relayK!.address);

    // unregister: deposit returns after the unbonding delay
    relay.signal('SIGTERM');
    assert.equal(await relay.exited, 0);
    const un = await cli(RELAY_CLI, ['unregister', '--config', cfg, '--json'], env);
    assert.equal(un.status, 0, un.stderr);
    const u = only(un, 'unregistered');
    assert.equal(u.status, 'unbonding');
    assert.equal(typeof u.returnsAtHeight, 'number');
    assert.ok(Number(u.returnsAtHeight) > Number(u.beaconHeight ?? 0) - 1);
    const un2 = await cli(RELAY_CLI, ['unregister', '--config', cfg, '--json'], env);
    assert.equal(un2.status, 1, 'already unbonding');
  } finally {
    if (pub) {
      pub.publisher.stop();
      await pub.directory.stop();
      await pub.transport.close();
      await pub.node.stop();
    }
    killAll();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
