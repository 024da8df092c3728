#!/usr/bin/env node
/**
 * `topvpn` — connect through a circuit of topvpn relays.
 *   topvpn connect --relays FILE|LIST [--hops N] [--control PATH] [--tun NAME] [--dns IP[,IP] | --no-dns]
 *                  [--resolv-conf PATH] [--state-dir DIR] [--kill-switch] [--reconnect] [--metrics HOST:PORT] [--log-level L] [--pretty] [--json]
 *                  [--chain-rpc URL --wallet FILE --budget N [--password-file FILE]]   (paid circuits)
 *   topvpn status --control PATH [--json]
 *   topvpn disconnect --control PATH [--json]
 *   topvpn reset --control PATH [--state-dir DIR] [--resolv-conf PATH] [--json]
 * `connect` runs in the foreground: progress while building, then one "up" line; it stays up
 * until `disconnect` or SIGTERM/SIGINT, then restores routes and DNS and exits 0.
 * With --json every stdout line is one JSON object ({"event":"progress"|"up"|"down"|"error",...}).
 * Exit codes: 0 ok, 1 runtime failure (incl. "not connected"), 2 usage/configuration error.
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
import { loadWallet, loadWalletSeed } from './wallet/keystore.js';
import type { ConnectConfig, PaymentFlags } from './config.js';
import type { Logger } from '../common/log.js';

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
    case 'reconnected':
      return `reconnected: ${e.address}, circuit built in ${e.buildMs} ms (${e.reconnects} reconnect${e.reconnects === 1 ? '' : 's'} so far)`;
    default: {
      if (typeof e.hop === 'number' && typeof e.of === 'number') {
        const what = e.phase === 'handshake' ? 'handshake with the entry done' : e.phase === 'extended' ? 'extended' : e.phase === 'exit' ? 'exit opened' : String(e.phase);
        return `building: hop ${e.hop + 1}/${e.of} ${what}`;
      }
      const { event: _e, ...rest } = e;
      return `progress: ${Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')}`;
    }
  }
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
  const pay = await ClientPayments.connect({ rpcUrl: p.rpcUrl, signer: wallet, payerSeed, budget: p.budget, log });
  log.info({ payer: wallet.address.slice(0, 16), chainId: pay.chainId, budget: p.budget.toString() }, 'payments ready');
  return { pay, quotes: cfg.path.map((r) => ({ relay: r.address!, pricePerGiB: r.pricePerGiB! })) };
}

async function connect(flags: ConnectFlags): Promise<void> {
  const cfg = parseConnectFlags(flags);
  const log = createLogger('client', { pretty: cfg.pretty, ...(cfg.logLevel ? { level: cfg.logLevel } : {}) });
  const payments = await connectPayments(cfg, log);
  const out = (e: ClientEvent): void => {
    if (cfg.json) printJson(e);
    else process.stdout.write(`${human(e)}\n`);
  };
  const daemon = new ClientDaemon({
    path: cfg.path,
    tunName: cfg.tunName,
    controlPath: cfg.controlPath,
    stateDir: cfg.stateDir,
    dns: cfg.dns,
    resolvConf: cfg.resolvConf,
    resolvConfExplicit: cfg.resolvConfExplicit,
    killSwitch: cfg.killSwitch,
    reconnect: cfg.reconnect,
    ...(cfg.spares ? { spares: cfg.spares } : {}),
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

  // connect() settles in every case: a disconnect while building closes the circuit, which
  // rejects the build; on failure it has already restored everything.
  const failed = await daemon.connect().then(
    () => undefined,
    (err: unknown) => err,
  );
  await daemon.done;
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
  .requiredOption('--relays <file|list>', 'JSON file [{"endpoint","publicKey"}] or "host:port@pubhex,..."; the last relay is the exit')
  .option('--hops <n>', 'circuit length 1..3 (default 3)')
  .option('--control <path>', `control socket (default ${DEFAULT_CONTROL_PATH})`)
  .option('--tun <name>', 'TUN device name (default tvpn0)')
  .option('--dns <ips>', 'DNS servers to use instead of the exit\'s, comma-separated')
  .option('--no-dns', 'leave the system resolver alone')
  .option('--resolv-conf <path>', 'resolver file to manage (default /etc/resolv.conf)')
  .option('--state-dir <dir>', 'crash-recovery state (default: next to the control socket)')
  .option('--kill-switch', 'drop all traffic outside the tunnel (nftables); stays after a crash until `reset`')
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
