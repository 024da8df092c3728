/**
 * Byzantine validators at process level on the devnet (12 node processes on 127.0.0.1), one per
 * committee, switched on by the test-only hook of chain/node/test-hooks.ts (env
 * TOPVPN_TEST_BYZANTINE + TOPVPN_TEST_HOOKS=devnet on that node's process only). Default plan:
 *   node 1 (validator shard-0)   equivocate        — double votes until it is jailed
 *   node 5 (validator shard-1)   invalid-proposal  — every block it proposes has a wrong state root
 *   node 9 (auditor+beacon)      withhold          — sends no beacon votes and no audit shares
 * under the load of bench/faults-chain.ts. It checks:
 *  - safety: every final block seen on any node at any poll has one hash per (chain, height)
 *    (no two conflicting final blocks), and at the end each chain has one block hash + state
 *    root at the lowest common final height on every node;
 *  - liveness: final heights grow on every chain, also after the offenders are jailed;
 *  - slashing without help: evidence against each equivocator shows up in evidence_list, a
 *    `slash` tx sent by an honest node (this harness sends none) is final on a shard, and
 *    node_get on every node shows the offender jailed with slashed > 0;
 *  - the other modes took effect: no final block was proposed by the invalid proposer (which
 *    logged invalid proposals); the withholding node's signature is in no final block's QC
 *    (bar QCs it formed as leader or that certify its own proposals) and in no audit certificate;
 *  - supply invariant on every node; no final tx lost or moved.
 *
 * Library: `runByzantine(opts)`. Script: `node dist/bench/faults-byzantine.js [--duration-ms MS]`
 * prints one JSON line (the report). Run under `flock /tmp/topvpn-heavy.lock`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import type { Devnet } from '../chain/devnet/devnet.js';
import type { ByzantineMode } from '../chain/node/test-hooks.js';
import { BYZANTINE_ENV, TEST_HOOKS_ENV } from '../chain/node/test-hooks.js';
import { devnetClass, Harness, mulberry32, sleep, snapshotDist, type BlockView } from './faults-chain.js';

export class ByzantineFaultsError extends Error {
  override name = 'ByzantineFaultsError';
}

export interface ByzantineRunOptions {
  /** Node index → modes (default: 1 equivocate, 5 invalid-proposal, 9 withhold). */
  plan?: Readonly<Record<number, readonly ByzantineMode[]>>;
  /** Load time with the Byzantine nodes active, at least (default 30000 ms). */
  durationMs?: number;
  /** Bound on every equivocator being jailed on every node (default 90000 ms). */
  slashTimeoutMs?: number;
  /** Load time after the last offender is jailed (liveness afterwards; default 6000 ms). */
  afterJailMs?: number;
  seed?: number;
  dir?: string;
  log?: (msg: string) => void;
  /** Run the nodes from a private copy of dist/chain + dist/common (default true). */
  snapshotDist?: boolean;
}

export const DEFAULT_BYZANTINE_PLAN: Readonly<Record<number, readonly ByzantineMode[]>> = { 1: ['equivocate'], 5: ['invalid-proposal'], 9: ['withhold'] };

export interface ByzantineNodeReport {
  node: number;
  role: string;
  modes: ByzantineMode[];
  /** Jailed with slashed > 0 on every node's beacon (equivocators). */
  slashed_everywhere: boolean;
  slashed_amount: string | null;
  /** Nodes whose evidence_list holds a double vote by this node. */
  evidence_nodes: number;
  /** Final `slash` txs naming this node, and who sent them. */
  slash_txs: number;
  slash_reporters: number[];
  /** ms from the devnet start to this node being jailed everywhere. */
  jailed_after_ms: number | null;
  /** Lines the node logged for its hook (proof the hook ran). */
  hook_log_lines: number;
  /** invalid-proposal: final blocks this node proposed (must be 0). */
  final_blocks_proposed: number | null;
  /** withhold: final QCs (not of its own proposals) and audit certificates carrying its signature (must be 0). */
  signatures_in_certificates: number | null;
}

