/**
 * Intents (docs/architecture.md#crash-safety): a destructive action or a launch is written to the
 * registry before it runs. A cycle that finds intents left by a crashed one
 * (or by a launch whose tmux timed out, so that its session may exist)
 * finishes them from what it sees now — never by repeating a kill:
 * - a kill whose target is gone gets its follow-up move applied;
 * - a kill whose target still lives is dropped: reconcile re-plans it from
 *   scratch, with a fresh start-time check;
 * - a launch whose session exists is adopted (queued → processing with the
 *   pane's PID); one whose session is missing is dropped and relaunched later.
 * A follow-up lands only on the attempt the intent was recorded for: a
 * project reset, restarted or reported since (CLI and API writes run between
 * the crash and the next cycle) is left where it is, and the intent dropped.
 * Pure: `now` is an argument; nothing is decided when the scan was unclear.
 */
import { findServer } from '../rules/liveness.js';
import type { FollowUp, HealAction, PlannedTransition } from '../model/plan.js';
import { ms, type Actor, type Project } from '../model/project.js';
import type { Intent } from '../model/registry-document.js';
import { scanIsClear, type Snapshot } from '../model/snapshot.js';
import { canTransition } from '../rules/state-machine.js';

export function intentFor(action: HealAction, id: string, at: string, by: Actor): Intent {
  return {
    id,
    project: action.project,
    action: action.kind,
    pid: action.kind === 'kill_tree' ? action.pid : null,
    pidStartTime: action.kind === 'kill_tree' ? action.pidStartTime : null,
    session: action.session,
    tmuxSocket: action.tmuxSocket,
    then: action.then ?? null,
    at,
    by,
  };
}

export interface IntentRecovery {
  /** Ids of intents settled (finished or dropped) by this recovery. */
  settled: string[];
  transitions: PlannedTransition[];
  /** One line per settled intent, for the log and the audit. */
  notes: string[];
}

/** Why the intent's follow-up must not be applied to `project` as it is now, or null when it may. */
function movedOn(project: Project, intent: Intent, then: FollowUp): string | null {
  if (!canTransition(project.state, then.to)) return `it is ${project.state} now`;
  const started = ms(project.startedAt);
  const recorded = ms(intent.at);
  if (started !== null && recorded !== null && started > recorded) return 'it was started again since';
  if (intent.action === 'kill_tree' && (project.pid !== intent.pid || project.pidStartTime !== intent.pidStartTime)) {
    return `it tracks pid ${project.pid ?? 'none'} now, not ${intent.pid}`;
  }
  if (
    intent.action === 'kill_session' &&
    (project.session !== intent.session || project.tmuxSocket !== intent.tmuxSocket)
  ) {
    return `it owns session ${project.session ?? 'none'} now, not ${intent.session}`;
  }
  return null;
}

function followUp(
  project: Project | undefined,
  intent: Intent,
  reason: string,
  notes: string[],
): PlannedTransition | null {
  const then = intent.then;
  if (!project || !then || project.state === then.to) return null;
  const why = movedOn(project, intent, then);
  if (why !== null) {
    notes.push(`intent ${intent.id}: project ${project.id} moved on (${why}); follow-up to ${then.to} not applied`);
    return null;
  }
  return {
    project: project.id,
    from: project.state,
    to: then.to,
    reason: `${then.reason} (${reason})`,
    ...(then.patch ? { patch: then.patch } : {}),
  };
}

/** Settle the intents a crashed cycle left behind, from the current snapshot. */
export function recoverIntents(
  intents: readonly Intent[],
  projects: readonly Project[],
  snapshot: Snapshot,
): IntentRecovery {
  const recovery: IntentRecovery = { settled: [], transitions: [], notes: [] };
  if (intents.length === 0 || !scanIsClear(snapshot)) return recovery;
  const byId = new Map(projects.map((p) => [p.id, p]));
  for (const intent of intents) {
    const project = intent.project === null ? undefined : byId.get(intent.project);
    const server = findServer(snapshot, intent.tmuxSocket);
    const sessionPanes = intent.session !== null && server ? server.sessions.get(intent.session) : undefined;
    recovery.settled.push(intent.id);
    // The kill's target is gone: the kill is done, and its follow-up move is due.
    const killDone = (target: string): void => {
      const t = followUp(project, intent, `finished after a restart: ${target} is gone`, recovery.notes);
      if (t) recovery.transitions.push(t);
      recovery.notes.push(`intent ${intent.id}: ${target} is gone; kill counted as done`);
    };
    switch (intent.action) {
      case 'kill_tree': {
        const proc = intent.pid === null ? undefined : snapshot.processes.byPid.get(intent.pid);
        const alive = proc !== undefined && proc.startTime === intent.pidStartTime;
        if (alive) {
          recovery.notes.push(
            `intent ${intent.id}: kill of pid ${intent.pid} interrupted and the tree still lives; re-planned`,
          );
          break;
        }
        killDone(`pid ${intent.pid}`);
        break;
      }
      case 'kill_session': {
        if (sessionPanes !== undefined) {
          recovery.notes.push(`intent ${intent.id}: session ${intent.session} still exists; re-planned`);
          break;
        }
        killDone(`session ${intent.session}`);
        break;
      }
      case 'launch': {
        const pane = sessionPanes?.find((p) => !p.paneDead) ?? sessionPanes?.[0];
        if (!project || project.state !== 'queued' || !pane) {
          recovery.notes.push(
            `intent ${intent.id}: launch of ${intent.project ?? '?'} not found running; it will be launched again`,
          );
          break;
        }
        const proc = snapshot.processes.byPid.get(pane.panePid);
        recovery.transitions.push({
          project: project.id,
          from: 'queued',
          to: 'processing',
          reason: `launched (adopted from an unfinished launch: session ${intent.session} runs pid ${pane.panePid})`,
          // The intent was recorded before tmux ran: nothing the command wrote predates it.
          patch: {
            ...intent.then?.patch,
            pid: pane.panePid,
            pidStartTime: proc?.startTime ?? null,
            session: intent.session,
            tmuxSocket: intent.tmuxSocket,
            startedAt: intent.at,
          },
        });
        recovery.notes.push(`intent ${intent.id}: launch of ${project.id} adopted`);
        break;
      }
    }
  }
  return recovery;
}
