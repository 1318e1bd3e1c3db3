/** `agent reset <id> [--force]`: back to queued with attempts and breaker reset. */
import type { Command } from 'commander';
import { reset } from '../../registry/operations.js';
import { printJson, printLine, run } from '../run.js';

export function registerReset(program: Command): void {
  program
    .command('reset')
    .description('put a project back to queued (attempts and breaker reset); a completed one needs --force')
    .argument('<id>', 'project id')
    .option('--force', 're-run a completed project')
    .option('--json', 'print the project as one JSON document')
    .action((id: string, opts: { force?: boolean; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const project = await reset(ctx.operations, id, { force: opts.force === true });
        if (opts.json) printJson(project);
        else printLine(`${project.id}: reset to queued (attempts 0, breaker closed)`);
      }),
    );
}
