/** `agent registry check`, `agent registry repair` and `agent registry migrate`. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { countOf } from '../../core/views/wording.js';
import { PROJECT_STATES } from '../../core/model/project.js';
import { InputError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { migrateRegistry } from '../../registry/migrate.js';
import { isUrl, openOptionsOf, openStore } from '../../registry/open.js';
import type { RegistryStore } from '../../registry/store.js';
import { printJson, printLine, run } from '../run.js';

export function registerRegistry(program: Command): void {
  const registry = program
    .command('registry')
    .description('check, repair or migrate the registry (a JSON file or a Redis URL)');
  registry
    .command('check')
    .description('validate the registry; exit 0 when valid, 3 when not')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const health = await ctx.store.check();
        if (opts.json) printJson(health);
        else if (health.ok) printLine(`registry ${health.location} is valid: ${countOf(health.projects, 'project')}`);
        else {
          printLine(`registry ${health.location} is INVALID:`);
          for (const issue of health.issues) printLine(`  - ${issue}`);
          printLine(
            health.lastGood
              ? 'run "agent registry repair" to restore the last good version'
              : 'no last good copy exists; fix the file by hand',
          );
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
  registry
    .command('migrate')
    .description(
      'copy a registry between a JSON file and Redis (either way), ' +
        'then verify counts and a sha256 of the document; exit 0 when verified',
    )
    .requiredOption('--from <path|url>', 'source registry: a JSON file path or redis://host:port/db')
    .requiredOption('--to <path|url>', 'target registry: a JSON file path or redis://host:port/db')
    .option('--force', 'replace a target that already holds projects or intents')
    .option('--json', 'print one JSON document')
    .action((opts: { from: string; to: string; force?: boolean; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const open = (location: string): RegistryStore => {
          if (location.trim() === '') throw new InputError('--from and --to need a path or a redis:// URL');
          return openStore(isUrl(location) ? location : resolve(location), openOptionsOf(ctx.config));
        };
        const source = open(opts.from);
        let target: RegistryStore | null = null;
        try {
          target = open(opts.to);
          const report = await migrateRegistry(source, target, {
            force: opts.force === true,
            now: ctx.now,
            by: ctx.operations.by,
          });
          if (opts.json) printJson(report);
          else {
            const states = PROJECT_STATES.map((s) => `${s} ${report.byState.target[s]}`).join(', ');
            printLine(
              `migrated ${report.from} -> ${report.to}${report.replaced ? ' (replaced what the target held)' : ''}`,
            );
            printLine(`  projects  ${report.projects.source} -> ${report.projects.target} (${states})`);
            printLine(`  intents   ${report.intents.source} -> ${report.intents.target}`);
            printLine(`  audit     ${report.auditEntries} entries copied`);
            printLine(`  sha256    ${report.sha256.source} (source)`);
            printLine(`            ${report.sha256.target} (target)`);
            printLine(
              report.verified
                ? 'verified: counts and checksum match'
                : 'NOT VERIFIED: the target differs from the source',
            );
          }
          return report.verified ? EXIT.ok : EXIT.problems;
        } finally {
          await source.close().catch(() => undefined);
          await target?.close().catch(() => undefined);
        }
      }),
    );
}
