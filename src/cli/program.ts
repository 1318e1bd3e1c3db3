/** The `agent` command line: the commander program and its runner. */
import { Command, CommanderError, Option } from 'commander';
import { messageOf } from '../errors.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { registerRegistry } from './commands/registry.js';
import { registerReportCommands } from './commands/report.js';
import { registerHeal } from './commands/heal.js';
import { registerDemo } from './commands/demo.js';
import { registerDiagnostics } from './commands/diagnostics.js';
import { registerQueue } from './commands/queue.js';
import { registerRecovery } from './commands/recovery.js';
import { registerServe } from './commands/serve.js';
import { registerStatus } from './commands/status.js';
import { registerSync } from './commands/sync.js';
import { packageVersion } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('agent')
    .description('tmux-orchestrator-agent: keeps a queue of tmux-hosted AI-agent projects healthy')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'YAML or JSON config file (see config/default.yaml)')
    .option(
      '-r, --registry <path|url>',
      'registry: a JSON file (default $XDG_STATE_HOME/tmux-orchestrator-agent/registry.json, ' +
        '~/.local/state/... without it) or redis://host:port/db (env AGENT_REGISTRY)',
    )
    .addOption(
      new Option(
        '--log-level <level>',
        'log level (env LOG_LEVEL; default info for serve, warn for other commands)',
      ).choices(['error', 'warn', 'info', 'debug']),
    )
    .option(
      '--set <key=value>',
      'set any config key, e.g. --set maxConcurrent=2 (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .showHelpAfterError('(run "agent --help" for usage)')
    .exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerReportCommands(program);
  registerStatus(program);
  registerHeal(program);
  registerRecovery(program);
  registerQueue(program);
  registerServe(program);
  registerDiagnostics(program);
  registerRegistry(program);
  registerDemo(program);
  registerSync(program);
  for (const sub of program.commands) sub.exitOverride();
  for (const sub of program.commands.flatMap((c) => c.commands)) sub.exitOverride();
  return program;
}

/** Parse and run one command line; sets process.exitCode. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
      process.exitCode = benign ? EXIT.ok : EXIT.usage;
      return;
    }
    // Argument parsers throw InputError; the message has not been printed yet.
    process.stderr.write(`agent: ${messageOf(err)}\n`);
    process.exitCode = exitCodeOf(err) === EXIT.problems ? EXIT.usage : exitCodeOf(err);
  }
}
