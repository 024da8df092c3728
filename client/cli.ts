#!/usr/bin/env node
/**
 * `topvpn` — connect through a circuit of topvpn relays.
 *   topvpn connect --relays FILE|LIST [--hops N] [--control PATH] [--tun NAME] [--dns IP[,IP] | --no-dns]
 *                  [--resolv-conf PATH] [--state-dir DIR] [--kill-switch] [--reconnect] [--metrics HOST:PORT] [--log-level L] [--pretty] [--json]
 *                  [--chain-rpc URL --wallet FILE --budget N [--password-file FILE]]   (paid circuits)
 *   topvpn connect --bootstrap MADDR[,..] --chain-rpc URL --wallet FILE --budget N [--exit-country CC] [--max-price TOP]
 *                  [--exit-port N] [--guard-file F | --no-guards] [--allow-same-subnet] [--discovery-timeout SEC] [--recheck SEC] ...
 *                  (no --relays: relays discovered over libp2p, checked on chain, path chosen here)
 *   topvpn status --control PATH [--json]
 *   topvpn disconnect --control PATH [--json]
 *   topvpn reset --control PATH [--state-dir DIR] [--resolv-conf PATH] [--json]
 * `connect` runs in the foreground: progress while building, then one "up" line; it stays up
 * until `disconnect` or SIGTERM/SIGINT, then restores routes and DNS and exits 0.
 * With --json every stdout line is one JSON object ({"event":"progress"|"up"|"down"|"error",...}).
 * Exit codes: 0 ok, 1 runtime failure (incl. "not connected"), 2 usage/configuration error,
 * 3 no discovered relay set meets the path constraints, 4 no discovery peer reachable.
 * Without --json, progress goes to stderr (a spinner on a TTY) and the "up"/"down" lines to stdout.
 */
import { createLogger } from '../common/log.js';
import { registerClientCommands } from './commands/index.js';
import { failAndExit, hardenSubcommands, newProgram, printJson, runProgram, EXIT_FAILURE } from '../relay/cli-util.js';
import { openLinuxTun } from '../tun/linux.js';
import { type ConnectFlags, defaultStateDir, parseConnectFlags } from './config.js';
import { DEFAULT_RESOLV_CONF } from './dns.js';
import { ControlError, controlRequest, DEFAULT_CONTROL_PATH, type ControlCommand } from './control.js';
import { ClientDaemon, type ClientEvent, type ClientStatus, resetClientState } from './daemon.js';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../relay/config.js';
import { ClientPayments } from './payments/client-payments.js';
import { freshRpcCall } from './payments/rpc-fresh.js';
import { loadWallet, loadWalletSeed } from './wallet/keystore.js';
import type { ConnectConfig, PaymentFlags } from './config.js';
import type { Logger } from '../common/log.js';
import { DiscoverySession, DiscoveryUnreachableError, type DiscoveryPhase } from '../discovery/session.js';
import { parseHops } from './config.js';
import { parseDiscoveryConnectFlags, planPath, type DiscoveryConnectFlags } from './path/discovered.js';
import { DiscoveryRelaySource } from './path/relay-source-discovery.js';
import { defaultGuardsPath, GuardSet } from './path/guards.js';
import { formatTop, NoPathError } from './path/select.js';
import type { RelaySpec } from './relay-list.js';
import { ProgressReporter } from './progress.js';

/** No discovered relay set meets the constraints (--exit-country, --max-price, exit policy, relatedness). */
export const EXIT_NO_PATH = 3;
/** Discovery found no peer to ask (bootstrap unreachable). */
export const EXIT_NO_PEERS = 4;

const PROG = 'topvpn';

