#!/usr/bin/env node
/**
 * `toprelay` — run a topvpn relay.
 *   toprelay keygen --out FILE [--force] [--json]
 *   toprelay start --listen HOST:PORT --key FILE [--exit] [--exit-pool CIDR] [--exit-allow CIDR[,CIDR]]
 *                  [--exit-policy FILE] [--egress IFACE] [--dns IP] [--tun NAME] [--nft-table NAME] [--metrics HOST:PORT] [--region R]
 *                  [--log-level L] [--stats-interval SEC] [--pretty] [--json]
 *                  [--chain-rpc URL --node-key FILE --price-per-gib N [--claim-fee N]]   (paid relaying)
 *                  [--p2p-listen MADDR[,..] --country CC [--bootstrap MADDR[,..]] [--peer-key FILE] [--operator HEX]
 *                   [--family HEX,..] [--bandwidth MBIT] [--advertise HOST:PORT] [--p2p-announce MADDR[,..]]
 *                   [--descriptor-lifetime SEC] [--descriptor-refresh SEC]]   (discovery; needs paid relaying)
 * `start` runs in the foreground, logs pino JSON to stderr, prints one JSON line
 * {"event":"listening",...} on stdout when ready, and on SIGTERM/SIGINT stops cleanly
 * (removes its TUN and nft table) and exits 0. Exit codes: 0 ok, 1 runtime failure, 2 usage.
 */
import { createLogger } from '../common/log.js';
import { registerRelayCommands, startRelayControl } from './commands/index.js';
import { openLinuxTun } from '../tun/linux.js';
import { failAndExit, hardenSubcommands, newProgram, printJson, runProgram } from './cli-util.js';
import { parseRelayStartFlags, type RelayStartFlags } from './config.js';
import { RelayDaemon } from './daemon.js';
import { generateKeyPair, keyFileLooseBits, readKeyFile, toHex, writeKeyFile } from './keys.js';

const PROG = 'toprelay';

async function keygen(opts: { out: string; force?: boolean; json?: boolean }): Promise<void> {
  const kp = generateKeyPair();
  writeKeyFile(opts.out, kp, { force: opts.force === true });
  if (opts.json) printJson({ event: 'keygen', file: opts.out, publicKey: toHex(kp.publicKey) });
  else process.stdout.write(`${toHex(kp.publicKey)}\n`);
}

async function start(flags: RelayStartFlags): Promise<void> {
  const cfg = parseRelayStartFlags(flags);
  const key = readKeyFile(cfg.keyFile);
  const log = createLogger('relay', { pretty: cfg.pretty, ...(cfg.logLevel ? { level: cfg.logLevel } : {}) });
  if (keyFileLooseBits(cfg.keyFile) !== 0) log.warn({ file: cfg.keyFile }, 'key file is readable by group/others; chmod 600 it');
  const daemon = new RelayDaemon(cfg, key, {
    log,
    openTun: (o) => openLinuxTun(o),
    onFatal: (err) => {
      if (cfg.json) printJson({ event: 'error', error: err.name, message: err.message, exitCode: 1 });
      log.flush();
      process.exit(1);
    },
  });

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      daemon.emergencyTeardown();
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    daemon.stop().then(
      () => {
        const pay = daemon.stats().payments;
        if (cfg.json) printJson({ event: 'stopped', signal, ...(pay ? { payments: pay } : {}) });
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.message, stack: err.stack }, 'uncaught exception; tearing down');
    daemon.emergencyTeardown();
    log.flush();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    log.fatal({ err: String(reason) }, 'unhandled rejection; tearing down');
    daemon.emergencyTeardown();
    log.flush();
    process.exit(1);
  });

  let listening;
  try {
    listening = await daemon.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'start failed');
    log.flush();
    failAndExit(PROG, err, cfg.json);
  }
  printJson(listening);
  await startRelayControl(flags, daemon, log);
}