export interface ByzantineReport {
  byzantine: ByzantineNodeReport[];
  /** Equivocators jailed with a slashed deposit on every node. */
  slashed: number;
  equivocators: number;
  conflicting_finals: number;
  final_blocks_checked: number;
  /** Final-height growth per chain over the run, and after the last offender was jailed. */
  finality_progress: Record<string, number>;
  finality_after_jail: Record<string, number>;
  supply_violations: number;
  lost_txs: number;
  reordered_txs: number;
  txs_final: number;
  tx_checks: number;
  state_roots_agree: boolean;
  common_final_heights: Record<string, number>;
  duration_s: number;
  failures: string[];
}

interface BlockFull extends BlockView {
  chain: string;
  height: number;
  proposer: string;
  justify: { blockHash: string; votes: Array<{ signer: string }> };
  audit: { signers: string[] } | null;
  body: { txs: Array<{ tx: { from: string; op: { type: string; evidence?: { a: { signer: string } } } } }> };
}

/** Runs the devnet with Byzantine nodes, the load and the checks; always stops every node. */
export async function runByzantine(opts: ByzantineRunOptions = {}): Promise<ByzantineReport> {
  const t0 = Date.now();
  const log = opts.log ?? ((): void => {});
  const plan = opts.plan ?? DEFAULT_BYZANTINE_PLAN;
  const durationMs = opts.durationMs ?? 30_000;
  const slashTimeoutMs = opts.slashTimeoutMs ?? 90_000;
  const afterJailMs = opts.afterJailMs ?? 6000;
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tvz-byzantine-'));
  const snap = opts.snapshotDist === false ? null : snapshotDist();
  let d: Devnet | null = null;
  let h: Harness | null = null;
  const workers: Promise<void>[] = [];
  let crashed = false;
  const finalSeen = new Map<string, string>(); // `${chain}#${height}` → block hash
  let conflicts = 0;
  const nodes: ByzantineNodeReport[] = [];
  const progress: Record<string, number> = {};
  const afterJail: Record<string, number> = {};
  let end = { stateRootsAgree: false, common: {} as Record<string, number> };
  try {
    const DevnetCls = await devnetClass(snap);
    d = await DevnetCls.create({
      dir,
      shards: 2,
      group: 4,
      auditors: 4,
      accounts: 12,
      logLevel: 'warn',
      envFor: (i): Record<string, string> => (plan[i] ? { [TEST_HOOKS_ENV]: 'devnet', [BYZANTINE_ENV]: plan[i]!.join(',') } : {}),
    });
    const dn = d;
    for (const k of Object.keys(plan)) if (!dn.nodes[Number(k)]) throw new ByzantineFaultsError(`plan names node ${k}; the devnet has ${dn.nodes.length}`);
    await dn.start();
    const hh = new Harness(dn, mulberry32(opts.seed ?? 1), log);
    h = hh;
    const chains = ['beacon', ...Array.from({ length: dn.shards }, (_, i) => `shard-${i}`)];
    const byz = Object.keys(plan).map(Number);
    log(`devnet up in ${dir}; Byzantine: ${byz.map((i) => `node ${i} (${dn.nodes[i]!.role}) ${plan[i]!.join('+')}`).join(', ')}`);
    if ((await hh.recovered(new Map(chains.map((c) => [c, 0])), 60_000)) === null) throw new ByzantineFaultsError('devnet did not reach final height 2 on every chain');
    const start = await hh.maxFinal();
    workers.push(...hh.startLoad());

    /** One poll: the final tip of every chain on every node, checked against what was seen final before. */
    const pollFinals = async (): Promise<void> => {
      for (const n of dn.nodes) {
        let st;
        try {
          st = await hh.status(n.index);
        } catch {
          continue;
        }
        for (const [c, v] of st) {
          if (v.final < 1) continue;
          try {
            const b = await hh.call<BlockView>(n.rpc, 'chain_getBlock', [c, v.final], 8000);
            const key = `${c}#${v.final}`;
            const prev = finalSeen.get(key);
            if (prev === undefined) finalSeen.set(key, b.hash);
            else if (prev !== b.hash) {
              conflicts++;
              hh.fail(`conflicting final blocks at ${key}: ${prev.slice(0, 12)} and ${b.hash.slice(0, 12)} (node ${n.index})`);
            }
          } catch {
            // node busy
          }
        }
      }
    };
    const nodeView = async (url: string, addr: string): Promise<{ status: string; slashed: string }> => hh.call(url, 'node_get', [addr], 5000);
    const equivocators = byz.filter((i) => plan[i]!.includes('equivocate'));
    const jailedAt = new Map<number, number>();
    const deadline = Date.now() + Math.max(durationMs, slashTimeoutMs);
    while (Date.now() < deadline) {
      await pollFinals();
      for (const i of equivocators) {
        if (jailedAt.has(i)) continue;
        const views = await Promise.all(dn.nodes.map((n) => nodeView(n.rpc, dn.nodes[i]!.address).catch(() => null)));
        if (views.every((v) => v !== null && v.status === 'jailed' && BigInt(v.slashed) > 0n)) {
          jailedAt.set(i, Date.now() - t0);
          log(`node ${i} jailed and slashed on every node after ${Date.now() - t0} ms`);
        }
      }
      if (Date.now() - t0 >= durationMs && jailedAt.size === equivocators.length) break;
      await sleep(1000);
    }
    for (const i of equivocators) if (!jailedAt.has(i)) hh.fail(`node ${i} (equivocate) not jailed with a slashed deposit on every node within ${slashTimeoutMs} ms`);
    // liveness after the jailing
    const atJail = await hh.maxFinal();
    const jailEnd = Date.now() + afterJailMs;
    while (Date.now() < jailEnd) {
      await pollFinals();
      await sleep(1000);
    }
    const last = await hh.maxFinal();
    for (const c of chains) {
      progress[c] = (last.get(c) ?? 0) - (start.get(c) ?? 0);
      afterJail[c] = (last.get(c) ?? 0) - (atJail.get(c) ?? 0);
      if (afterJail[c]! <= 0) hh.fail(`${c}: no new final block in the ${afterJailMs} ms after the offenders were jailed`);
    }
    hh.stopping = true;
    await Promise.all(workers);
    end = await hh.endChecks();

    // walk every final block of every chain on one honest node
    const honest = dn.nodes.find((n) => !plan[n.index])!;
    const blocks: BlockFull[] = [];
    for (const c of chains) {
      for (let ht = 1; ht <= (end.common[c] ?? 0); ht++) blocks.push(await hh.call<BlockFull>(honest.rpc, 'chain_getBlock', [c, ht], 8000));
    }
    for (const b of blocks) {
      const key = `${b.chain}#${b.height}`;
      const prev = finalSeen.get(key);
      if (prev !== undefined && prev !== b.hash) {
        conflicts++;
        hh.fail(`conflicting final blocks at ${key}: seen ${prev.slice(0, 12)} during the run, ${b.hash.slice(0, 12)} at the end`);
      }
    }
    const addrIdx = new Map(dn.nodes.map((n) => [n.address, n.index]));
    for (const i of byz) {
      const n = dn.nodes[i]!;
      const modes = [...plan[i]!];
      let hookLines = 0;
      try {
        hookLines = readFileSync(join(n.dir, 'node.log'), 'utf8').split('\n').filter((l) => l.includes('byzantine test hook')).length;
      } catch {
        // no log
      }
      const evidenceNodes = (
        await Promise.all(dn.nodes.map((m) => hh.call<Array<{ evidence: { a: { signer: string } } }>>(m.rpc, 'evidence_list', [], 8000).catch(() => [])))
      ).filter((list) => list.some((e) => e.evidence.a.signer === n.address)).length;
      const slashTxs = blocks.flatMap((b) => b.body.txs).filter((t) => t.tx.op.type === 'slash' && t.tx.op.evidence?.a.signer === n.address);
      const reporters = [...new Set(slashTxs.map((t) => addrIdx.get(t.tx.from) ?? -1))];
      const view = await nodeView(honest.rpc, n.address).catch(() => null);
      let proposed: number | null = null;
      let sigs: number | null = null;
      if (modes.includes('invalid-proposal')) {
        proposed = blocks.filter((b) => b.proposer === n.address).length;
        if (proposed > 0) hh.fail(`node ${i} (invalid-proposal): ${proposed} final blocks proposed by it`);
      }
      if (modes.includes('withhold')) {
        // c.justify certifies c's parent; it carries n's signature legitimately only when n proposed
        // the parent (a proposal carries its proposer's vote) or formed the QC itself (n proposed c).
        const byHash = new Map(blocks.map((b) => [b.hash, b]));
        sigs = blocks.filter((c) => {
          const parent = byHash.get(c.justify.blockHash);
          const ownQc = c.proposer === n.address || parent?.proposer === n.address;
          return (!ownQc && c.justify.votes.some((v) => v.signer === n.address)) || (c.audit?.signers.includes(n.address) ?? false);
        }).length;
        if (sigs > 0) hh.fail(`node ${i} (withhold): its signature is in ${sigs} final certificates`);
      }
      if (hookLines === 0) hh.fail(`node ${i}: its hook never ran (no "byzantine test hook" line in its log)`);
      if (modes.includes('equivocate')) {
        if (evidenceNodes === 0) hh.fail(`node ${i}: no node holds evidence of its double votes`);
        if (slashTxs.length === 0) hh.fail(`node ${i}: no final slash tx names it`);
        if (reporters.some((r) => r < 0 || plan[r] !== undefined)) hh.fail(`node ${i}: a slash tx came from ${reporters.join(',')} (not an honest node)`);
      }
      nodes.push({
        node: i,
        role: n.role,
        modes,
        slashed_everywhere: jailedAt.has(i),
        slashed_amount: view ? String(view.slashed) : null,
        evidence_nodes: evidenceNodes,
        slash_txs: slashTxs.length,
        slash_reporters: reporters,
        jailed_after_ms: jailedAt.get(i) ?? null,
        hook_log_lines: hookLines,
        final_blocks_proposed: proposed,
        signatures_in_certificates: sigs,
      });
    }
    for (const i of dn.nodes.map((n) => n.index).filter((x) => !plan[x])) {
      const v = await nodeView(honest.rpc, dn.nodes[i]!.address).catch(() => null);
      if (v && (v.status === 'jailed' || BigInt(v.slashed) > 0n)) hh.fail(`honest node ${i} was slashed`);
    }
    log(`checked ${blocks.length} final blocks; ${JSON.stringify(nodes.map((x) => ({ node: x.node, slashed: x.slashed_everywhere, slash_txs: x.slash_txs, proposed: x.final_blocks_proposed, sigs: x.signatures_in_certificates })))}`);
  } catch (e) {
    crashed = true;
    throw e;
  } finally {
    if (h) h.stopping = true;
    await Promise.allSettled(workers);
    if (d) await d.stop();
    const failed = crashed || (h?.failures.length ?? 0) > 0;
    if (ownDir && !failed) rmSync(dir, { recursive: true, force: true });
    else log(`devnet dir kept for inspection: ${dir}`);
    if (snap) rmSync(snap, { recursive: true, force: true });
  }
  const hv = h!;
  return {
    byzantine: nodes,
    slashed: nodes.filter((n) => n.modes.includes('equivocate') && n.slashed_everywhere).length,
    equivocators: nodes.filter((n) => n.modes.includes('equivocate')).length,
    conflicting_finals: conflicts,
    final_blocks_checked: finalSeen.size,
    finality_progress: progress,
    finality_after_jail: afterJail,
    supply_violations: hv.supplyViolations,
    lost_txs: hv.lost.size,
    reordered_txs: hv.reordered.size,
    txs_final: hv.finals.size,
    tx_checks: hv.txChecks,
    state_roots_agree: end.stateRootsAgree,
    common_final_heights: end.common,
    duration_s: Math.round((Date.now() - t0) / 1000),
    failures: hv.failures,
  };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--duration-ms <ms>', 'load time with the Byzantine nodes active (at least)', '30000')
    .option('--seed <n>', 'PRNG seed', '1')
    .option('--quiet', 'no progress on stderr')
    .parse()
    .opts<{ durationMs: string; seed: string; quiet?: boolean }>();
  const report = await runByzantine({
    durationMs: Number(o.durationMs),
    seed: Number(o.seed),
    ...(o.quiet ? {} : { log: (m: string) => process.stderr.write(`[faults-byzantine] ${m}\n`) }),
  });
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`faults-byzantine: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
