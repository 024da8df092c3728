/**
 * Network partitions of the chain devnet: every node process in its own network namespace
 * (bench/faults-netns.ts), the same load as bench/faults-chain.ts (intra/cross-shard transfers,
 * channel open/claim/close/finalize), and per partition:
 *  1. cut a minority (default: a shard-0 validator and an auditor+beacon member) off the bridge
 *     (`ip link set <port> down` in the bridge namespace) while the load goes on against the
 *     majority;
 *  2. check the cut is real (a minority node cannot ping the majority) and that, after a
 *     2 s grace for messages already received, every minority node's final heights stay put while the
 *     majority's final heights grow on every chain (finality continues without the minority);
 *  3. heal (port up): every node, the minority included, reaches the majority's final heights
 *     + 2 on every chain (catch-up), a sample of txs final before the cut keeps its block and
 *     position on every node, and the supply invariant holds on every node.
 * At the end every tracked final tx is re-checked on all nodes, and each chain has one block
 * hash + state root at the lowest common final height on every node.
 *
 * Needs root (ip netns). Library: `runPartitions(opts)`. Script:
 *   node dist/bench/faults-partition.js [--partitions N] [--cut-ms MS] [--seed S]
 * prints one JSON line (the report). Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { Devnet } from '../chain/devnet/devnet.js';
import { devnetClass, Harness, mulberry32, sleep, snapshotDist } from './faults-chain.js';
import { NodeNet } from './faults-netns.js';

export class PartitionFaultsError extends Error {
  override name = 'PartitionFaultsError';
}

export interface PartitionOptions {
  /** Namespace prefix (default 'tn8'); namespaces <prefix>-br and <prefix>-n<i>. */
  prefix?: string;
  /** /24 the nodes live in (default '198.18.180'). */
  subnet?: string;
  /** Number of partitions (default 2). */
  partitions?: number;
  /**
   * Minorities cut off, used in turn (default [[3, 11], [6, 8]]: one validator of a shard plus
   * one auditor+beacon member, each of a committee of 4, so every committee keeps 3 of 4).
   */
  minorities?: ReadonlyArray<readonly number[]>;
  /** How long a minority stays cut off (default 10000 ms). */
  cutMs?: number;
  /** Bound on catch-up after a heal (default 90000 ms). */
  recoverTimeoutMs?: number;
  /** Load settle time between partitions (default 2000 ms). */
  settleMs?: number;
  /** Final txs re-checked on every node after each heal (default 16). */
  sampleSize?: number;
  seed?: number;
  dir?: string;
  log?: (msg: string) => void;
  /** Run the nodes from a private copy of dist/chain + dist/common (default true). */
  snapshotDist?: boolean;
}

export interface PartitionRecord {
  minority: number[];
  roles: string[];
  /** Majority final-height growth per chain while the minority was cut off (after the grace). */
  majority_progress: Record<string, number>;
  /** Largest final-height growth of any minority node per chain over the same window (0 when isolated). */
  minority_progress: Record<string, number>;
  /** Minority could still ping a majority node while cut (must be false). */
  leaked: boolean;
  txs_final_during: number;
  /** ms from heal until every node had caught up (null: it did not). */
  catchup_ms: number | null;
}

export interface PartitionReport {
  partitions: number;
  partitions_healed: number;
  partition_mode: 'link-down';
  records: PartitionRecord[];
  supply_violations: number;
  lost_txs: number;
  reordered_txs: number;
  txs_submitted: number;
  txs_final: number;
  cross_shard_final: number;
  channel_ops_final: number;
  tx_checks: number;
  state_roots_agree: boolean;
  common_final_heights: Record<string, number>;
  catchup_ms_max: number;
  duration_s: number;
  failures: string[];
}

/** Final height per chain of node i (throws when it does not answer). */
async function finals(h: Harness, i: number): Promise<Map<string, number>> {
  return new Map([...(await h.status(i, 3))].map(([c, v]) => [c, v.final]));
}

