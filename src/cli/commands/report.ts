/** What an orchestrator reports: enqueue, start, heartbeat, complete, fail. */
import { Option, type Command } from 'commander';
import { InputError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { failProject } from '../../heal/project-actions.js';
import { complete, enqueue, heartbeat, start, validateStartInput } from '../../registry/operations.js';
import { checkReportedPid } from '../../scan/reported-pid.js';
import { projectActions } from '../context.js';
import type { Project } from '../../core/model/project.js';
import { printJson, printLine, run } from '../run.js';

export function parseInteger(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value))
      throw new InputError(
        `invalid ${name} ${JSON.stringify(value.slice(0, 40))}: must be an integer from ${min} to ${max}`,
      );
    const n = Number(value);
    if (n < min || n > max) throw new InputError(`invalid ${name} ${value}: must be an integer from ${min} to ${max}`);
    return n;
  };
}

function show(project: Project, json: boolean, verb: string): void {
  if (json) printJson(project);
  else printLine(`${project.id}: ${verb} (state ${project.state})`);
}

const jsonOption = () => new Option('--json', 'print the project as one JSON document');

export function registerReportCommands(program: Command): void {
  program
    .command('enqueue')
    .description(
      'add a project to the queue; a command after -- is launched by the agent, ' +
        'without one an orchestrator reports the start',
    )
    .requiredOption('--id <id>', 'project id (letters, digits, ".", "_", "-"; 1-64)')
    .option('--name <name>', 'display name')
    .option('--session <name>', 'tmux session name (generated at launch when absent)')
    .option('--tmux-socket <socket>', 'tmux server: a socket name (-L) or an absolute socket path (-S)')
    .option('--cwd <dir>', 'working directory of the command (absolute)')
    .option('--project-dir <dir>', 'directory checked for completion markers and git commits (default: --cwd)')
    .option('--priority <n>', 'higher runs first (default 0)', parseInteger('priority', -1_000_000, 1_000_000))
    .option(
      '--max-attempts <n>',
      'attempts before it stays failed (default: retryMaxAttempts)',
      parseInteger('max attempts', 1, 1000),
    )
    .addOption(jsonOption())
    .argument('[command...]', 'the command to launch, after --')
    .action((command: string[], opts: Record<string, unknown>, cmd: Command) =>
      run(cmd, async (ctx) => {
        const project = await enqueue(ctx.operations, {
          id: opts['id'] as string,
          name: opts['name'] as string | undefined,
          session: opts['session'] as string | undefined,
          tmuxSocket: opts['tmuxSocket'] as string | undefined,
          // A command runs where the operator enqueued it unless told otherwise.
          cwd: (opts['cwd'] as string | undefined) ?? (command.length > 0 ? process.cwd() : undefined),
          projectDir: opts['projectDir'] as string | undefined,
          priority: opts['priority'] as number | undefined,
          maxAttempts: opts['maxAttempts'] as number | undefined,
          command,
        });
        show(project, opts['json'] === true, 'queued');
        // The registry is per user now, not per directory: say which one a person at a terminal just wrote.
        if (process.stderr.isTTY) process.stderr.write(`registry ${ctx.store.location}\n`);
      }),
    );

  program
    .command('start')
    .description('report that a project started: its PID (and session); the PID start time is recorded from /proc')
    .argument('<id>', 'project id')
    .requiredOption('--pid <pid>', 'PID of the orchestrating process', parseInteger('pid', 1, 4_194_304))
    .option('--session <name>', 'its tmux session')
    .option('--tmux-socket <socket>', 'its tmux server: a socket name or an absolute path')
    .addOption(jsonOption())
    .action((id: string, opts: Record<string, unknown>, cmd: Command) =>
      run(cmd, async (ctx) => {
        const pid = opts['pid'] as number;
        const tmuxSocket = opts['tmuxSocket'] as string | undefined;
        const session = opts['session'] as string | undefined;
        validateStartInput(id, { pid, session, tmuxSocket });
        const self = { pid: process.pid, what: 'this agent command' };
        const pidStartTime = await checkReportedPid(pid, { store: ctx.store, config: ctx.config, tmuxSocket, self });
        const project = await start(ctx.operations, id, {
          pid,
          pidStartTime,
          session,
          tmuxSocket,
          host: ctx.hostId,
        });
        show(project, opts['json'] === true, `started, pid ${pid}`);
      }),
    );

  program
    .command('heartbeat')
    .description('report that a project is making progress')
    .argument('<id>', 'project id')
    .addOption(jsonOption())
    .action((id: string, opts: Record<string, unknown>, cmd: Command) =>
      run(cmd, async (ctx) => show(await heartbeat(ctx.operations, id), opts['json'] === true, 'heartbeat recorded')),
    );

  program
    .command('complete')
    .description('report that a project finished successfully')
    .argument('<id>', 'project id')
    .addOption(jsonOption())
    .action((id: string, opts: Record<string, unknown>, cmd: Command) =>
      run(cmd, async (ctx) => show(await complete(ctx.operations, id), opts['json'] === true, 'completed')),
    );

  program
    .command('fail')
    .description(
      'report that a project failed; a live one is then killed (its tree and session, after the kill grace); ' +
        'retried with backoff unless --no-retry',
    )
    .argument('<id>', 'project id')
    .option('--reason <reason>', 'why (letters, digits, spaces, ._:/-)', 'reported')
    .option('--no-retry', 'never retry this failure')
    .addOption(jsonOption())
    .action((id: string, opts: Record<string, unknown>, cmd: Command) =>
      run(cmd, async (ctx) => {
        const json = opts['json'] === true;
        const input = { reason: opts['reason'] as string, noRetry: opts['retry'] === false };
        const { project, outcomes } = await failProject(projectActions(ctx), id, input);
        if (!json) {
          show(project, false, 'failed');
          const grace = `grace ${ctx.config.killGraceSec}s`;
          if (outcomes.length > 0)
            printLine(`${project.id} was live: its process tree and session were killed (${grace})`);
          for (const o of outcomes) printLine(`${o.action.kind}: ${o.outcome}: ${o.detail}`);
        } else show(project, true, 'failed');
        return outcomes.some((o) => o.outcome === 'failure') ? EXIT.problems : EXIT.ok;
      }),
    );
}
