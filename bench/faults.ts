/**
 * Faults, adversaries, bad input and load — one JSON line:
 *   {"kills","kills_recovered","supply_violations","lost_txs","slashed","fuzz_inputs",
 *    "fuzz_crashes","circuits","relay_rss_mb", …details}
 *
 * - chain faults: bench/faults-chain.ts on the devnet (node processes; SIGKILL + restart, one
 *   SIGSTOP pause) — kills, kills_recovered, supply_violations, lost_txs;
 * - slashing: the node process has no Byzantine option (test-only hook), so the scenario runs
 *   in-process: a cluster of ChainNodes (MemoryNetwork) where one validator of each shard
 *   double-votes once; `slashed` = offenders jailed with a burned deposit on every node's beacon;
 * - dist/bench/fuzz.js and dist/bench/relay-load.js (other benches), run as child processes:
 *   their last JSON line gives fuzz_inputs/fuzz_crashes and circuits/relay_rss_mb; a missing or
 *   failing bench yields null and a reason on stderr.
 *
 * Usage: node dist/bench/faults.js [--kills N] [--seed S] [--skip-children]
 *        [--fuzz-args '--inputs 20000'] [--relay-args '--duration 20']
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { distBin } from '../common/paths.js';
import { runChainFaults, type ChainFaultReport } from './faults-chain.js';
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
    .option('--skip-children', 'do not run the fuzz and relay-load benches')
    .option('--fuzz-args <args>', 'extra arguments for dist/bench/fuzz.js (space-separated)', '')
    .option('--relay-args <args>', 'extra arguments for dist/bench/relay-load.js (space-separated)', '')
    .parse()
    .opts<{ kills: string; seed: string; skipChildren?: boolean; fuzzArgs: string; relayArgs: string }>();
  const split = (a: string): string[] => a.split(' ').filter(Boolean);
  const log = (m: string): void => void process.stderr.write(`[faults] ${m}\n`);
  let chain: ChainFaultReport | null = null;
  try {
    chain = await runChainFaults({ kills: Number(o.kills), seed: Number(o.seed), log });
    for (const f of chain.failures) log(`chain failure: ${f}`);
  } catch (e) {
    log(`chain faults: null — ${(e as Error).stack ?? String(e)}`);
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
    supply_violations: chain === null && slash === null ? null : (chain?.supply_violations ?? 0) + (slash && !slash.supply_ok ? 1 : 0),
    lost_txs: chain === null ? null : chain.lost_txs + chain.reordered_txs,
    slashed: slash?.slashed ?? null,
    fuzz_inputs: num(fuzz, 'fuzz_inputs'),
    fuzz_crashes: num(fuzz, 'fuzz_crashes'),
    circuits: num(relay, 'circuits'),
    relay_rss_mb: num(relay, 'relay_rss_mb'),
    chain: chain === null ? null : { ...chain, failures: chain.failures.length },
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
