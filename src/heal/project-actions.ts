/**
 * Operator actions on one project, shared by the CLI and the HTTP API: kill
 * a live project (its process tree, the trees of its session's panes, then
 * the session), audited; `reset --force`, and `fail` on a live project.
 */
import type { AgentConfig } from '../config/keys.js';
import { applyTransition, findProject } from '../core/model/apply.js';
import type { HealAction, KillSessionAction, KillTreeAction } from '../core/model/plan.js';
import { closedBreaker, iso, isActive, type Actor, type Project } from '../core/model/project.js';
import { UnknownProjectError } from '../errors.js';
import { fail, reset, validateProjectId, type FailInput, type OperationContext } from '../registry/operations.js';
import type { RegistryStore } from '../registry/store.js';
import { readStartTime } from '../scan/proc-table.js';
import { describeSocket } from '../scan/tmux-command.js';
import { scanTmuxServer } from '../scan/tmux-sessions.js';
import { executeActions, type ActionOutcome } from './execute.js';
import { killSession } from './tmux-actions.js';

export interface ProjectActionContext {
  store: RegistryStore;
  config: AgentConfig;
  now: () => number;
  by: Actor;
  /** This host: a project another host runs is never signalled from here. */
  hostId: string;
  operations: OperationContext;
}

function failure(action: HealAction, detail: string): ActionOutcome {
  return { action, outcome: 'failure', detail };
}

/**
 * The trees to kill: the recorded process (start time checked), and the
 * process of every live pane of its session, with the start time read now —
 * a window the project opened runs outside its own tree and would outlive it.
 */
async function treesOf(
  ctx: ProjectActionContext,
  project: Project,
  reason: string,
): Promise<{ trees: KillTreeAction[]; problem: string | null }> {
  const tree = (pid: number, pidStartTime: number): KillTreeAction => ({
    kind: 'kill_tree',
    project: project.id,
    pid,
    pidStartTime,
    session: null,
    tmuxSocket: project.tmuxSocket,
    reason,
  });
  const trees: KillTreeAction[] = [];
  if (project.pid !== null && project.pidStartTime !== null) trees.push(tree(project.pid, project.pidStartTime));
  if (project.session === null) return { trees, problem: null };
  const server = await scanTmuxServer(project.tmuxSocket, { timeoutMs: ctx.config.tmuxTimeoutMs });
  const where = describeSocket(project.tmuxSocket);
  if (!server.ok) return { trees, problem: `cannot read ${where}: ${server.error ?? 'failed'}` };
  for (const pane of server.sessions.get(project.session) ?? []) {
    if (pane.paneDead || pane.panePid === project.pid) continue;
    const startTime = await readStartTime(pane.panePid);
    if (startTime !== null) trees.push(tree(pane.panePid, startTime));
  }
  return { trees, problem: null };
}

/**
 * Kill a live project: its process tree and the trees of its session's panes
 * (SIGTERM, `killGraceSec`, SIGKILL; concurrently, so one grace), then the
 * session itself (exact target). A tree or session already gone is
 * `skipped`, not a failure. A project of another host is left alone (a
 * `failure` saying so): its PIDs mean nothing here.
 */
export async function killProject(
  ctx: ProjectActionContext,
  project: Project,
  reason: string,
): Promise<ActionOutcome[]> {
  const { id, tmuxSocket } = project;
  const session: KillSessionAction | null =
    project.session === null
      ? null
      : { kind: 'kill_session', project: id, session: project.session, tmuxSocket, reason };
  let outcomes: ActionOutcome[];
  if (project.host !== null && project.host !== ctx.hostId) {
    const action: HealAction = session ?? {
      kind: 'kill_tree',
      project: id,
      pid: project.pid ?? 0,
      pidStartTime: project.pidStartTime ?? 0,
      session: null,
      tmuxSocket,
      reason,
    };
    outcomes = [
      failure(
        action,
        `project "${id}" runs on host ${project.host}, not on this host (${ctx.hostId}): nothing killed here`,
      ),
    ];
  } else {
    // An orchestrator that fails its own project runs this inside the tree: when the launcher, the session's
    // first process, dies, the terminal hangs up the whole foreground group, this process included. Outlive that
    // to finish the kill and record it.
    const outliveHangup = (): void => {};
    process.on('SIGHUP', outliveHangup);
    try {
      const { trees, problem } = await treesOf(ctx, project, reason);
      outcomes = await executeActions(trees, { config: ctx.config });
      if (session && problem !== null) outcomes.push(failure(session, problem));
      else if (session) {
        const result = await killSession(tmuxSocket, session.session, { timeoutMs: ctx.config.tmuxTimeoutMs });
        outcomes.push({ action: session, ...result });
      }
    } finally {
      process.off('SIGHUP', outliveHangup);
    }
  }
  if (outcomes.length > 0) {
    await ctx.store.update((_doc, tx) => {
      for (const o of outcomes) {
        tx.audit({
          at: iso(ctx.now()),
          type: 'action',
          project: project.id,
          by: ctx.by,
          action: o.action.kind,
          outcome: o.outcome,
          detail: o.detail,
          reason,
        });
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

async function loadProject(store: RegistryStore, id: string): Promise<Project> {
  validateProjectId(id);
  const current = findProject(await store.load(), id);
  if (!current) throw new UnknownProjectError(id);
  return current;
}

/**
 * `reset` (CLI and API alike): a live project with `force` is killed first
 * (see killProject), marked failed as killed_by_operator, then put back to
 * queued; without `force` a live project is refused by the operation itself.
 */
export async function resetProject(ctx: ProjectActionContext, id: string, force: boolean): Promise<ResetResult> {
  const current = await loadProject(ctx.store, id);
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

export interface FailResult {
  /** The project as the failure recorded it. */
  project: Project;
  /** The kills of a project that was live when it failed (empty otherwise). */
  outcomes: ActionOutcome[];
}

/**
 * `fail` (CLI and API alike): the failure is recorded, and a project that was
 * live (processing, timing_out, zombie) is then killed like `reset --force`
 * kills one: its tree and its session's panes after the kill grace, then the
 * session. A failed project left running would run twice once its retry
 * launches it again. The failure is written first because the reporter may be
 * the project itself, from inside the session the kill ends (the agent never
 * signals itself or its parent; the session's end may still end it).
 */
export async function failProject(ctx: ProjectActionContext, id: string, input: FailInput): Promise<FailResult> {
  const project = await fail(ctx.operations, id, input);
  const from = project.history.at(-1)?.from;
  if (from === undefined || !isActive(from)) return { project, outcomes: [] };
  const reason = `fail by ${ctx.by}: ${project.failureReason ?? 'reported'}`;
  return { project, outcomes: await killProject(ctx, project, reason) };
}
