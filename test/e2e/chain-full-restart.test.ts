/**
 * End to end: every node process of a devnet killed at once (SIGKILL: a power cut) while
 * transfers are in flight, then all restarted from their LevelDB. Each group's last certified
 * block is uncommitted at any moment (2-chain commit), so after such a restart its only copies
 * are the ones the validators stored with their safety state; every chain must finalize again,
 * the txs sent before the cut must apply exactly once, and a transfer sent after it must too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Devnet } from '../../chain/devnet/devnet.js';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { homeChain, UNIT } from '../../chain/state/index.js';
import type { KeyPair } from '../../chain/node/keys.js';
import { waitFor } from '../helpers/wait.js';
import { allFinalAt, assertSupplyOk, balanceOf, chainOf, devnetTransfer as transfer } from '../helpers/chain-rpc.js';

const CHAINS = ['beacon', 'shard-0', 'shard-1'];

test('devnet of node processes: every node killed at once and restarted; every chain finalizes again and no transfer is lost or applied twice', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tvc-full-restart-'));
  const d = await Devnet.create({ dir, shards: 2, group: 4, auditors: 4, accounts: 8 });
  try {
    await d.start();
    const urls = d.rpcUrls();
    await waitFor('every node sees final blocks on every chain', async () => {
      for (const c of CHAINS) if (!(await allFinalAt(urls, 2, c))) return false;
      return true;
    });
    const s0 = d.accounts.filter((a) => homeChain(a.address, 2) === 'shard-0');
    const s1 = d.accounts.filter((a) => homeChain(a.address, 2) === 'shard-1');
    const [a, b] = s0;
    const [x, y] = s1;
    const fee = UNIT / 100n;
    const expect = new Map<string, bigint>();
    for (const k of [a!, b!, x!, y!]) expect.set(k.address, await balanceOf(urls[0]!, k.address));
    const move = (from: KeyPair, to: KeyPair, top: bigint): void => {
      expect.set(from.address, expect.get(from.address)! - top * UNIT - fee);
      expect.set(to.address, expect.get(to.address)! + top * UNIT);
    };
    const balancesMatch = async (nodeUrls: string[]): Promise<boolean> => {
      for (const u of nodeUrls) for (const [addr, v] of expect) if ((await balanceOf(u, addr)) !== v) return false;
      return true;
    };

    // Transfers within and across shards, then the cut while the last of them are in flight.
    for (let n = 0; n < 6; n++) {
      await rpcCall<string>(urls[n % 4]!, 'tx_submit', [transfer(d, a!, n % 2 === 0 ? b!.address : x!.address, 1n, n)]);
      move(a!, n % 2 === 0 ? b! : x!, 1n);
      await rpcCall<string>(urls[4 + (n % 4)]!, 'tx_submit', [transfer(d, y!, n % 2 === 0 ? x!.address : b!.address, 2n, n)]);
      move(y!, n % 2 === 0 ? x! : b!, 2n);
      await new Promise((r) => setTimeout(r, 150));
    }
    await Promise.all(d.nodes.map((_, i) => d.kill(i)));
    assert.equal(d.pids().length, 0);

    // All restarted from their stores, together (the devnet restarted).
    await d.start();
    const before = new Map<string, number>();
    for (const c of CHAINS) before.set(c, (await chainOf(urls[0]!, c)).finalHeight);
    await waitFor(
      'every chain finalizes again on every node',
      async () => {
        for (const c of CHAINS) if (!(await allFinalAt(urls, before.get(c)! + 5, c))) return false;
        return true;
      },
      120_000,
    );
    // Whatever the cut caught in a mempool was lost with it (a mempool is memory); a tx that was
    // committed stays. Send every pre-cut tx again, in nonce order to one node: one already
    // applied is refused by its nonce, so each applies exactly once.
    const resend = async (from: KeyPair, to: (n: number) => KeyPair, top: bigint, base: number): Promise<void> => {
      for (let n = 0; n < 6; n++) {
        await rpcCall<string>(urls[base]!, 'tx_submit', [transfer(d, from, to(n).address, top, n)]).catch((e: Error) => assert.match(e.message, /^nonce:/, `resent tx ${n} refused for another reason`));
      }
    };
    await resend(a!, (n) => (n % 2 === 0 ? b! : x!), 1n, 0);
    await resend(y!, (n) => (n % 2 === 0 ? x! : b!), 2n, 4);
    // A new cross-shard transfer after the restart.
    await rpcCall<string>(urls[9]!, 'tx_submit', [transfer(d, b!, y!.address, 5n, 0)]);
    move(b!, y!, 5n);
    await waitFor('every transfer applied exactly once, on every node', () => balancesMatch(urls), 90_000);
    await assertSupplyOk(urls);
  } catch (e) {
    // What the nodes saw, for the CI log: each chain's head/final height per node (in the error,
    // which the runner's summary repeats), and the distinct warnings and errors of all node logs.
    const heights: string[] = [];
    for (const c of CHAINS) heights.push(`${c} head/final per node: ${(await Promise.all(d.rpcUrls().map((u) => chainOf(u, c).then((r) => `${r.height}/${r.finalHeight}`, () => 'down')))).join(' ')}`);
    for (const n of d.nodes) {
      const lines = readFileSync(join(n.dir, 'node.log'), 'utf8').split('\n').filter((l) => /"level":[45]/.test(l));
      for (const l of [...new Set(lines.map((l) => l.replace(/"time":\d+,/, '').slice(0, 300)))].slice(0, 10)) console.log(n.role, l);
    }
    if (e instanceof Error) e.message += `\n${heights.join('\n')}`;
    throw e;
  } finally {
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
