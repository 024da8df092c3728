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
