/**
 * Operator actions on one project, shared by the CLI and the HTTP API:
 * kill its process tree (start time checked) and its session, audited.
 */
import type { AgentConfig } from '../config/keys.js';
import { applyTransition, findProject } from '../core/apply.js';
import type { KillTreeAction } from '../core/plan.js';
import { closedBreaker, iso, isActive, type Actor, type Project } from '../core/project.js';
import { UnknownProjectError } from '../errors.js';
import { reset, validateProjectId, type OperationContext } from '../registry/operations.js';
import type { RegistryStore } from '../registry/store.js';
import { executeActions, type ActionOutcome } from './execute.js';
import { killSession } from './tmux-actions.js';

export interface ProjectActionContext {
  store: RegistryStore;
  config: AgentConfig;
  now: () => number;
  by: Actor;
}

/** Kill a project's tree and session; a tree or session already gone is `skipped`, not a failure. */
export async function killProject(ctx: ProjectActionContext, project: Project, reason: string): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  if (project.pid !== null && project.pidStartTime !== null) {
    const action: KillTreeAction = {
      kind: 'kill_tree',
      project: project.id,
      pid: project.pid,
      pidStartTime: project.pidStartTime,
      session: project.session,
      tmuxSocket: project.tmuxSocket,
      reason,
    };
    outcomes.push(...(await executeActions([action], { config: ctx.config })));
  } else if (project.session !== null) {
    const r = await killSession(project.tmuxSocket, project.session, { timeoutMs: ctx.config.tmuxTimeoutMs });
    outcomes.push({ action: { kind: 'kill_session', project: project.id, session: project.session, tmuxSocket: project.tmuxSocket, reason }, ...r });
  }
  if (outcomes.length > 0) {
    await ctx.store.update((_doc, tx) => {
      for (const o of outcomes) {
        tx.audit({ at: iso(ctx.now()), type: 'action', project: project.id, by: ctx.by, action: o.action.kind, outcome: o.outcome, detail: o.detail, reason });
      }
    });
  }
  return outcomes;
}

export interface ResetResult {
  /** The project after the reset; null when a live project could not be killed (nothing reset). */
  project: Project | null;
  /** The kills tried on a live project (empty otherwise). */
  outcomes: ActionOutcome[];
}

/**
 * `reset` (CLI and API alike): a live project with `force` is killed first
 * (start time checked), marked failed as killed_by_operator, then put back to
 * queued; without `force` a live project is refused by the operation itself.
 */
export async function resetProject(ctx: ProjectActionContext & { operations: OperationContext }, id: string, force: boolean): Promise<ResetResult> {
  validateProjectId(id);
  const current = findProject(await ctx.store.load(), id);
  if (!current) throw new UnknownProjectError(id);
  let outcomes: ActionOutcome[] = [];
  if (isActive(current.state) && force) {
    outcomes = await killProject(ctx, current, 'reset --force by operator');
    if (outcomes.some((o) => o.outcome === 'failure')) return { project: null, outcomes };
    await ctx.store.update((doc, tx) => {
      const live = findProject(doc, id);
      if (!live || !isActive(live.state)) return;
      const r = applyTransition(doc, live, 'failed', {
        now: ctx.now(),
        by: ctx.by,
        reason: 'killed by operator (reset --force)',
        patch: { failureReason: 'killed_by_operator', breaker: closedBreaker() },
      });
      tx.audit(r.record);
    });
  }
  return { project: await reset(ctx.operations, id, { force }), outcomes };
}
