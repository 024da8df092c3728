/**
 * Faults, adversaries, bad input and load — one JSON line:
 *   {"kills","kills_recovered","supply_violations","lost_txs","slashed","fuzz_inputs",
 *    "fuzz_crashes","circuits","relay_rss_mb","partitions","partitions_healed", …details}
 *
 * - chain faults: bench/faults-chain.ts on the devnet (node processes; SIGKILL + restart, one
 *   SIGSTOP pause) — kills, kills_recovered, supply_violations, lost_txs;
 * - partitions: bench/faults-partition.ts — each node process in its own network namespace
 *   (prefix tn8b, 198.18.180.0/24; needs root), a minority cut off (link down) and healed —
 *   partitions, partitions_healed (+ its supply_violations and lost txs);
 * - Byzantine processes: bench/faults-byzantine.ts — one validator per committee equivocates,
 *   proposes invalid blocks or withholds votes (chain/node/test-hooks.ts); the equivocator
 *   slashed and jailed on every node counts in `slashed`;
 * - slashing in-process: a cluster of ChainNodes (MemoryNetwork) where one validator of each
 *   shard double-votes once; offenders jailed with a burned deposit on every node's beacon
 *   count in `slashed` too;
 * - dist/bench/fuzz.js and dist/bench/relay-load.js (other benches), run as child processes:
 *   their last JSON line gives fuzz_inputs/fuzz_crashes and circuits/relay_rss_mb; a missing or
 *   failing bench yields null and a reason on stderr.
 *
 * Usage: node dist/bench/faults.js [--kills N] [--partitions N] [--seed S] [--skip-children]
 *        [--skip-partitions] [--skip-byzantine]
 *        [--fuzz-args '--inputs 20000'] [--relay-args '--duration 20']
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { distBin } from '../common/paths.js';
import { runChainFaults, type ChainFaultReport } from './faults-chain.js';
import { runByzantine, type ByzantineReport } from './faults-byzantine.js';
import { runPartitions, type PartitionReport } from './faults-partition.js';
import { startCluster, waitFor } from '../test/unit/chain-node/cluster.js';

export interface SlashReport {
  /** Offenders jailed with slashed > 0 on the beacon of every node. */
  slashed: number;
  offenders: number;
  supply_ok: boolean;
  ms: number;
}

/** In-process cluster (2 shards × 4 validators, 4 auditors); one validator per shard double-votes once. */
export async function runSlashing(timeoutMs = 60_000): Promise<SlashReport> {
  const t0 = Date.now();
  const byz = { 1: { equivocateOn: 'shard-0' as const }, 5: { equivocateOn: 'shard-1' as const } };
  const c = await startCluster({ accounts: 2, byzantine: byz, slashReportStaggerMs: 3000 });
  try {
    const offenders = Object.keys(byz).map((i) => c.dk.nodeKeys[Number(i)]!.address);
    const slashedEverywhere = (a: string): boolean =>
      c.nodes.every((n) => {
        const rec = n.runtime('beacon').state.nodes[a];
        return rec !== undefined && rec.status === 'jailed' && rec.slashed > 0n;
      });
    try {
      await waitFor('offenders slashed on every node', () => offenders.every(slashedEverywhere), timeoutMs);
    } catch {
      // report how many were slashed within the bound
    }
    return {
      slashed: offenders.filter(slashedEverywhere).length,
      offenders: offenders.length,
      supply_ok: c.nodes.every((n) => n.supply().ok),
      ms: Date.now() - t0,
    };
  } finally {
    await c.stopAll();
  }
}

export class ChildBenchError extends Error {
  override name = 'ChildBenchError';
}

/** Runs `node <script> [args]`, resolves with its last stdout line that parses as a JSON object. */
export function runChildBench(script: string, args: string[] = [], timeoutMs = 30 * 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    if (!existsSync(script)) {
      reject(new ChildBenchError(`${script} not found (bench not built or not written yet)`));
      return;
    }
    const p = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('exit', (code, sig) => {
      clearTimeout(timer);
      const lines = out.split('\n').map((l) => l.trim()).filter(Boolean).reverse();
      for (const l of lines) {
        try {
          const j = JSON.parse(l) as unknown;
          if (typeof j === 'object' && j !== null && !Array.isArray(j)) {
            if (code !== 0) process.stderr.write(`[faults] ${script} exited ${code ?? sig} but printed JSON; using it\n`);
            resolve(j as Record<string, unknown>);
            return;
          }
        } catch {
          // not JSON
        }
      }
      reject(new ChildBenchError(`${script} exited ${code ?? sig} without a JSON line`));
    });
  });
}