function human(e: ClientEvent): string {
  switch (e.event) {
    case 'up':
      return `up: ${e.address}/${e.prefixLen} on ${e.tun} (mtu ${e.mtu}) through ${e.hops} hop${e.hops === 1 ? '' : 's'}, built in ${e.buildMs} ms; dns ${e.dns.length > 0 ? e.dns.join(',') : 'unchanged'}${e.killSwitch ? '; kill switch on' : ''}; control ${e.control}`;
    case 'down':
      return `down (${e.reason}); routes and DNS restored${e.killSwitchKept ? '; the kill switch stays on (all traffic blocked) until `topvpn reset`' : ''}`;
    case 'reconnecting':
      return `reconnecting (attempt ${e.attempt}): ${e.reason}`;
    case 'channels':
      return `payment channels: ${e.hops.map((h, i) => `hop ${i + 1} ${h.channelId.slice(0, 12)}… deposit ${h.deposit}`).join(', ')}`;
    case 'settled':
      return e.error ? `closing payment channels failed: ${e.error}` : `payment channels closed (${e.closeTxs.length} tx)`;
    case 'progress':
      if (e.step === 'discovery') return discoveryText(e);
      if (e.step === 'path') {
        const hops = e.path as Array<{ role: string; country: string; priceTop: string; endpoint: string }>;
        return `path: ${hops.map((h) => `${h.role} ${h.endpoint} (${h.country}, ${h.priceTop} TOP/GiB)`).join(' → ')}${e.guardFallback ? ' [no primary guard fits: entry not pinned]' : ''}`;
      }
      if (e.step === 'building') return `building: ${String(e.hops)} hop circuit via ${String(e.entry)}`;
      if (e.step === 'paid') return `payments bound on ${String(e.hops)} hop(s)`;
      if (e.step === 'relay-left') return `relay ${String(e.relay).slice(0, 12)}… left the directory (${String(e.reason)}): ${e.action === 'repath' ? 're-pathing around it' : 'stopping'}`;
      return progressText(e);
    case 'reconnected':
      return `reconnected: ${e.address}, circuit built in ${e.buildMs} ms (${e.reconnects} reconnect${e.reconnects === 1 ? '' : 's'} so far)`;
    default:
      return progressText(e);
  }
}

function discoveryText(e: Record<string, unknown>): string {
  if (e.phase === 'start') return `discovery: asking ${String(e.bootstrap)} bootstrap peer(s) and the chain`;
  if (e.phase === 'chain') return `discovery: chain ${String(e.chainId)}`;
  if (e.phase === 'peers') return `discovery: ${String(e.peers)} peer(s) connected`;
  return `discovery: ${String(e.relays)} staked relay(s) known from ${String(e.peers)} peer(s)`;
}

function progressText(e: Record<string, unknown>): string {
  if (typeof e.hop === 'number' && typeof e.of === 'number') {
    const what = e.phase === 'handshake' ? 'handshake with the entry done' : e.phase === 'extended' ? 'extended' : e.phase === 'exit' ? 'exit opened' : String(e.phase);
    return `building: hop ${e.hop + 1}/${e.of} ${what}`;
  }
  const { event: _e, ...rest } = e;
  return `progress: ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`;
}

/** The wallet password: --password-file (first line) or $TOPVPN_WALLET_PASSWORD. */
function walletPassword(p: PaymentFlags): string {
  if (p.passwordFile !== undefined) {
    try {
      return readFileSync(p.passwordFile, 'utf8').split('\n')[0] ?? '';
    } catch (err) {
      throw new ConfigError(`--password-file: cannot read ${p.passwordFile}: ${(err as Error).message}`);
    }
  }
  const env = process.env.TOPVPN_WALLET_PASSWORD;
  if (env === undefined) throw new ConfigError('--wallet: give the password in $TOPVPN_WALLET_PASSWORD or --password-file');
  return env;
}

