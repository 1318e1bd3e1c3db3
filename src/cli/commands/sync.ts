/**
 * `agent sync tmux-orchestrator --db PATH [--tmux-socket S] [--read-only]
 * [--dry-run] [--json]`: one pass of a Tmux-Orchestrator queue, then one
 * cycle like `agent heal --once` — its rows imported as `to-<rowid>`, its
 * zombies, phantoms and timeouts healed, the agent's terminal decisions
 * written back to their rows (docs/sources.md).
 *
 * Exit 2 when --db names no file (or an option is invalid), 1 when the pass
 * failed (not SQLite, locked past the busy timeout, no project_queue, missing
 * columns) or the cycle found problems, 0 otherwise.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseSources, SourceConfigIssue, type TmuxOrchestratorSourceConfig } from '../../config/sources.js';
import { InputError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { SourceSet } from '../../sources/source-set.js';
import { describeReport } from '../../sources/source.js';
import { checkDatabasePath, SqliteError } from '../../sources/sqlite-cli.js';
import { TmuxOrchestratorSource } from '../../sources/tmux-orchestrator/source.js';
import type { CliContext } from '../context.js';
import { printJson, printLine, run } from '../run.js';
import { cycle, cycleExitCode, printCycle } from './heal.js';

interface SyncOptions {
  db: string;
  tmuxSocket?: string;
  readOnly?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * The source to sync: a configured one with the same database (its name and
 * settings), else a default one, with the flags applied.
 */
async function sourceFor(ctx: CliContext, opts: SyncOptions): Promise<TmuxOrchestratorSourceConfig> {
  const db = resolve(opts.db);
  try {
    await checkDatabasePath(db);
  } catch (err) {
    if (err instanceof SqliteError && (err.failure === 'missing' || err.failure === 'not_a_file')) {
      throw new InputError(`--db ${err.message}; give the path of Tmux-Orchestrator's task_queue.db`);
    }
    throw err;
  }
  let parsed: TmuxOrchestratorSourceConfig;
  try {
    const socket = opts.tmuxSocket !== undefined ? { tmuxSocket: opts.tmuxSocket } : {};
    parsed = parseSources([{ kind: 'tmux-orchestrator', db, ...socket }])[0] as TmuxOrchestratorSourceConfig;
  } catch (err) {
    if (err instanceof SourceConfigIssue) {
      throw new InputError(`invalid --tmux-socket ${JSON.stringify(opts.tmuxSocket)}: allowed: ${err.allowed}`);
    }
    throw err;
  }
  const configured = ctx.config.sources.find(
    (s): s is TmuxOrchestratorSourceConfig => s.kind === 'tmux-orchestrator' && s.db === db,
  );
  return {
    ...(configured ?? parsed),
    ...(opts.tmuxSocket !== undefined ? { tmuxSocket: parsed.tmuxSocket } : {}),
    ...(opts.readOnly ? { readOnly: true } : {}),
  };
}

export function registerSync(program: Command): void {
  const sync = program
    .command('sync')
    .description('one pass of a queue the agent watches without its writers registering projects (docs/sources.md)');
  sync
    .command('tmux-orchestrator')
    .description("import Tmux-Orchestrator's queue (ids to-<rowid>), run one cycle, write the agent's verdicts back")
    .requiredOption('--db <path>', "Tmux-Orchestrator's task_queue.db")
    .option('--tmux-socket <socket>', 'tmux server of its sessions: a socket name (-L) or path (-S); default: default')
    .option('--read-only', 'never write to the database')
    .option('--dry-run', 'print the plan and change nothing: neither the registry nor the database')
    .option('--json', 'print one JSON document: the cycle, with sourceSync')
    .action((opts: SyncOptions, cmd: Command) =>
      run(cmd, async (ctx) => {
        const config = await sourceFor(ctx, opts);
        const source = new TmuxOrchestratorSource(config, { log: ctx.log, tmuxTimeoutMs: ctx.config.tmuxTimeoutMs });
        const set = new SourceSet([source], ctx.log, ctx.config);
        const result = await cycle(ctx, opts.dryRun === true, set);
        const report = result.sourceSync?.[0];
        if (opts.json) printJson(result);
        else printCycle(result);
        if (report && !report.ok) {
          process.stderr.write(`agent: ${describeReport(report)}\n`);
          return EXIT.problems;
        }
        if (!opts.json && report === undefined) printLine('the source was not read: the registry could not be read');
        return cycleExitCode(result);
      }),
    );
}