/** Runs the namespaced devnet, the load and the partitions; always removes what it made. */
export async function runPartitions(opts: PartitionOptions = {}): Promise<PartitionReport> {
  const t0 = Date.now();
  const log = opts.log ?? ((): void => {});
  const rnd = mulberry32(opts.seed ?? 1);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tvz-partition-'));
  const nParts = opts.partitions ?? 2;
  const minorities = opts.minorities ?? [[3, 11], [6, 8]];
  const cutMs = opts.cutMs ?? 10_000;
  const recoverTimeoutMs = opts.recoverTimeoutMs ?? 90_000;
  const settleMs = opts.settleMs ?? 2000;
  const sampleSize = opts.sampleSize ?? 16;
  const snap = opts.snapshotDist === false ? null : snapshotDist();
  const records: PartitionRecord[] = [];
  let net: NodeNet | null = null;
  let d: Devnet | null = null;
  let h: Harness | null = null;
  const workers: Promise<void>[] = [];
  let crashed = false;
  let partitionsHealed = 0;
  let end = { stateRootsAgree: false, common: {} as Record<string, number> };
  const count = 12;
  try {
    net = await NodeNet.create({ prefix: opts.prefix ?? 'tn8', subnet: opts.subnet ?? '198.18.180', count, dir });
    const nn = net;
    const DevnetCls = await devnetClass(snap);
    d = await DevnetCls.create({ dir, shards: 2, group: 4, auditors: 4, accounts: 12, logLevel: 'warn', basePort: 30000, hosts: nn.ips, wrapFor: (i) => nn.wrap(i) });
    if (d.nodes.length !== count) throw new PartitionFaultsError(`devnet has ${d.nodes.length} nodes, namespaces made for ${count}`);
    await d.start();
    await nn.startRpcProxies(d.rpcUrls());
    log(`devnet up: ${d.nodes.length} nodes, one namespace each (${nn.ips[0]}…${nn.ips[count - 1]}), in ${dir}`);
    const hh = new Harness(d, rnd, log, nn.call);
    h = hh;
    const chains = ['beacon', ...Array.from({ length: d.shards }, (_, i) => `shard-${i}`)];
    if ((await hh.recovered(new Map(chains.map((c) => [c, 0])), 60_000)) === null) throw new PartitionFaultsError('devnet did not reach final height 2 on every chain');
    workers.push(...hh.startLoad());
    await sleep(settleMs * 2);

    for (let p = 0; p < nParts; p++) {
      const minority = [...minorities[p % minorities.length]!];
      const majority = d.nodes.map((n) => n.index).filter((i) => !minority.includes(i));
      const label = `partition ${p + 1} (nodes ${minority.join(',')})`;
      const snapshot = hh.sample(sampleSize);
      const finalsBefore = hh.finals.size;
      for (const i of minority) hh.down.add(i);
      await nn.cut(minority);
      log(`${label}: cut off (${minority.map((i) => d!.nodes[i]!.role).join(', ')})`);
      const leaked = await nn.reachable(minority[0]!, majority[0]!);
      if (leaked) hh.fail(`${label}: node ${minority[0]} still reaches node ${majority[0]} while cut`);
      await sleep(2000); // messages received before the cut but still queued in the nodes
      const minStart = await Promise.all(minority.map((i) => finals(hh, i)));
      const majStart = await hh.maxFinal();
      await sleep(cutMs);
      const minEnd = await Promise.all(minority.map((i) => finals(hh, i)));
      const majEnd = await hh.maxFinal();
      const majority_progress: Record<string, number> = {};
      const minority_progress: Record<string, number> = {};
      for (const c of chains) {
        majority_progress[c] = (majEnd.get(c) ?? 0) - (majStart.get(c) ?? 0);
        minority_progress[c] = Math.max(...minority.map((_, k) => (minEnd[k]!.get(c) ?? 0) - (minStart[k]!.get(c) ?? 0)));
        if (majority_progress[c]! <= 0) hh.fail(`${label}: ${c} did not finalize in the majority while the minority was cut off`);
        if (minority_progress[c]! !== 0) hh.fail(`${label}: a cut-off minority node advanced its final ${c} height by ${minority_progress[c]}`);
      }
      const during = hh.finals.size - finalsBefore;
      await nn.heal(minority);
      for (const i of minority) hh.down.delete(i);
      log(`${label}: healed after ${cutMs} ms; majority finalized ${JSON.stringify(majority_progress)} meanwhile, ${during} txs final`);
      const ms = await hh.afterFault(label, majEnd, snapshot, recoverTimeoutMs);
      if (ms !== null) partitionsHealed++;
      records.push({ minority, roles: minority.map((i) => d!.nodes[i]!.role), majority_progress, minority_progress, leaked, txs_final_during: during, catchup_ms: ms });
      await sleep(settleMs);
    }
    hh.stopping = true;
    await Promise.all(workers);
    end = await hh.endChecks();
  } catch (e) {
    crashed = true;
    throw e;
  } finally {
    if (h) h.stopping = true;
    await Promise.allSettled(workers);
    if (d) await d.stop();
    if (net) await net.destroy();
    const failed = crashed || (h?.failures.length ?? 0) > 0;
    if (ownDir && !failed) rmSync(dir, { recursive: true, force: true });
    else log(`devnet dir kept for inspection: ${dir}`);
    if (snap) rmSync(snap, { recursive: true, force: true });
  }
  const hv = h!;
  const catchups = records.map((r) => r.catchup_ms).filter((x): x is number => x !== null);
  return {
    partitions: records.length,
    partitions_healed: partitionsHealed,
    partition_mode: 'link-down',
    records,
    supply_violations: hv.supplyViolations,
    lost_txs: hv.lost.size,
    reordered_txs: hv.reordered.size,
    txs_submitted: hv.submitted,
    txs_final: hv.finals.size,
    cross_shard_final: hv.crossFinal,
    channel_ops_final: hv.channelFinal,
    tx_checks: hv.txChecks,
    state_roots_agree: end.stateRootsAgree,
    common_final_heights: end.common,
    catchup_ms_max: catchups.length ? Math.max(...catchups) : 0,
    duration_s: Math.round((Date.now() - t0) / 1000),
    failures: hv.failures,
  };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--partitions <n>', 'partitions', '2')
    .option('--cut-ms <ms>', 'how long a minority stays cut off', '10000')
    .option('--seed <n>', 'PRNG seed', '1')
    .option('--prefix <p>', 'network namespace prefix', 'tn8')
    .option('--subnet <a.b.c>', 'the /24 the nodes use (inside 198.18.0.0/15)', '198.18.180')
    .option('--quiet', 'no progress on stderr')
    .parse()
    .opts<{ partitions: string; cutMs: string; seed: string; prefix: string; subnet: string; quiet?: boolean }>();
  const report = await runPartitions({
    partitions: Number(o.partitions),
    cutMs: Number(o.cutMs),
    seed: Number(o.seed),
    prefix: o.prefix,
    subnet: o.subnet,
    ...(o.quiet ? {} : { log: (m: string) => process.stderr.write(`[faults-partition] ${m}\n`) }),
  });
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`faults-partition: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
