/**
 * Operator actions on one project, shared by the CLI and the HTTP API:
 * kill its process tree (start time checked) and its session, audited.
 */
import type { AgentConfig } from '../config/keys.js';
import type { KillTreeAction } from '../core/plan.js';
import { iso, type Actor, type Project } from '../core/project.js';
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
