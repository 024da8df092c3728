/**
 * Shared CLI plumbing for `toprelay` and `topvpn`: exit codes, error classification and
 * `--json` output. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
 */
import { Command, CommanderError } from 'commander';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Error classes whose message is a usage/configuration problem the user can fix (exit 2). */
const USAGE_ERRORS = new Set(['ConfigError', 'KeyFileError', 'AddressError', 'RelayListError', 'UsageError', 'DnsSafetyError']);

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (err instanceof Error && USAGE_ERRORS.has(err.name)) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** True when `--json` appears among the arguments (also before commander has parsed them). */
export function argvWantsJson(argv: string[]): boolean {
  return argv.includes('--json');
}

export function printJson(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

/** Reports `err` (JSON on stdout with --json, a message on stderr always) and exits with its code. */
export function failAndExit(prog: string, err: unknown, json: boolean): never {
  const code = exitCodeFor(err);
  let message = err instanceof Error ? err.message.replace(/^error: /, '') : String(err);
  if (err instanceof CommanderError && err.code === 'commander.help') message = 'a command is required (see --help)';
  const kind = err instanceof CommanderError ? 'UsageError' : err instanceof Error ? err.name : 'Error';
  if (json) printJson({ event: 'error', error: kind, message, exitCode: code });
  process.stderr.write(`${prog}: ${message}\n`);
  process.exit(code);
}

/** A commander program configured to throw instead of exiting, with errors reported by failAndExit. */
export function newProgram(name: string, description: string): Command {
  const program = new Command(name);
  program.description(description).exitOverride().showSuggestionAfterError(true);
  program.configureOutput({
    // commander's own messages: suppress its error line (failAndExit prints one); keep help.
    writeErr: (s) => {
      if (!s.startsWith('error:')) process.stderr.write(s);
    },
  });
  return program;
}

/** Applies exitOverride/configureOutput to every subcommand (commander does not inherit them). */
export function hardenSubcommands(program: Command): void {
  for (const c of program.commands) {
    c.exitOverride();
    c.configureOutput({
      writeErr: (s) => {
        if (!s.startsWith('error:')) process.stderr.write(s);
      },
    });
  }
}

/** Runs a parsed program; maps thrown errors to exit codes. Help/version exit 0. */
export async function runProgram(prog: string, program: Command, argv: string[]): Promise<void> {
  const json = argvWantsJson(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) process.exit(EXIT_OK);
    failAndExit(prog, err, json);
  }
}
