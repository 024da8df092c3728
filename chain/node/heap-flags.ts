import { availableParallelism } from 'node:os';

/**
 * V8 heap settings for a node process. They can only be given on the node command line
 * (`node <flags> dist/chain/cli.js start …`; NODE_OPTIONS refuses them), so the devnet launcher
 * and the deploy generators (systemd, compose, Kubernetes) put them on every node's.
 *
 * Why: at saturation a validator holds every pending tx for 1–3 s, longer than two scavenges
 * apart, so pending txs, verified-signature entries and recent block records are promoted and
 * then die in the old generation. With V8's defaults the old generation of a 30–40 MB live heap
 * is collected (mark-compact) every 1–1.5 s and GC threads take about a fifth of node CPU.
 * Starting with a 256 MB old generation and a 16 MB young one (V8 starts it at 1 MB and grows it
 * to its 16 MB maximum) cuts that work. Measured with `bench:chain` (chain/README.md,
 * "Performance"), alternating runs in one session: 769–833 tx/s without, 868–934 with these two
 * flags; over a 120 s window 869 against 958. They cost about 80 MB more resident memory per node.
 */
export const NODE_HEAP_FLAGS: readonly string[] = ['--initial-old-space-size=256', '--min-semi-space-size=16'];

/**
 * V8 flags for a node process on a machine where node processes outnumber cores (the devnet: 12
 * processes on the 2 cores here). `--single-threaded` stops V8's background threads (parallel and
 * concurrent GC, concurrent compilation): with every core already running some process's main
 * thread, those threads add contention and synchronisation and take no work off anyone.
 * Measured with `bench:chain` (chain/README.md, "Performance"), alternating 20 s runs in one
 * session: 1,073.6 / 969.5 / 991.6 / 946.2 tx/s with it against 772.9 / 844.7 / 933 / 910.3
 * without; node CPU per tx 1.77–2.02 ms against 2.04–2.47. Not for a node with cores to itself
 * (the deploy targets): there the background threads run on idle cores.
 */
export const SHARED_CORES_FLAGS: readonly string[] = ['--single-threaded'];

/** The flags for each of `processes` node processes on a machine with `cores` cores. */
export function nodeFlagsFor(processes: number, cores: number = availableParallelism()): string[] {
  return [...NODE_HEAP_FLAGS, ...(processes > cores ? SHARED_CORES_FLAGS : [])];
}
