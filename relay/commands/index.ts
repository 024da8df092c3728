/**
 * The operator commands of `toprelay` (init, register, status, earnings, unregister, claim) and the
 * config layering of `start` (relay.yaml < $TOPRELAY_* < flags). Call after `start` exists.
 */
import type { Command } from 'commander';
import type { Logger } from '../../common/log.js';
import { RelayControlServer } from '../control.js';
import { paymentSummary, type RelayDaemon } from '../daemon.js';
import { register as claim } from './claim.js';
import { register as earnings } from './earnings.js';
import { register as init } from './init.js';
import { relayLayers, START_FILE_REQUIRES } from './layers.js';
import { register as registerCmd } from './register.js';
import { register as status } from './status.js';
import { register as unregister } from './unregister.js';

export function registerRelayCommands(program: Command): void {
  const start = program.commands.find((c) => c.name() === 'start');
  if (start) {
    start.option('--control <path>', 'serve a local control socket (0600) for `toprelay claim` / earnings');
    relayLayers(start, START_FILE_REQUIRES);
  }
  init(program);
  registerCmd(program);
  status(program);
  earnings(program);
  unregister(program);
  claim(program);
}

/** With `start --control PATH`: serves the relay's control socket (claim, earnings) until exit; a socket that cannot be opened is logged, not fatal. */
export async function startRelayControl(flags: object, daemon: RelayDaemon, log: Logger): Promise<RelayControlServer | undefined> {
  const path = (flags as { control?: unknown }).control;
  if (typeof path !== 'string' || path === '') return undefined;
  const unpaid = (): Error => new Error('this relay runs unpaid (start without --chain-rpc): nothing to claim');
  const server = new RelayControlServer(
    path,
    {
      earnings: () => {
        const p = daemon.paymentService;
        if (!p) throw unpaid();
        return paymentSummary(p);
      },
      claim: async () => {
        const p = daemon.paymentService;
        if (!p) throw unpaid();
        const before = paymentSummary(p);
        await p.tick('shutdown');
        // Claims are confirmed by later rounds: wait (≤ 30 s) until one lands or nothing is owed.
        const t0 = Date.now();
        let after = paymentSummary(p);
        while (after.claimedAmount === before.claimedAmount && after.receiptedAmount !== after.claimedAmount && Date.now() - t0 < 30_000) {
          await new Promise((r) => setTimeout(r, 1_000));
          await p.tick();
          after = paymentSummary(p);
        }
        return { before, after, waitedMs: Date.now() - t0 };
      },
    },
    log,
  );
  try {
    await server.listen();
  } catch (err) {
    // Not fatal: the relay keeps serving; only `toprelay claim` is unavailable.
    log.error({ control: path, err: (err as Error).message }, 'control socket not available');
    return undefined;
  }
  log.info({ control: path }, 'control socket listening');
  return server;
}