/** Unlocks the wallet and connects to the chain (paid circuits only). */
async function connectPayments(cfg: ConnectConfig, log: Logger): Promise<{ pay: ClientPayments; quotes: Array<{ relay: string; pricePerGiB: bigint }> } | undefined> {
  const p = cfg.payments;
  if (!p) return undefined;
  const password = walletPassword(p);
  const wallet = await loadWallet(p.wallet, password);
  const payerSeed = await loadWalletSeed(p.wallet, password);
  // A new connection per chain call: a pooled one opened through the tunnel dies with it.
  const pay = await ClientPayments.connect({ rpcUrl: p.rpcUrl, signer: wallet, payerSeed, budget: p.budget, log, call: freshRpcCall });
  log.info({ payer: wallet.address.slice(0, 16), chainId: pay.chainId, budget: p.budget.toString() }, 'payments ready');
  return { pay, quotes: cfg.path.map((r) => ({ relay: r.address!, pricePerGiB: r.pricePerGiB! })) };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Reports a discovery failure with its own exit code (NoPathError 3, no peer 4), else as failAndExit does. */
function failConnect(err: unknown, json: boolean): never {
  const code = err instanceof NoPathError ? EXIT_NO_PATH : err instanceof DiscoveryUnreachableError ? EXIT_NO_PEERS : undefined;
  if (code === undefined) failAndExit(PROG, err, json);
  const e = err as Error;
  if (json) printJson({ event: 'error', error: e.name, message: e.message, exitCode: code });
  process.stderr.write(`${PROG}: ${e.message}\n`);
  process.exit(code);
}

interface Discovered {
  session: DiscoverySession;
  /** The chosen hops, entry first. */
  path: RelaySpec[];
  /** The hops and the spares in --relays list order (the exit last). */
  list: RelaySpec[];
  /** Replacements for a dead or departed hop, under the same constraints (--reconnect). */
  source: DiscoveryRelaySource;
}

/** Spare middles drawn for --reconnect (the daemon opens standby channels with the first). */
const SPARE_MIDDLES = 2;

/**
 * Without --relays: a live DiscoverySession (bootstrap peers + chain), the guards, and the
 * path chosen by planPath. The session stays open for the connection's lifetime.
 */
async function discoverPath(flags: ConnectFlags & DiscoveryConnectFlags, emit: (e: ClientEvent) => void, log: Logger): Promise<Discovered> {
  const dc = parseDiscoveryConnectFlags(flags, defaultGuardsPath());
  const hops = parseHops(flags.hops);
  emit({ event: 'progress', step: 'discovery', phase: 'start', bootstrap: dc.bootstrap.length });
  const session = await DiscoverySession.open({
    chainRpc: dc.chainRpc,
    bootstrap: dc.bootstrap,
    timeoutMs: dc.timeoutMs,
    chainTtlMs: dc.recheckMs,
    sweepIntervalMs: Math.min(15_000, dc.recheckMs),
    log,
    onProgress: (p: DiscoveryPhase) => emit({ event: 'progress', step: 'discovery', ...p }),
  });
  try {
    const guards = dc.guardsFile !== undefined ? GuardSet.load(dc.guardsFile, { clock: { wallMs: () => Date.now() } }) : undefined;
    // With --reconnect, spare middles get standby channels (a dead middle is swapped without the chain).
    const plan = planPath(session.candidates(), { hops, constraints: { ...dc.constraints, chainId: session.chainId }, nowMs: Date.now(), ...(guards ? { guards } : {}), spares: flags.reconnect === true ? SPARE_MIDDLES : 0 });
    const roles = (i: number): string => (i === plan.selected.hops.length - 1 ? 'exit' : i === 0 ? 'entry' : 'middle');
    emit({
      event: 'progress',
      step: 'path',
      guardFallback: plan.guardFallback,
      path: plan.selected.hops.map((c, i) => ({
        role: roles(i),
        address: c.descriptor.nodeAddress,
        operator: c.descriptor.operator,
        country: c.descriptor.region,
        pricePerGiB: c.descriptor.pricePerGiB.toString(),
        priceTop: formatTop(c.descriptor.pricePerGiB),
        endpoint: c.descriptor.endpoints.udp,
      })),
      ...(plan.spares.length > 0 ? { spares: plan.spares.map((s) => s.address) } : {}),
    });
    // As a --relays list: entry (and middle), the spares, the exit last.
    const source = new DiscoveryRelaySource({ directory: session, constraints: { ...dc.constraints, chainId: session.chainId } });
    return { session, path: plan.specs, list: [...plan.specs.slice(0, -1), ...plan.spares, plan.specs[plan.specs.length - 1]!], source };
  } catch (err) {
    await session.close();
    throw err;
  }
}

async function connect(flags: ConnectFlags & DiscoveryConnectFlags): Promise<void> {
  const json = flags.json === true;
  const reporter = json ? undefined : new ProgressReporter();
  const out = (e: ClientEvent): void => {
    if (json) printJson(e);
    else if (e.event === 'progress' || e.event === 'channels') reporter!.step(human(e));
    else {
      reporter!.done(e.event !== 'down');
      process.stdout.write(`${human(e)}\n`);
    }
  };
  let discovered: Discovered | undefined;
  if (flags.relays === undefined) {
    const level = flags.logLevel !== undefined && LOG_LEVELS.includes(flags.logLevel) ? flags.logLevel : undefined;
    const dlog = createLogger('client', { pretty: flags.pretty === true, ...(level ? { level } : {}) });
    try {
      discovered = await discoverPath(flags, out, dlog);
    } catch (err) {
      reporter?.done(false);
      failConnect(err, json);
    }
  }
  let cfg: ConnectConfig;
  try {
    cfg = parseConnectFlags(flags, discovered?.list);
  } catch (err) {
    await discovered?.session.close();
    throw err;
  }
  const log = createLogger('client', { pretty: cfg.pretty, ...(cfg.logLevel ? { level: cfg.logLevel } : {}) });
  let payments: Awaited<ReturnType<typeof connectPayments>>;
  try {
    payments = await connectPayments(cfg, log);
  } catch (err) {
    await discovered?.session.close();
    throw err;
  }
  const daemon = new ClientDaemon({
    path: cfg.path,
    tunName: cfg.tunName,
    controlPath: cfg.controlPath,
    stateDir: cfg.stateDir,
    dns: cfg.dns,
    resolvConf: cfg.resolvConf,
    resolvConfExplicit: cfg.resolvConfExplicit,
    killSwitch: cfg.killSwitch,
    ...(cfg.lan ? { lan: cfg.lan } : {}),
    reconnect: cfg.reconnect,
    ...(cfg.spares ? { spares: cfg.spares } : {}),
    ...(discovered ? { relaySource: discovered.source } : {}),
    ...(cfg.ws ? { ws: { url: cfg.ws.url, ...(cfg.ws.caFile ? { ca: readFileSync(cfg.ws.caFile) } : {}) } } : {}),
    ...(cfg.metrics ? { metrics: cfg.metrics } : {}),
    ...(payments ? { payments } : {}),
    log,
    openTun: (o) => openLinuxTun(o),
    onEvent: out,
  });
  let signalled = false;
  const onSignal = (signal: string): void => {
    if (signalled) {
      daemon.emergencyCleanup();
      process.exit(EXIT_FAILURE);
    }
    signalled = true;
    void daemon.disconnect(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => onSignal('SIGHUP'));
  const fatal = (what: string, err: unknown): void => {
    log.fatal({ err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined }, `${what}; restoring routes and DNS`);
    daemon.emergencyCleanup();
    log.flush();
    process.exit(EXIT_FAILURE);
  };
  process.on('uncaughtException', (err) => fatal('uncaught exception', err));
  process.on('unhandledRejection', (err) => fatal('unhandled rejection', err));

  // The live directory: a path relay that unregisters or is jailed is not used any longer.
  // With --reconnect the circuit is rebuilt around it when a replacement fits; otherwise stop (exit 1).
  const offLeft = discovered?.session.directory.onChange((c) => {
    if (c.kind !== 'removed' || daemon.failure !== undefined) return;
    // The circuit as it is now (after any spare swap or re-path).
    const key = daemon.pathKeyOf(c.nodeAddress);
    if (key === undefined) return;
    void daemon.replaceLeft(key, c.reason).then((repathed) => {
      out({ event: 'progress', step: 'relay-left', relay: c.nodeAddress, reason: c.reason, action: repathed ? 'repath' : 'stop' });
      if (repathed || daemon.failure !== undefined) return;
      log.warn({ relay: c.nodeAddress.slice(0, 16), reason: c.reason }, 'a relay of the circuit left the directory; disconnecting');
      daemon.failure = `relay ${c.nodeAddress.slice(0, 16)} left the directory (${c.reason})`;
      void daemon.disconnect(daemon.failure);
    });
  });

  // connect() settles in every case: a disconnect while building closes the circuit, which
  // rejects the build; on failure it has already restored everything.
  const failed = await daemon.connect().then(
    () => undefined,
    (err: unknown) => err,
  );
  await daemon.done;
  offLeft?.();
  await discovered?.session.close();
  log.flush();
  if (failed !== undefined && !signalled) failAndExit(PROG, failed, cfg.json);
  process.exit(daemon.failure !== undefined ? EXIT_FAILURE : 0);
}

function printStatus(s: ClientStatus): void {
  const kb = (n: number): string => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
  const lines = [
    `state:    ${s.state}${s.address ? ` ${s.address} on ${s.tun} (mtu ${s.mtu})` : ''}`,
    `path:     ${s.path.map((p, i) => `${i === 0 ? 'entry' : i === s.path.length - 1 ? 'exit' : 'middle'} ${p.endpoint} (${p.publicKey.slice(0, 8)}…)`).join(' → ')}`,
    `traffic:  in ${kb(s.bytesIn)} (${s.packetsIn} pkts), out ${kb(s.bytesOut)} (${s.packetsOut} pkts)`,
    `rate:     in ${kb(s.rateInBps)}/s, out ${kb(s.rateOutBps)}/s`,
    `uptime:   ${(s.uptimeMs / 1000).toFixed(1)} s; circuit built in ${s.buildMs ?? '-'} ms`,
    `drops:    tun write ${s.drops.tunWrite}, udp send ${s.drops.udpSend}`,
    `dns:      ${s.dns.length > 0 ? s.dns.join(', ') : 'unchanged'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function ask(cmd: ControlCommand, opts: { control: string; json?: boolean }): Promise<void> {
  const r = await controlRequest(opts.control, { cmd });
  if (!r.ok) throw new ControlError(r.error);
  if (cmd === 'status') {
    if (opts.json) printJson({ event: 'status', ...(r.result as ClientStatus) });
    else printStatus(r.result as ClientStatus);
  } else if (opts.json) printJson({ event: 'disconnected', control: opts.control });
  else process.stdout.write('disconnected\n');
}

async function reset(o: { control: string; stateDir?: string; resolvConf?: string; json?: boolean }): Promise<void> {
  const log = createLogger('client', { level: process.env.TOPVPN_LOG_LEVEL ?? 'warn' });
  const r = await resetClientState({
    controlPath: o.control,
    stateDir: o.stateDir ?? defaultStateDir(o.control),
    resolvConf: o.resolvConf ?? DEFAULT_RESOLV_CONF,
    log,
  });
  if (o.json) printJson({ event: 'reset', ...r });
  else process.stdout.write(`reset: resolver ${r.dnsRestored ? 'restored' : 'unchanged'}, ${r.staleRoutes} stale route(s) cleared, kill switch ${r.killSwitchRemoved ? 'removed' : 'not present'}\n`);
}

const program = newProgram(PROG, 'a decentralized VPN client: onion circuits through topvpn relays');
program
  .command('connect')
  .description('build a circuit and route all traffic through it (foreground)')
  .option('--relays <file|list>', 'JSON file [{"endpoint","publicKey"}] or "host:port@pubhex,..."; the last relay is the exit (absent: discover with --bootstrap)')
  .option('--bootstrap <multiaddr>', 'discover relays from this libp2p peer (repeatable or comma-separated; needs --chain-rpc)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
  .option('--exit-country <cc>', 'discovery: the exit must be in this country (ISO 3166-1 alpha-2)')
  .option('--max-price <top>', 'discovery: no hop above this price per GiB (TOP, or base units with a "u" suffix)')
  .option('--exit-port <port>', 'discovery: the exit\'s policy must allow this port (default 443)')
  .option('--guard-file <file>', 'discovery: entry guard state (default $XDG_CONFIG_HOME/topvpn/guards.json)')
  .option('--no-guards', 'discovery: do not pin the entry to persistent guards')
  .option('--allow-same-subnet', 'discovery: allow two hops in one /16 (private testnets only)')
  .option('--discovery-timeout <sec>', 'discovery: how long to wait for a bootstrap peer (default 15)')
  .option('--recheck <sec>', 'discovery: re-check the path relays\' stake and jail status on chain this often (default 60)')
  .option('--hops <n>', 'circuit length 1..3 (default 3)')
  .option('--control <path>', `control socket (default ${DEFAULT_CONTROL_PATH})`)
  .option('--tun <name>', 'TUN device name (default tvpn0)')
  .option('--dns <ips>', 'DNS servers to use instead of the exit\'s, comma-separated')
  .option('--no-dns', 'leave the system resolver alone')
  .option('--resolv-conf <path>', 'resolver file to manage (default /etc/resolv.conf)')
  .option('--state-dir <dir>', 'crash-recovery state (default: next to the control socket)')
  .option('--kill-switch', 'drop all traffic outside the tunnel (nftables); stays after a crash until `reset`')
  .option('--lan <cidrs>', 'with --kill-switch: LAN networks left reachable (IP and ARP), e.g. 192.168.1.0/24')
  .option('--transport <udp|ws>', 'link to the entry relay: udp (default) or ws (WebSocket, needs --ws-url)')
  .option('--ws-url <url>', 'ws://HOST:PORT or wss://HOST:PORT of the entry relay\'s --ws-listen')
  .option('--ws-ca <file>', 'PEM CA certificate to trust for wss:// (e.g. the relay\'s self-signed one)')
  .option('--reconnect', 'rebuild the circuit when it goes down (backoff 1 s … 30 s) instead of exiting')
  .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (port 0 = any free port)')
  .option('--chain-rpc <url>', 'pay the relays: chain node JSON-RPC URL (needs --wallet and --budget; the relay list gives each relay\'s address and pricePerGiB)')
  .option('--wallet <file>', 'wallet file paying the channels (password from $TOPVPN_WALLET_PASSWORD or --password-file)')
  .option('--budget <n>', 'most this connect may lock in deposits + fees, in base units')
  .option('--password-file <file>', 'file whose first line is the wallet password')
  .option('--log-level <level>', 'trace|debug|info|warn|error (default info or $TOPVPN_LOG_LEVEL)')
  .option('--pretty', 'human-readable logs')
  .option('--json', 'one JSON object per stdout line')
  .action(connect);
program
  .command('reset')
  .description('undo what a killed client left behind (resolver, routes, kill switch) without connecting')
  .option('--control <path>', `control socket (default ${DEFAULT_CONTROL_PATH})`, DEFAULT_CONTROL_PATH)
  .option('--state-dir <dir>', 'crash-recovery state (default: next to the control socket)')
  .option('--resolv-conf <path>', 'resolver file (default /etc/resolv.conf)')
  .option('--json', 'print one JSON object')
  .action(reset);
program
  .command('status')
  .description('show the running client: path, traffic, rate, uptime, build time, drops')
  .option('--control <path>', `control socket (default ${DEFAULT_CONTROL_PATH})`, DEFAULT_CONTROL_PATH)
  .option('--json', 'print one JSON object')
  .action((o: { control: string; json?: boolean }) => ask('status', o));
program
  .command('disconnect')
  .description('tear the tunnel down (routes and DNS restored) and stop the client')
  .option('--control <path>', `control socket (default ${DEFAULT_CONTROL_PATH})`, DEFAULT_CONTROL_PATH)
  .option('--json', 'print one JSON object')
  .action((o: { control: string; json?: boolean }) => ask('disconnect', o));
registerClientCommands(program);
hardenSubcommands(program);

await runProgram(PROG, program, process.argv.slice(2));