const program = newProgram(PROG, 'run a topvpn relay (entry, middle or exit)');
program
  .command('keygen')
  .description('create a relay identity key (X25519) file, mode 0600; prints the public key')
  .requiredOption('--out <file>', 'key file to create')
  .option('--force', 'replace an existing file')
  .option('--json', 'print {"event":"keygen","file","publicKey"}')
  .action(keygen);
program
  .command('start')
  .description('run the relay in the foreground (JSON logs on stderr)')
  .requiredOption('--listen <host:port>', 'UDP address to listen on, e.g. 0.0.0.0:51820')
  .requiredOption('--key <file>', 'key file made by `keygen`')
  .option('--exit', 'act as an exit: TUN + forwarding + NAT')
  .option('--exit-pool <cidr>', 'inner addresses for clients (default 198.19.0.0/16)')
  .option('--exit-allow <cidrs>', 'extra destination networks the exit policy allows, comma-separated')
  .option('--exit-policy <file>', 'Tor-like exit policy file (accept|reject ADDR[/BITS][:PORT]) replacing the default')
  .option('--egress <iface>', 'interface to masquerade out of (default: any but the TUN)')
  .option('--dns <ip>', 'DNS resolver announced to clients')
  .option('--tun <name>', 'exit TUN name (default tvx0)')
  .option('--nft-table <name>', 'nftables table name (default topvpn_exit)')
  .option('--log-level <level>', 'trace|debug|info|warn|error (default info or $TOPVPN_LOG_LEVEL)')
  .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics (port 0 = any free port)')
  .option('--region <name>', 'operator-declared region, a metrics label (e.g. eu)')
  .option('--ws-listen <host:port>', 'also accept clients over WebSocket here (one packet per binary message)')
  .option('--ws-cert <file>', 'PEM certificate: serve wss:// (with --ws-key)')
  .option('--ws-key <file>', 'PEM private key of --ws-cert')
  .option('--chain-rpc <url>', 'paid relaying: chain node JSON-RPC URL (needs --node-key and --price-per-gib)')
  .option('--node-key <file>', 'the relay\'s chain key file (topchain keys new): signs claims, is paid')
  .option('--price-per-gib <n>', 'price in base units per GiB carried')
  .option('--claim-fee <n>', 'claim tx fee in base units (default: the chain minimum, 10000)')
  .option('--p2p-listen <maddrs>', 'discovery: publish a signed descriptor over libp2p, listening here (e.g. /ip4/0.0.0.0/tcp/4001; needs paid relaying)')
  .option('--p2p-announce <maddrs>', 'discovery: multiaddrs to announce instead of the listen addresses')
  .option('--bootstrap <maddrs>', 'discovery: peers to dial, comma-separated multiaddrs ending in /p2p/<peer id>')
  .option('--peer-key <file>', 'discovery: libp2p identity file (0600, created if absent; a stable peer id)')
  .option('--country <cc>', 'discovery: ISO 3166-1 alpha-2 country the relay is in (clients filter exits by it)')
  .option('--operator <hex>', 'discovery: operator account address (default: the node address); one operator\'s relays never share a circuit')
  .option('--family <hexes>', 'discovery: node addresses of your other relays, comma-separated')
  .option('--bandwidth <mbit>', 'discovery: advertised bandwidth in Mbit/s (default 100)')
  .option('--advertise <host:port>', 'discovery: UDP endpoint clients dial (default the --listen address)')
  .option('--descriptor-lifetime <sec>', 'discovery: how long a signed descriptor is valid (default 1800)')
  .option('--descriptor-refresh <sec>', 'discovery: re-sign and gossip this often (default 600, below the lifetime)')
  .option('--stats-interval <sec>', 'log circuit/traffic stats every SEC seconds, 0 = never (default 60)')
  .option('--pretty', 'human-readable logs')
  .option('--json', 'errors as JSON on stdout too; a {"event":"stopped"} line on stop')
  .action(start);
registerRelayCommands(program);
hardenSubcommands(program);

await runProgram(PROG, program, process.argv.slice(2));
