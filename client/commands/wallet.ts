/**
 * `topvpn wallet create|import|address|balance`: the payer key, encrypted at rest.
 *   wallet create  [--wallet FILE] [--password-file F] [--json]
 *   wallet import  [--wallet FILE] [--secret-file F] [--password-file F] [--json]   (secret: 64 hex chars; file, else stdin)
 *   wallet address [--wallet FILE] [--json]                                           (no password needed)
 *   wallet balance [--wallet FILE] --chain-rpc URL [--json]                           (account_get)
 * Wallet default: $XDG_CONFIG_HOME/topvpn/wallet.json. Passwords: see password.ts.
 * Exit codes: missing/existing wallet file, bad secret, no password source → 2; wrong password,
 * corrupt file, unreachable chain → 1.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { rpcCall } from '../../chain/node/rpc-client.js';
import { printJson, UsageError } from '../../relay/cli-util.js';
import { formatTop, guardFetch, parseRpcUrl } from '../../relay/commands/amount.js';
import { createWallet, importWallet, readAddress } from '../wallet/keystore.js';
import { resolveWalletPath } from '../wallet/paths.js';
import { readPassword } from './password.js';

interface WalletOpts {
  wallet?: string;
  passwordFile?: string;
  secretFile?: string;
  chainRpc?: string;
  json?: boolean;
}

/** Wallet errors the user fixes by changing the command (exit 2) become UsageErrors. */
export function asUsage(err: unknown): unknown {
  if (err instanceof Error && ['WalletNotFoundError', 'WalletExistsError', 'WalletInputError'].includes(err.name)) return new UsageError(err.message);
  return err;
}

async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await guardFetch(fn)();
  } catch (err) {
    throw asUsage(err);
  }
}

function refuseExisting(path: string): void {
  if (existsSync(path)) throw new UsageError(`${path} already exists (move it away first: it holds a key)`);
}

function readSecret(o: WalletOpts): string {
  if (o.secretFile === undefined && process.stdin.isTTY) throw new UsageError('wallet import: give the secret with --secret-file FILE or on stdin (never as an argument)');
  try {
    return (readFileSync(o.secretFile ?? 0, 'utf8').split('\n')[0] ?? '').trim();
  } catch (err) {
    throw new UsageError(`${o.secretFile !== undefined ? `--secret-file ${o.secretFile}` : 'stdin'}: cannot read the secret: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function register(program: Command): void {
  const w = program.command('wallet').description('the payer wallet (Ed25519 key encrypted with scrypt + XChaCha20-Poly1305)');
  const common = (c: Command): Command => c.option('--wallet <file>', 'wallet file (default $XDG_CONFIG_HOME/topvpn/wallet.json)').option('--json', 'print one JSON object');

  common(w.command('create').description('create a new wallet; prints its address'))
    .option('--password-file <file>', 'read the password from the first line of FILE (else $TOPVPN_WALLET_PASSWORD, else a prompt)')
    .action((o: WalletOpts) =>
      guarded(async () => {
        const path = resolveWalletPath(o.wallet);
        refuseExisting(path);
        const password = await readPassword({ ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}), prompt: 'new wallet password: ', confirm: true });
        if (password.length === 0) throw new UsageError('the wallet password must not be empty');
        const address = await createWallet(path, password);
        if (o.json) printJson({ event: 'wallet-created', file: path, address });
        else process.stdout.write(`created ${path}\naddress ${address}\n`);
      }),
    );

  common(w.command('import').description('encrypt an existing Ed25519 seed (64 hex chars) into a new wallet'))
    .option('--secret-file <file>', 'file whose first line is the seed (else stdin)')
    .option('--password-file <file>', 'read the password from the first line of FILE (else $TOPVPN_WALLET_PASSWORD, else a prompt)')
    .action((o: WalletOpts) =>
      guarded(async () => {
        const path = resolveWalletPath(o.wallet);
        refuseExisting(path);
        const secret = readSecret(o);
        const password = await readPassword({ ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}), prompt: 'new wallet password: ', confirm: true });
        if (password.length === 0) throw new UsageError('the wallet password must not be empty');
        const address = await importWallet(path, secret, password);
        if (o.json) printJson({ event: 'wallet-imported', file: path, address });
        else process.stdout.write(`imported into ${path}\naddress ${address}\n`);
      }),
    );

  common(w.command('address').description("print the wallet's address (no password needed)")).action((o: WalletOpts) =>
    guarded(async () => {
      const path = resolveWalletPath(o.wallet);
      const address = readAddress(path);
      if (o.json) printJson({ event: 'wallet-address', file: path, address });
      else process.stdout.write(`${address}\n`);
    }),
  );

  common(w.command('balance').description("the wallet's balance and nonce on chain (account_get)"))
    .option('--chain-rpc <url>', 'chain node JSON-RPC URL (or $TOPVPN_CHAIN_RPC)')
    .action((o: WalletOpts) =>
      guarded(async () => {
        const path = resolveWalletPath(o.wallet);
        const url = parseRpcUrl('--chain-rpc', o.chainRpc ?? process.env.TOPVPN_CHAIN_RPC);
        const address = readAddress(path);
        const a = await rpcCall<{ balance: string; nonce: number; chain: string; height?: number }>(url, 'account_get', [address]);
        if (o.json) printJson({ event: 'wallet-balance', address, balance: a.balance, balanceTop: formatTop(BigInt(a.balance)), nonce: a.nonce, chain: a.chain, ...(a.height !== undefined ? { height: a.height } : {}) });
        else process.stdout.write(`${formatTop(BigInt(a.balance))} TOP  (address ${address}, nonce ${a.nonce}, ${a.chain})\n`);
      }),
    );
}