function num(j: Record<string, unknown> | null, k: string): number | null {
  const v = j?.[k];
  return typeof v === 'number' ? v : null;
}

async function child(name: string, args: string[], timeoutMs: number): Promise<Record<string, unknown> | null> {
  try {
    return await runChildBench(distBin(name), args, timeoutMs);
  } catch (e) {
    process.stderr.write(`[faults] ${name}: null — ${(e as Error).message}\n`);
    return null;
  }
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--kills <n>', 'SIGKILLs on the devnet', '20')
    .option('--seed <n>', 'PRNG seed', '1')
    .option('--partitions <n>', 'network partitions of the namespaced devnet', '2')
    .option('--skip-partitions', 'do not run the partition phase (it needs root for network namespaces)')
    .option('--skip-byzantine', 'do not run the Byzantine-process phase')
    .option('--skip-children', 'do not run the fuzz and relay-load benches')
    .option('--fuzz-args <args>', 'extra arguments for dist/bench/fuzz.js (space-separated)', '')
    .option('--relay-args <args>', 'extra arguments for dist/bench/relay-load.js (space-separated)', '')
    .parse()
    .opts<{ kills: string; partitions: string; seed: string; skipPartitions?: boolean; skipByzantine?: boolean; skipChildren?: boolean; fuzzArgs: string; relayArgs: string }>();
  const split = (a: string): string[] => a.split(' ').filter(Boolean);
  const log = (m: string): void => void process.stderr.write(`[faults] ${m}\n`);
  let chain: ChainFaultReport | null = null;
  try {
    chain = await runChainFaults({ kills: Number(o.kills), seed: Number(o.seed), log });
    for (const f of chain.failures) log(`chain failure: ${f}`);
  } catch (e) {
    log(`chain faults: null — ${(e as Error).stack ?? String(e)}`);
  }
  let part: PartitionReport | null = null;
  if (o.skipPartitions) log('partitions: null — --skip-partitions');
  else {
    try {
      part = await runPartitions({ prefix: 'tn8b', subnet: '198.18.180', partitions: Number(o.partitions), seed: Number(o.seed), log });
      for (const f of part.failures) log(`partition failure: ${f}`);
    } catch (e) {
      log(`partitions: null — ${(e as Error).stack ?? String(e)}`);
    }
  }
  let byz: ByzantineReport | null = null;
  if (o.skipByzantine) log('byzantine: null — --skip-byzantine');
  else {
    try {
      byz = await runByzantine({ seed: Number(o.seed), log });
      for (const f of byz.failures) log(`byzantine failure: ${f}`);
    } catch (e) {
      log(`byzantine: null — ${(e as Error).stack ?? String(e)}`);
    }
  }
  let slash: SlashReport | null = null;
  try {
    slash = await runSlashing();
    log(`slashing: ${slash.slashed}/${slash.offenders} offenders slashed in ${slash.ms} ms, supply ok: ${slash.supply_ok}`);
  } catch (e) {
    log(`slashing: null — ${(e as Error).message}`);
  }
  const fuzz = o.skipChildren ? null : await child('bench/fuzz', split(o.fuzzArgs), 30 * 60_000);
  const relay = o.skipChildren ? null : await child('bench/relay-load', split(o.relayArgs), 30 * 60_000);
  if (o.skipChildren) log('fuzz, relay-load: null — --skip-children');
  const line = {
    kills: chain?.kills ?? null,
    kills_recovered: chain?.kills_recovered ?? null,
    supply_violations:
      chain === null && slash === null && part === null && byz === null
        ? null
        : (chain?.supply_violations ?? 0) + (part?.supply_violations ?? 0) + (byz?.supply_violations ?? 0) + (slash && !slash.supply_ok ? 1 : 0),
    lost_txs: chain === null && part === null && byz === null ? null : [chain, part, byz].reduce((n, r) => n + (r ? r.lost_txs + r.reordered_txs : 0), 0),
    slashed: slash === null && byz === null ? null : (slash?.slashed ?? 0) + (byz?.slashed ?? 0),
    fuzz_inputs: num(fuzz, 'fuzz_inputs'),
    fuzz_crashes: num(fuzz, 'fuzz_crashes'),
    circuits: num(relay, 'circuits'),
    relay_rss_mb: num(relay, 'relay_rss_mb'),
    partitions: part?.partitions ?? null,
    partitions_healed: part?.partitions_healed ?? null,
    chain: chain === null ? null : { ...chain, failures: chain.failures.length },
    partition: part === null ? null : { ...part, failures: part.failures.length },
    byzantine: byz === null ? null : { ...byz, failures: byz.failures.length },
    slashing: slash,
  };
  process.stdout.write(JSON.stringify(line) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`faults: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
