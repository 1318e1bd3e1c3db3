/** `agent registry check` and `agent registry repair`. */
import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { printJson, printLine, run } from '../run.js';

export function registerRegistry(program: Command): void {
  const registry = program.command('registry').description('check or repair the registry file');
  registry
    .command('check')
    .description('validate the registry; exit 0 when valid, 3 when not')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const health = await ctx.store.check();
        if (opts.json) printJson(health);
        else if (health.ok) printLine(`registry ${health.location} is valid: ${health.projects} projects`);
        else {
          printLine(`registry ${health.location} is INVALID:`);
          for (const issue of health.issues) printLine(`  - ${issue}`);
          printLine(health.lastGood ? 'run "agent registry repair" to restore the last good version' : 'no last good copy exists; fix the file by hand');
        }
        return health.ok ? EXIT.ok : EXIT.registryUnreadable;
      }),
    );
  registry
    .command('repair')
    .description('restore the last good version of an invalid registry (the invalid file is kept as a .corrupt- copy)')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const result = await ctx.store.repair();
        if (opts.json) printJson(result);
        else printLine(result.detail);
      }),
    );
}
