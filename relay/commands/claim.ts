/**
 * `toprelay claim [--control PATH] [--json]`
 * Asks the running paid relay (started with --control PATH) to claim now every channel that
 * owes it anything (not only those past the claim threshold), waits for the round, and prints
 * claimed/receipted totals before and after. Exit 1 when the relay is not reachable or unpaid.
 */
import type { Command } from 'commander';
import { printJson, UsageError } from '../cli-util.js';
import { relayControlRequest, RelayControlError } from '../control.js';
import { formatTop } from './amount.js';
import { relayLayers } from './layers.js';

interface ClaimOpts {
  control?: string;
  json?: boolean;
}

export interface ClaimResult {
  before: Record<string, string | number>;
  after: Record<string, string | number>;
}

async function run(o: ClaimOpts): Promise<void> {
  if (o.control === undefined || o.control === '') throw new UsageError('--control PATH is required (the relay\'s start --control socket; set it in relay.yaml)');
  const r = await relayControlRequest(o.control, 'claim');
  if (!r.ok) throw new RelayControlError(r.error);
  const res = r.result as ClaimResult;
  const claimed = BigInt(String(res.after.claimedAmount)) - BigInt(String(res.before.claimedAmount));
  if (o.json) {
    printJson({ event: 'claimed', newlyClaimed: claimed.toString(), ...res });
    return;
  }
  process.stdout.write(
    [
      `claimed now:   ${formatTop(claimed)} TOP (before burn and fees)`,
      `claimed total: ${formatTop(BigInt(String(res.after.claimedAmount)))} TOP of ${formatTop(BigInt(String(res.after.receiptedAmount)))} TOP receipted; burned ${formatTop(BigInt(String(res.after.burned)))} TOP, fees ${formatTop(BigInt(String(res.after.fees)))} TOP`,
      `claims confirmed: ${res.after.claimsConfirmed}`,
      '',
    ].join('\n'),
  );
}

export function register(program: Command): void {
  relayLayers(
    program
      .command('claim')
      .description('claim now everything the running relay is owed (needs start --control)')
      .option('--control <path>', "the relay's control socket (start --control)")
      .option('--json', 'print one JSON object'),
  ).action(run);
}
