/** Recovery commands that act on one project: `kill-zombie <id>` and `reset <id> [--force]`. */
import type { Command } from 'commander';
import { applyTransition, findProject } from '../../core/model/apply.js';
import { livenessOf } from '../../core/rules/liveness.js';
import type { Project } from '../../core/model/project.js';
import { ConflictError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import type { ActionOutcome } from '../../heal/execute.js';
import { killProject, resetProject } from '../../heal/project-actions.js';
import { validateProjectId } from '../../registry/operations.js';
import { scan } from '../../scan/scanner.js';
import { UnknownProjectError } from '../../errors.js';
import { printJson, printLine, run } from '../run.js';
import { projectActions, type CliContext } from '../context.js';
import { describePause, RESUME_HINT } from './queue.js';

async function loadProject(ctx: CliContext, id: string): Promise<Project> {
  validateProjectId(id);
  const project = findProject(await ctx.store.load(), id);
  if (!project) throw new UnknownProjectError(id);
  return project;
}

function report(outcomes: ActionOutcome[], json: boolean, extra: Record<string, unknown>): void {
  if (json)
    printJson({
      ...extra,
      actions: outcomes.map((o) => ({
        project: o.action.project,
        action: o.action.kind,
        outcome: o.outcome,
        detail: o.detail,
      })),
    });
  else for (const o of outcomes) printLine(`${o.action.kind}: ${o.outcome}: ${o.detail}`);
}

export function registerRecovery(program: Command): void {
  program
    .command('kill-zombie')
    .description("kill a zombie's process tree (process alive, session gone) and mark it failed")
    .argument('<id>', 'project id')
    .option('--json', 'print one JSON document')
    .action((id: string, opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const project = await loadProject(ctx, id);
        if (project.state !== 'zombie' && project.state !== 'processing') {
          throw new ConflictError(
            `project "${id}" is ${project.state}, not a zombie; "agent list-stuck" shows the zombies`,
          );
        }
        const snapshot = await scan({ sockets: [project.tmuxSocket], tmuxTimeoutMs: ctx.config.tmuxTimeoutMs });
        const failed = snapshot.sources.filter((s) => s.source !== 'usage' && !s.ok);
        if (failed.length > 0)
          throw new ConflictError(
            `cannot see clearly, nothing killed: ${failed.map((s) => `${s.source}: ${s.error}`).join('; ')}`,
          );
        const l = livenessOf(project, snapshot);
        if (!l.zombie && project.state !== 'zombie') {
          const why = l.alive ? `its session ${project.session ?? '-'} is live` : 'its process is not alive';
          throw new ConflictError(`project "${id}" is not a zombie: ${why}; "agent list-stuck" shows the zombies`);
        }
        const outcomes = await killProject(projectActions(ctx), project, 'kill-zombie by operator');
        const killed = outcomes.every((o) => o.outcome !== 'failure');
        if (!killed) {
          report(outcomes, opts.json === true, { project: id, state: project.state });
          return EXIT.problems;
        }
        const next = await ctx.store.update((doc, tx) => {
          let current = findProject(doc, id);
          if (!current) throw new UnknownProjectError(id);
          const now = ctx.now();
          // A running daemon may have recorded the end of the tree between our kill and this write.
          if (current.state === 'failed') return current;
          if (current.state === 'processing') {
            const r = applyTransition(doc, current, 'zombie', {
              now,
              by: ctx.operations.by,
              reason: 'zombie (confirmed by kill-zombie)',
            });
            tx.audit(r.record);
            current = r.project;
          }
          const r = applyTransition(
            doc,
            current,
            'failed',
            {
              now,
              by: ctx.operations.by,
              reason: 'zombie: process tree killed by operator',
              patch: { failureReason: 'zombie' },
            },
            ctx.operations.onEnter,
          );
          tx.audit(r.record);
          return r.project;
        });
        report(outcomes, opts.json === true, { project: id, state: next.state });
        if (!opts.json) printLine(`${id}: failed (zombie killed)`);
        return EXIT.ok;
      }),
    );

  program
    .command('reset')
    .description(
      'put a project back to queued (attempts and breaker reset); ' +
        '--force re-runs a completed project, or kills a live one first',
    )
    .argument('<id>', 'project id')
    .option('--force', 'kill a live project first, or re-run a completed one')
    .option('--json', 'print the project as one JSON document')
    .action((id: string, opts: { force?: boolean; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { project: next, outcomes } = await resetProject(projectActions(ctx), id, opts.force === true);
        if (!next) {
          report(outcomes, opts.json === true, { project: id });
          return EXIT.problems;
        }
        if (!opts.json) for (const o of outcomes) printLine(`${o.action.kind}: ${o.outcome}: ${o.detail}`);
        if (opts.json) printJson(next);
        else {
          printLine(`${next.id}: reset to queued (attempts 0, breaker closed)`);
          const pause = describePause((await ctx.store.load()).queue, ctx.now());
          if (pause !== null) printLine(`queue paused ${pause}: ${next.id} waits until then; ${RESUME_HINT}`);
        }
        return EXIT.ok;
      }),
    );
}
